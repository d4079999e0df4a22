import Foundation

/// Naive causal multi-head attention in Double: grouped-query heads, sliding window, key padding mask,
/// soft-cap, and KV-cache geometry (`queryLength < keyLength`: the queries are the last positions).
///
/// Layouts follow the kernels: q `[batch·queryLength, heads·headDim]`, k and v
/// `[batch·keyLength, kvHeads·headDim]`, probabilities and scores `[batch, heads, queryLength, keyLength]`,
/// z `[batch·queryLength, heads·headDim]` (heads concatenated in head order). Query head h reads KV head
/// `h / (heads / kvHeads)`, as HF `repeat_kv` (each KV head repeated for consecutive query heads).
extension Reference {
    /// Scores, pattern and output of one reference attention call.
    public struct AttentionResult: Sendable {
        /// `[B, H, Tq, Tk]`: scale·q·k, soft-capped when a cap is set, −∞ where the key is invisible.
        public var scores: [Double]
        /// `[B, H, Tq, Tk]`: softmax of each score row over its visible keys; all zeros for a row with none.
        public var probs: [Double]
        /// `[B·Tq, H·D]`: Σ_j probs[b, h, i, j] · v[b, j, kvHead(h), :].
        public var z: [Double]
    }

    /// Whether key `j` of sequence `b` is visible to query row `i`. The query sits at absolute position
    /// p = keyLength − queryLength + i; the key is visible iff j ≤ p (causal), p − j < window (when a window is
    /// set: the query and the window − 1 keys before it), and keyMask[b·keyLength + j] is true (not padding).
    public static func attentionVisible(query i: Int, key j: Int, batch b: Int, keyMask: [Bool]?,
                                        geometry g: AttentionGeometry) -> Bool {
        let position = g.keyLength - g.queryLength + i
        let causal = j <= position
        let inWindow = g.window.map { position - j < $0 } ?? true
        let notPadding = keyMask?[b * g.keyLength + j] ?? true
        return causal && inWindow && notPadding
    }

    private static func qIndex(_ b: Int, _ i: Int, _ h: Int, _ d: Int, _ g: AttentionGeometry) -> Int {
        ((b * g.queryLength + i) * g.heads + h) * g.headDim + d
    }

    private static func kvIndex(_ b: Int, _ j: Int, _ kvh: Int, _ d: Int, _ g: AttentionGeometry) -> Int {
        ((b * g.keyLength + j) * g.kvHeads + kvh) * g.headDim + d
    }

    private static func pIndex(_ b: Int, _ h: Int, _ i: Int, _ j: Int, _ g: AttentionGeometry) -> Int {
        ((b * g.heads + h) * g.queryLength + i) * g.keyLength + j
    }

    private static func kvHead(_ h: Int, _ g: AttentionGeometry) -> Int { h / (g.heads / g.kvHeads) }

    /// scale · q_i · k_j for every (b, h, i, j), before soft-cap and mask.
    private static func rawScores(q: [Double], k: [Double], g: AttentionGeometry) -> [Double] {
        var raw = [Double](repeating: 0, count: g.batch * g.heads * g.queryLength * g.keyLength)
        for b in 0..<g.batch { for h in 0..<g.heads { for i in 0..<g.queryLength { for j in 0..<g.keyLength {
            var dot = 0.0
            for d in 0..<g.headDim { dot += q[qIndex(b, i, h, d, g)] * k[kvIndex(b, j, kvHead(h, g), d, g)] }
            raw[pIndex(b, h, i, j, g)] = Double(g.scale) * dot
        } } } }
        return raw
    }

    /// The attention pattern: scores (scale·q·kᵀ, then cap·tanh(·/cap) when `g.softcap` is set, −∞ where
    /// invisible) and their row softmax over visible keys. Matches `torch.softmax(scores.masked_fill(~mask,
    /// -inf), -1)` of HF eager attention (GPT-2, Llama, Gemma 2 with `attn_logit_softcapping`), except that a
    /// row with no visible key is defined as all zeros (PyTorch would give NaN), as the kernel documents.
    public static func attentionProbs(q: [Double], k: [Double], keyMask: [Bool]?, geometry g: AttentionGeometry)
        -> (scores: [Double], probs: [Double]) {
        precondition(q.count == g.batch * g.queryLength * g.heads * g.headDim
                     && k.count == g.batch * g.keyLength * g.kvHeads * g.headDim, "Reference.attentionProbs: sizes")
        var scores = rawScores(q: q, k: k, g: g)
        var probs = [Double](repeating: 0, count: scores.count)
        for b in 0..<g.batch { for h in 0..<g.heads { for i in 0..<g.queryLength {
            for j in 0..<g.keyLength {
                let e = pIndex(b, h, i, j, g)
                if !attentionVisible(query: i, key: j, batch: b, keyMask: keyMask, geometry: g) {
                    scores[e] = -.infinity
                } else if let cap = g.softcap {
                    scores[e] = Double(cap) * Foundation.tanh(scores[e] / Double(cap))
                }
            }
            let row = (0..<g.keyLength).map { scores[pIndex(b, h, i, $0, g)] }
            let m = row.max() ?? -.infinity
            if m == -.infinity { continue }                      // no visible key: the row stays zero
            let total = row.reduce(0.0) { $0 + Foundation.exp($1 - m) }
            for j in 0..<g.keyLength { probs[pIndex(b, h, i, j, g)] = Foundation.exp(row[j] - m) / total }
        } } }
        return (scores, probs)
    }

