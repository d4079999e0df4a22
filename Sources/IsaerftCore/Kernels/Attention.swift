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
    q.withUnsafeBufferPointer { pq in k.withUnsafeBufferPointer { pk in probs.withUnsafeMutableBufferPointer { pp in
        let pp = pp.baseAddress!, pq = pq.baseAddress!, pk = pk.baseAddress!
        do {
            headRange(B * H) { items in
                for item in items {
                    let b = item / H, h = item % H, kvh = h / g.group
                    let s = pp + item * Tq * Tk
                    BLAS.gemm(transA: false, transB: true, m: Tq, n: Tk, k: D, alpha: g.scale,
                              a: pq + b * Tq * H * D + h * D, lda: H * D,
                              b: pk + b * Tk * Hk * D + kvh * D, ldb: Hk * D, c: s, ldc: Tk)
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
    let inv = 1 / sum
    for j in 0..<Tk { s[j] *= inv }
}

/// z[b·Tq + i, h·D + d] = Σ_j probs[b, h, i, j] · v[b·Tk + j, kvh·D + d] (TransformerLens `hook_z`,
/// heads concatenated in head order). Overwrites z `[B·Tq, H·D]`.
public func attentionApplyForward(z: inout Tensor, probs: Tensor, v: Tensor, geometry g: AttentionGeometry) {
    let (B, Tq, Tk, H, Hk, D) = (g.batch, g.queryLength, g.keyLength, g.heads, g.kvHeads, g.headDim)
    precondition(z.count == B * Tq * H * D && v.count == B * Tk * Hk * D && probs.count == B * H * Tq * Tk,
                 "attentionApplyForward: z \(z.shape), v \(v.shape), probs \(probs.shape) for \(g)")
    probs.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { pv in z.withUnsafeMutableBufferPointer { pz in
        let pz = pz.baseAddress!, pp = pp.baseAddress!, pv = pv.baseAddress!
        do {
            headRange(B * H) { items in
                for item in items {
                    let b = item / H, h = item % H, kvh = h / g.group
                    BLAS.gemm(transA: false, transB: false, m: Tq, n: D, k: Tk,
                              a: pp + item * Tq * Tk, lda: Tk, b: pv + b * Tk * Hk * D + kvh * D, ldb: Hk * D,
                              c: pz + b * Tq * H * D + h * D, ldc: H * D)
                }
            }
        }
    } } }
}

// MARK: - Backward

/// Backward of `attentionApplyForward`: dProbs += dZ·vᵀ per head, and dv += probsᵀ·dZ.
public func attentionApplyBackward(dProbs: inout Tensor, dv: inout Tensor, dZ: Tensor, probs: Tensor, v: Tensor,
                                   geometry g: AttentionGeometry) {
    let (B, Tq, Tk, H, Hk, D) = (g.batch, g.queryLength, g.keyLength, g.heads, g.kvHeads, g.headDim)
    precondition(dZ.count == B * Tq * H * D && dv.count == v.count && dProbs.count == probs.count,
                 "attentionApplyBackward: shapes for \(g)")
    dZ.withUnsafeBufferPointer { pdz in probs.withUnsafeBufferPointer { pp in v.withUnsafeBufferPointer { pv in
    dProbs.withUnsafeMutableBufferPointer { pdp in dv.withUnsafeMutableBufferPointer { pdv in
        let pdz = pdz.baseAddress!, pp = pp.baseAddress!, pv = pv.baseAddress!, pdp = pdp.baseAddress!, pdv = pdv.baseAddress!
        do {
            // One chunk per (b, kv head): the query heads of a group all add into the same dv columns.
            headRange(B * Hk) { items in
                for item in items {
                    let b = item / Hk, kvh = item % Hk
                    for h in (kvh * g.group)..<((kvh + 1) * g.group) {
                        let bh = b * H + h
                        BLAS.gemm(transA: false, transB: true, m: Tq, n: Tk, k: D,
                                  a: pdz + b * Tq * H * D + h * D, lda: H * D, b: pv + b * Tk * Hk * D + kvh * D, ldb: Hk * D,
                                  beta: 1, c: pdp + bh * Tq * Tk, ldc: Tk)
                        BLAS.gemm(transA: true, transB: false, m: Tk, n: D, k: Tq,
                                  a: pp + bh * Tq * Tk, lda: Tk, b: pdz + b * Tq * H * D + h * D, ldb: H * D,
                                  beta: 1, c: pdv + b * Tk * Hk * D + kvh * D, ldc: Hk * D)
                    }
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
    dProbs.withUnsafeBufferPointer { pdp in probs.withUnsafeBufferPointer { pp in q.withUnsafeBufferPointer { pq in
    k.withUnsafeBufferPointer { pk in dq.withUnsafeMutableBufferPointer { pdq in dk.withUnsafeMutableBufferPointer { pdk in
        let pdp = pdp.baseAddress!, pp = pp.baseAddress!, pq = pq.baseAddress!, pk = pk.baseAddress!
        let pdq = pdq.baseAddress!, pdk = pdk.baseAddress!
        do {
            headRange(B * Hk) { items in
                let dS = UnsafeMutablePointer<Float>.allocate(capacity: Tq * Tk)
                let raw = g.softcap == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: Tq * Tk)
                defer { dS.deallocate(); raw?.deallocate() }
                for item in items {
                    let b = item / Hk, kvh = item % Hk
                    for h in (kvh * g.group)..<((kvh + 1) * g.group) {
                        let bh = b * H + h
                        let P = pp + bh * Tq * Tk, dP = pdp + bh * Tq * Tk
                        for i in 0..<Tq {
                            var dot: Float = 0
                            for j in 0..<Tk { dot += dP[i * Tk + j] * P[i * Tk + j] }
                            for j in 0..<Tk { dS[i * Tk + j] = P[i * Tk + j] * (dP[i * Tk + j] - dot) }
                        }
                        if let raw, let cap = g.softcap {
                            BLAS.gemm(transA: false, transB: true, m: Tq, n: Tk, k: D, alpha: g.scale,
                                      a: pq + b * Tq * H * D + h * D, lda: H * D,
                                      b: pk + b * Tk * Hk * D + kvh * D, ldb: Hk * D, c: raw, ldc: Tk)
                            for e in 0..<(Tq * Tk) { let t = FastMath.tanh(raw[e] / cap); dS[e] *= 1 - t * t }
                        }
                        BLAS.gemm(transA: false, transB: false, m: Tq, n: D, k: Tk, alpha: g.scale,
                                  a: dS, lda: Tk, b: pk + b * Tk * Hk * D + kvh * D, ldb: Hk * D,
                                  beta: 1, c: pdq + b * Tq * H * D + h * D, ldc: H * D)
                        BLAS.gemm(transA: true, transB: false, m: Tk, n: D, k: Tq, alpha: g.scale,
                                  a: dS, lda: Tk, b: pq + b * Tq * H * D + h * D, ldb: H * D,
                                  beta: 1, c: pdk + b * Tk * Hk * D + kvh * D, ldc: Hk * D)
                    }
                }
            }
        }
    } } } } } }
}

/// The head products run one after another with OpenBLAS's own threads. (Running heads in parallel
/// chunks needed a single-threaded BLAS, and OpenBLAS 0.3.21 only has a process-wide thread count:
/// changing it while another pass multiplies made results depend on timing.)
@inline(__always)
private func headRange(_ n: Int, _ body: (Range<Int>) -> Void) { if n > 0 { body(0..<n) } }
