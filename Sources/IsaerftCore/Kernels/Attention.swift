import CKernels

/// Sizes and options of one causal self-attention call.
///
/// Rows of q are `[batch · queryLength, heads · headDim]`, rows of k and v are
/// `[batch · keyLength, kvHeads · headDim]`; the queries are the last `queryLength` positions of the
/// keys (`queryLength == keyLength` for a full pass, 1 for a KV-cache decode step). Query head `h`
/// reads KV head `h / (heads / kvHeads)` (consecutive groups, as HF `repeat_kv`).
public struct AttentionGeometry: Sendable, Equatable {
    public var batch: Int
    public var queryLength: Int
    public var keyLength: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// Multiplies q·k (1/√headDim for GPT-2 and Llama; queryPreAttnScalar^(−1/2) for Gemma).
    public var scale: Float
    /// Key j is visible to a query at absolute position i iff 0 ≤ i − j < window (nil: no limit).
    public var window: Int?
    /// Gemma 2: scores become cap·tanh(scores/cap) before masking (nil: off).
    public var softcap: Float?

    public init(batch: Int, queryLength: Int, keyLength: Int? = nil, heads: Int, kvHeads: Int? = nil,
                headDim: Int, scale: Float? = nil, window: Int? = nil, softcap: Float? = nil) {
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength ?? queryLength
        self.heads = heads; self.kvHeads = kvHeads ?? heads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
        self.window = window; self.softcap = softcap
        precondition(self.keyLength >= queryLength && heads % self.kvHeads == 0, "AttentionGeometry: \(self)")
    }

    var group: Int { heads / kvHeads }
    var queryOffset: Int { keyLength - queryLength }
    /// Shape of the probability (pattern) tensor: `[batch, heads, queryLength, keyLength]`.
    public var probsShape: [Int] { [batch, heads, queryLength, keyLength] }

    /// Whether key `j` is visible to query row `i` of sequence `b` (causal, window, padding).
    @inlinable
    func visible(_ i: Int, _ j: Int, _ b: Int, _ keyMask: [Bool]?) -> Bool {
        let qi = keyLength - queryLength + i
        if j > qi { return false }
        if let window, qi - j >= window { return false }
        if let keyMask, !keyMask[b * keyLength + j] { return false }
        return true
    }
}

// MARK: - Forward

/// Attention pattern: probs[b, h, i, :] = softmax over visible keys of scale·q_i·k_j (soft-capped if set);
/// invisible keys get 0, and a query with no visible key gets an all-zero row.
/// Matches HF eager attention (GPT-2, Llama, Gemma) and TransformerLens `hook_pattern`.
/// - Parameters:
///   - keyMask: `[batch · keyLength]`, false for padding (nil: all real).
///   - scores: when non-nil, filled with the pre-softmax scores `[B, H, Tq, Tk]` with −∞ where
///     masked (TransformerLens `hook_attn_scores`).
public func attentionProbsForward(probs: inout Tensor, scores: inout Tensor?, q: Tensor, k: Tensor,
                                  keyMask: [Bool]?, geometry g: AttentionGeometry) {
    let (B, Tq, Tk, H, Hk, D) = (g.batch, g.queryLength, g.keyLength, g.heads, g.kvHeads, g.headDim)
    precondition(q.count == B * Tq * H * D && k.count == B * Tk * Hk * D && probs.count == B * H * Tq * Tk,
                 "attentionProbsForward: q \(q.shape), k \(k.shape), probs \(probs.shape) for \(g)")
    let wantScores = scores != nil
    if wantScores && scores!.count != probs.count { scores = Tensor(shape: g.probsShape) }
    let ldbt = paddedKeys(Tk)
    let plainCausal = keyMask == nil && g.window == nil && g.softcap == nil
    q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in probs.withUnsafeMutableBufferPointer { pp in
        let pp = pp.baseAddress!, pq = pq.baseAddress!, pk = pk.baseAddress!
        Parallel.forEach(B * H, costPerItem: Tq * Tk * D) { items in
            let kt = UnsafeMutablePointer<Float>.allocate(capacity: D * ldbt)
            defer { kt.deallocate() }
            var transposed = -1
            for item in items {
                let b = item / H, h = item % H, kvh = h / g.group
                if b * Hk + kvh != transposed {   // query heads of a group share one transposed key block
                    isa_transpose_pad(kt, ldbt, pk + b * Tk * Hk * D + kvh * D, Hk * D, Tk, D)
                    transposed = b * Hk + kvh
                }
                let s = pp + item * Tq * Tk
                isa_attn_scores(s, Tk, pq + b * Tq * H * D + h * D, H * D, kt, ldbt, Tq, Tk, D, g.queryOffset,
                                g.scale, 0, -.infinity)
                if plainCausal {
                    isa_softmax_causal_rows(s, Tq, Tk, g.queryOffset)   // all rows of the head in one call
                } else {
                    for i in 0..<Tq { softmaxRow(s + i * Tk, i: i, b: b, keyMask: keyMask, g: g) }
                }
            }
        }
    } } }
    if wantScores {
        // Scores are only for capture: recompute them the simple way from the saved inputs.
        var out = Tensor(shape: g.probsShape, repeating: -.infinity)
        for b in 0..<B { for h in 0..<H { let kvh = h / g.group
            for i in 0..<Tq { for j in 0..<Tk where g.visible(i, j, b, keyMask) {
                var dot: Float = 0
                for d in 0..<D { dot += q.scalars[(b * Tq + i) * H * D + h * D + d] * k.scalars[(b * Tk + j) * Hk * D + kvh * D + d] }
                var sc = dot * g.scale
                if let cap = g.softcap { sc = cap * FastMath.tanh(sc / cap) }
                out.scalars[((b * H + h) * Tq + i) * Tk + j] = sc
            } }
        } }
        scores = out
    }
}

