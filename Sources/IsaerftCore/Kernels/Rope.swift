#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Rotary position embedding tables for one base: cos and sin `[positions, headDim/2]`.
///
/// Matches HF `LlamaRotaryEmbedding` (rotate-half / NEOX convention): inv_freq[i] = 1/base^(2i/D)
/// (optionally rescaled, e.g. llama3 or linear), angle = fp32(position) · inv_freq in fp32, then cos
/// and sin of that fp32 angle, rounded to fp32 (torch computes them in fp32). `attentionScaling`
/// multiplies cos and sin (HF's `attention_scaling`, 1 for the default and llama3 types).
public struct RopeTable: Sendable {
    public let headDim: Int
    public let inverseFrequencies: [Float]
    public let attentionScaling: Float

    public init(headDim: Int, inverseFrequencies: [Float], attentionScaling: Float = 1) {
        precondition(headDim % 2 == 0 && inverseFrequencies.count == headDim / 2, "RopeTable: head dim \(headDim)")
        self.headDim = headDim; self.inverseFrequencies = inverseFrequencies; self.attentionScaling = attentionScaling
    }

    /// inv_freq[i] = 1 / base^(2i / D), as HF's default rope (computed in Double, rounded once).
    public static func defaultFrequencies(headDim: Int, base: Double) -> [Float] {
        (0..<(headDim / 2)).map { i in Float(1 / pow(base, Double(2 * i) / Double(headDim))) }
    }

    /// cos and sin for one position, `[D/2]` each.
    @inlinable
    public func angles(position: Int) -> (cos: [Float], sin: [Float]) {
        let p = Float(position)
        var c = [Float](repeating: 0, count: headDim / 2), s = c
        for i in 0..<(headDim / 2) {
            let a = Double(p * inverseFrequencies[i])
            c[i] = Float(cos(a)) * attentionScaling
            s[i] = Float(sin(a)) * attentionScaling
        }
        return (c, s)
    }
}

/// Applies RoPE in place to `x` `[n, heads·D]` whose row r sits at `positions[r]`:
/// for each head, (x₁, x₂) ← (x₁·cos − x₂·sin, x₂·cos + x₁·sin) over dims i and i + D/2
/// (HF `apply_rotary_pos_emb` with `rotate_half`). `inverse: true` rotates by −angle, which is the
/// backward (the rotation is orthogonal): dx = R(−θ)·dy.
public func ropeApply(_ x: inout Tensor, positions: [Int], heads: Int, table: RopeTable, inverse: Bool = false) {
    let (n, width) = x.matrixShape, D = table.headDim, half = D / 2
    precondition(width == heads * D && positions.count == n, "ropeApply: x \(x.shape), \(heads) heads of \(D), \(positions.count) positions")
    var cache: [Int: ([Float], [Float])] = [:]
    for p in Set(positions) { cache[p] = table.angles(position: p) }
    x.withUnsafeMutableBufferPointer { px in
        let px = px.baseAddress!
        Parallel.forEach(n, costPerItem: width * 4) { rows in
            for r in rows {
                let (c, s) = cache[positions[r]]!
                for h in 0..<heads {
                    let base = px + r * width + h * D
                    for i in 0..<half {
                        let x1 = base[i], x2 = base[i + half]
                        let sn = inverse ? -s[i] : s[i]
                        base[i] = x1 * c[i] - x2 * sn
                        base[i + half] = x2 * c[i] + x1 * sn
                    }
                }
            }
        }
    }
}

/// Multiplies every row of `x` `[n, d]` by `scale` `[d]` in place (norm weights).
public func scaleColumns(_ x: inout Tensor, by scale: Tensor) {
    let (n, d) = x.matrixShape
    precondition(scale.count == d, "scaleColumns: scale \(scale.shape) for rows of \(d)")
    scale.withUnsafeBufferPointer { ps in x.withUnsafeMutableBufferPointer { px in
        let px = px.baseAddress!, ps = ps.baseAddress!
        Parallel.forEach(n, costPerItem: d) { rows in
            for r in rows { let row = px + r * d; for i in 0..<d { row[i] *= ps[i] } }
        }
    } }
}

/// out = cap · tanh(x / cap) in place (Gemma 2 soft-capping); `derivativeFactor` receives 1 − tanh² when non-nil.
public func softcapInPlace(_ x: inout Tensor, cap: Float) {
    for i in 0..<x.count { x.scalars[i] = cap * FastMath.tanh(x.scalars[i] / cap) }
}