    /// z[b·Tq + i, h·D + d] = Σ_j probs[b, h, i, j] · v[b·Tk + j, kvHead(h)·D + d] (`probs @ repeat_kv(v)`,
    /// TransformerLens `hook_z`).
    public static func attentionApply(probs: [Double], v: [Double], geometry g: AttentionGeometry) -> [Double] {
        precondition(probs.count == g.batch * g.heads * g.queryLength * g.keyLength
                     && v.count == g.batch * g.keyLength * g.kvHeads * g.headDim, "Reference.attentionApply: sizes")
        var z = [Double](repeating: 0, count: g.batch * g.queryLength * g.heads * g.headDim)
        for b in 0..<g.batch { for h in 0..<g.heads { for i in 0..<g.queryLength { for d in 0..<g.headDim {
            var s = 0.0
            for j in 0..<g.keyLength { s += probs[pIndex(b, h, i, j, g)] * v[kvIndex(b, j, kvHead(h, g), d, g)] }
            z[qIndex(b, i, h, d, g)] = s
        } } } }
        return z
    }

    /// The whole forward: pattern, then z.
    public static func attention(q: [Double], k: [Double], v: [Double], keyMask: [Bool]?,
                                 geometry g: AttentionGeometry) -> AttentionResult {
        let (scores, probs) = attentionProbs(q: q, k: k, keyMask: keyMask, geometry: g)
        return AttentionResult(scores: scores, probs: probs, z: attentionApply(probs: probs, v: v, geometry: g))
    }

    // MARK: Backward

    /// Gradients of `attentionApply` (probs treated as a free input): dProbs[b, h, i, j] = Σ_d dZ[b, i, h, d]·v[b, j,
    /// kvHead(h), d], and dv[b, j, kvh, d] = Σ over the query heads h of group kvh and rows i of probs·dZ.
    public static func attentionApplyBackward(dZ: [Double], probs: [Double], v: [Double], geometry g: AttentionGeometry)
        -> (dProbs: [Double], dv: [Double]) {
        var dProbs = [Double](repeating: 0, count: probs.count), dv = [Double](repeating: 0, count: v.count)
        for b in 0..<g.batch { for h in 0..<g.heads { for i in 0..<g.queryLength { for j in 0..<g.keyLength {
            let p = pIndex(b, h, i, j, g)
            for d in 0..<g.headDim {
                let dz = dZ[qIndex(b, i, h, d, g)], kv = kvIndex(b, j, kvHead(h, g), d, g)
                dProbs[p] += dz * v[kv]
                dv[kv] += probs[p] * dz
            }
        } } } }
        return (dProbs, dv)
    }

    /// Gradients of `Σ probs ⊙ dProbs` (from `attentionProbs`) with respect to q and k, by the chain rule from the
    /// definition: the softmax Jacobian ∂P_j/∂s_l = P_j(δ_jl − P_l) over the row; the soft-cap derivative
    /// d[cap·tanh(r/cap)]/dr = 1 − tanh²(r/cap); and raw = scale·q·k, so dq_i = scale·Σ_j dRaw_ij·k_j and
    /// dk_j = scale·Σ_{h in group, i} dRaw_ij·q_i. Invisible keys have P = 0 and get no gradient.
    public static func attentionProbsBackward(dProbs: [Double], q: [Double], k: [Double], keyMask: [Bool]?,
                                              geometry g: AttentionGeometry) -> (dq: [Double], dk: [Double]) {
        let raw = rawScores(q: q, k: k, g: g)
        let probs = attentionProbs(q: q, k: k, keyMask: keyMask, geometry: g).probs
        var dq = [Double](repeating: 0, count: q.count), dk = [Double](repeating: 0, count: k.count)
        let scale = Double(g.scale)
        for b in 0..<g.batch { for h in 0..<g.heads { for i in 0..<g.queryLength {
            for l in 0..<g.keyLength {
                // dL/ds_l = Σ_j dP_j · P_j · (δ_jl − P_l)
                var dS = 0.0
                for j in 0..<g.keyLength {
                    let pj = probs[pIndex(b, h, i, j, g)], pl = probs[pIndex(b, h, i, l, g)]
                    dS += dProbs[pIndex(b, h, i, j, g)] * pj * ((j == l ? 1 : 0) - pl)
                }
                var dRaw = dS
                if let cap = g.softcap {
                    let t = Foundation.tanh(raw[pIndex(b, h, i, l, g)] / Double(cap))
                    dRaw *= 1 - t * t
                }
                if dRaw == 0 { continue }
                for d in 0..<g.headDim {
                    dq[qIndex(b, i, h, d, g)] += scale * dRaw * k[kvIndex(b, l, kvHead(h, g), d, g)]
                    dk[kvIndex(b, l, kvHead(h, g), d, g)] += scale * dRaw * q[qIndex(b, i, h, d, g)]
                }
            }
        } } }
        return (dq, dk)
    }

    /// Gradients of `Σ z ⊙ dZ` of the whole forward with respect to q, k and v (`torch.autograd` through HF eager
    /// attention, for rows that see at least one key).
    public static func attentionBackward(dZ: [Double], q: [Double], k: [Double], v: [Double], keyMask: [Bool]?,
                                         geometry g: AttentionGeometry) -> (dq: [Double], dk: [Double], dv: [Double]) {
        let probs = attentionProbs(q: q, k: k, keyMask: keyMask, geometry: g).probs
        let (dProbs, dv) = attentionApplyBackward(dZ: dZ, probs: probs, v: v, geometry: g)
        let (dq, dk) = attentionProbsBackward(dProbs: dProbs, q: q, k: k, keyMask: keyMask, geometry: g)
        return (dq, dk, dv)
    }
}