/// Softmax of one pattern row with padding, a window or a soft-cap (plain causal rows use
/// `isa_softmax_causal_rows`).
@inline(__always)
private func softmaxRow(_ s: UnsafeMutablePointer<Float>, i: Int, b: Int, keyMask: [Bool]?, g: AttentionGeometry) {
    let Tk = g.keyLength
    var m = -Float.infinity
    for j in 0..<Tk {
        if g.visible(i, j, b, keyMask) {
            if let cap = g.softcap { s[j] = cap * FastMath.tanh(s[j] / cap) }
            if s[j].isNaN || s[j] > m { m = s[j] }   // NaN wins (`max` would skip it), so a NaN row stays NaN
        } else {
            s[j] = -.infinity
        }
    }
    if m == -.infinity { for j in 0..<Tk { s[j] = 0 }; return }
    let sum = isa_exp_shifted_sum(s, Tk, m)
    isa_scale_inplace(s, Tk, 1 / sum)
}

/// z[b·Tq + i, h·D + d] = Σ_j probs[b, h, i, j] · v[b·Tk + j, kvh·D + d] (TransformerLens `hook_z`,
/// heads concatenated in head order). Overwrites z `[B·Tq, H·D]`.
public func attentionApplyForward(z: inout Tensor, probs: Tensor, v: Tensor, geometry g: AttentionGeometry) {
    let (B, Tq, Tk, H, Hk, D) = (g.batch, g.queryLength, g.keyLength, g.heads, g.kvHeads, g.headDim)
    precondition(z.count == B * Tq * H * D && v.count == B * Tk * Hk * D && probs.count == B * H * Tq * Tk,
                 "attentionApplyForward: z \(z.shape), v \(v.shape), probs \(probs.shape) for \(g)")
    probs.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { pv in z.withUnsafeMutableBufferPointer { pz in
        let pz = pz.baseAddress!, pp = pp.baseAddress!, pv = pv.baseAddress!
        Parallel.forEach(B * H, costPerItem: Tq * Tk * D) { items in
            for item in items {
                let b = item / H, h = item % H, kvh = h / g.group, P = pp + item * Tq * Tk
                isa_attn_apply(pz + b * Tq * H * D + h * D, H * D, P, Tk, pv + b * Tk * Hk * D + kvh * D, Hk * D,
                               Tq, Tk, D, keyOffset(P, g), 1, 0)
            }
        }
    } } }
}

// MARK: - Backward

/// Backward of `attentionApplyForward`: dProbs += dZ·vᵀ per head (at every key, as the gradient of
/// TransformerLens' `hook_pattern` is), and dv += probsᵀ·dZ.
public func attentionApplyBackward(dProbs: inout Tensor, dv: inout Tensor, dZ: Tensor, probs: Tensor, v: Tensor,
                                   geometry g: AttentionGeometry) {
    let (B, Tq, Tk, H, Hk, D) = (g.batch, g.queryLength, g.keyLength, g.heads, g.kvHeads, g.headDim)
    precondition(dZ.count == B * Tq * H * D && dv.count == v.count && dProbs.count == probs.count,
                 "attentionApplyBackward: shapes for \(g)")
    let ldbt = paddedKeys(Tk)
    dZ.withUnsafeBufferPointer { pdz in probs.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { pv in
    dProbs.withUnsafeMutableBufferPointer { pdp in dv.withUnsafeMutableBufferPointer { pdv in
        let pdz = pdz.baseAddress!, pp = pp.baseAddress!, pv = pv.baseAddress!, pdp = pdp.baseAddress!, pdv = pdv.baseAddress!
        // One item per (b, kv head): the query heads of a group all add into the same dv columns.
        Parallel.forEach(B * Hk, costPerItem: g.group * Tq * Tk * D * 3) { items in
            let vt = UnsafeMutablePointer<Float>.allocate(capacity: D * ldbt)
            defer { vt.deallocate() }
            for item in items {
                let b = item / Hk, kvh = item % Hk, vBlock = pv + b * Tk * Hk * D + kvh * D
                isa_transpose_pad(vt, ldbt, vBlock, Hk * D, Tk, D)
                for h in (kvh * g.group)..<((kvh + 1) * g.group) {
                    let bh = b * H + h, P = pp + bh * Tq * Tk, dz = pdz + b * Tq * H * D + h * D
                    isa_attn_scores(pdp + bh * Tq * Tk, Tk, dz, H * D, vt, ldbt, Tq, Tk, D, Tk, 1, 1, 0)
                    isa_attn_apply_t(pdv + b * Tk * Hk * D + kvh * D, Hk * D, P, Tk, dz, H * D, Tq, Tk, D, keyOffset(P, g), 1)
                }
            }
        }
    } } } } }
}

