import IsaerftCore

/// Global gradient-norm clipping as `torch.nn.utils.clip_grad_norm_` (HF Trainer's `max_grad_norm`,
/// SAELens' hard-coded 1.0).
///
/// `norm = ‖concat(all gradients)‖₂` (accumulated in Double); `coef = maxNorm / (norm + 1e-6)`,
/// clamped at 1. torch multiplies every gradient by the clamped coefficient; `GradientClipping`
/// returns the coefficient so that an optimiser can apply it on the fly (`gradientScale`).
public enum GradientClipping {
    /// `‖concat(gradients)‖₂`.
    public static func globalNorm<C: Collection>(_ gradients: C) -> Double where C.Element == Tensor {
        var total = 0.0
        for g in gradients { total += sumOfSquares(g) }
        return total.squareRoot()
    }

    /// Σ g² of one tensor in Double (parallel over chunks).
    public static func sumOfSquares(_ g: Tensor) -> Double {
        let n = g.count
        let chunks = max(1, min(Parallel.coreCount, n / 65_536))
        var partial = [Double](repeating: 0, count: chunks)
        g.withUnsafeBufferPointer { p in
            partial.withUnsafeMutableBufferPointer { out in
                let outBase = out.baseAddress!
                Parallel.forEach(chunks, costPerItem: 1 << 20) { range in
                    for c in range {
                        let lo = n * c / chunks, hi = n * (c + 1) / chunks
                        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0, acc = 0.0
                        var i = lo
                        while i < hi {
                            let end = min(hi, i + 4096)   // float partial sums over short blocks, Double across
                            while i + 4 <= end {
                                s0 += p[i] * p[i]; s1 += p[i + 1] * p[i + 1]; s2 += p[i + 2] * p[i + 2]; s3 += p[i + 3] * p[i + 3]
                                i += 4
                            }
                            while i < end { s0 += p[i] * p[i]; i += 1 }
                            acc += Double(s0) + Double(s1) + Double(s2) + Double(s3)
                            s0 = 0; s1 = 0; s2 = 0; s3 = 0
                        }
                        outBase[c] = acc
                    }
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// The factor `clip_grad_norm_` multiplies the gradients by: `min(1, maxNorm / (norm + 1e-6))`
    /// (computed in Float as torch does); 1 when `maxNorm` is nil or ≤ 0 (clipping off).
    public static func coefficient(norm: Double, maxNorm: Double?) -> Float {
        guard let maxNorm, maxNorm > 0 else { return 1 }
        return min(1, Float(maxNorm) / (Float(norm) + 1e-6))
    }

    /// Clips `gradients` in place; returns the pre-clip global norm (what HF logs as `grad_norm`).
    @discardableResult
    public static func clip(_ gradients: inout [String: Tensor], maxNorm: Double?) -> Double {
        let norm = globalNorm(gradients.values)
        let c = coefficient(norm: norm, maxNorm: maxNorm)
        if maxNorm != nil, (maxNorm ?? 0) > 0 {
            for k in gradients.keys { gradients[k]!.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= c } } }
        }
        return norm
    }
}