/// Backward of `attentionProbsForward` through the softmax, the soft-cap and the scaled q·kᵀ:
/// dS = P ⊙ (dP − Σ_j dP ⊙ P); with a cap, dS ⊙= 1 − tanh²(raw/cap); then dq += scale·dS·k and
/// dk += scale·dSᵀ·q. Adds (+=) into dq and dk.
public func attentionProbsBackward(dq: inout Tensor, dk: inout Tensor, dProbs: Tensor, probs: Tensor,
                                   q: Tensor, k: Tensor, geometry g: AttentionGeometry) {
    let (B, Tq, Tk, H, Hk, D) = (g.batch, g.queryLength, g.keyLength, g.heads, g.kvHeads, g.headDim)
    precondition(dq.count == q.count && dk.count == k.count && dProbs.count == probs.count && probs.count == B * H * Tq * Tk,
                 "attentionProbsBackward: shapes for \(g)")
    let ldbt = paddedKeys(Tk)
    dProbs.withUnsafeBufferPointer { pdp in probs.withUnsafeBufferPointer { pp in q.withUnsafeBufferPointer { pq in
    k.withUnsafeBufferPointer { pk in dq.withUnsafeMutableBufferPointer { pdq in dk.withUnsafeMutableBufferPointer { pdk in
        let pdp = pdp.baseAddress!, pp = pp.baseAddress!, pq = pq.baseAddress!, pk = pk.baseAddress!
        let pdq = pdq.baseAddress!, pdk = pdk.baseAddress!
        Parallel.forEach(B * Hk, costPerItem: g.group * Tq * Tk * D * 2) { items in
            let dS = UnsafeMutablePointer<Float>.allocate(capacity: Tq * Tk)
            let raw = g.softcap == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: Tq * Tk)
            let kt = g.softcap == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: D * ldbt)
            defer { dS.deallocate(); raw?.deallocate(); kt?.deallocate() }
            for item in items {
                let b = item / Hk, kvh = item % Hk, kBlock = pk + b * Tk * Hk * D + kvh * D
                if let kt { isa_transpose_pad(kt, ldbt, kBlock, Hk * D, Tk, D) }
                for h in (kvh * g.group)..<((kvh + 1) * g.group) {
                    let bh = b * H + h, qh = pq + b * Tq * H * D + h * D
                    let P = pp + bh * Tq * Tk, dP = pdp + bh * Tq * Tk, offset = keyOffset(P, g)
                    for i in 0..<Tq {
                        var dot: Float = 0
                        for j in 0..<Tk { dot += dP[i * Tk + j] * P[i * Tk + j] }
                        for j in 0..<Tk { dS[i * Tk + j] = P[i * Tk + j] * (dP[i * Tk + j] - dot) }
                    }
                    if let raw, let kt, let cap = g.softcap {
                        isa_attn_scores(raw, Tk, qh, H * D, kt, ldbt, Tq, Tk, D, offset, g.scale, 0, 0)
                        for e in 0..<(Tq * Tk) { let t = FastMath.tanh(raw[e] / cap); dS[e] *= 1 - t * t }
                    }
                    isa_attn_apply(pdq + b * Tq * H * D + h * D, H * D, dS, Tk, kBlock, Hk * D, Tq, Tk, D, offset, g.scale, 1)
                    isa_attn_apply_t(pdk + b * Tk * Hk * D + kvh * D, Hk * D, dS, Tk, qh, H * D, Tq, Tk, D, offset, g.scale)
                }
            }
        }
    } } } } } }
}

/// Key columns of a transposed head block: a multiple of 32, as the product kernels read 32 at a time.
@inline(__always)
private func paddedKeys(_ keyLength: Int) -> Int { (keyLength + 31) / 32 * 32 }

/// The causal key offset the product kernels may use for pattern `P` `[Tq, Tk]`: `queryOffset` when
/// every query puts weight 0 on the keys after its position (always, unless a hook edited the pattern),
/// else `Tk` (every key counts), so an edited pattern multiplies exactly as TransformerLens' `pattern @ v`.
private func keyOffset(_ P: UnsafePointer<Float>, _ g: AttentionGeometry) -> Int {
    isa_weights_after_diagonal(P, g.queryLength, g.keyLength, g.queryOffset) != 0 ? g.keyLength : g.queryOffset
}
