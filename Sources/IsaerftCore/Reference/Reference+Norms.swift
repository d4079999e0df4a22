import Foundation

// MARK: - LayerNorm

extension Reference {
    /// Row statistics of LayerNorm for row `r` of `x` `[n, d]`: the mean μ and rstd = 1/√(σ² + eps) with the
    /// biased variance σ² = mean((x − μ)²) (what `layerNormForward` saves; `torch.var_mean(x, -1, correction=0)`).
    public static func layerNormStatistics(_ x: [Double], row r: Int, d: Int, eps: Double) -> (mean: Double, rstd: Double) {
        var mu = 0.0
        for i in 0..<d { mu += x[r * d + i] }
        mu /= Double(d)
        var variance = 0.0
        for i in 0..<d { variance += (x[r * d + i] - mu) * (x[r * d + i] - mu) }
        variance /= Double(d)
        return (mu, 1 / (variance + eps).squareRoot())
    }

    /// `y = (x − μ) / √(σ² + eps) · w + b` per row of `x` `[n, d]` (biased variance; nil weight / bias mean
    /// 1 / 0). Matches `torch.nn.functional.layer_norm(x, (d,), weight, bias, eps)`.
    public static func layerNorm(x: [Double], weight: [Double]?, bias: [Double]?, n: Int, d: Int, eps: Double) -> [Double] {
        precondition(x.count == n * d && (weight?.count ?? d) == d && (bias?.count ?? d) == d, "Reference.layerNorm: sizes")
        var y = [Double](repeating: 0, count: n * d)
        for r in 0..<n {
            let (mu, rstd) = layerNormStatistics(x, row: r, d: d, eps: eps)
            for i in 0..<d { y[r * d + i] = (x[r * d + i] - mu) * rstd * (weight?[i] ?? 1) + (bias?[i] ?? 0) }
        }
        return y
    }

    /// Gradients of `layerNorm` for upstream `dOut` (`torch.autograd` of `F.layer_norm`), through the full
    /// per-row Jacobian of x̂ = (x − μ)·rstd:
    /// ∂x̂_i/∂x_k = rstd·(δ_ik − 1/d) − (x_i − μ)(x_k − μ)·rstd³/d, then dx_k = Σ_i dOut_i·w_i·∂x̂_i/∂x_k,
    /// dWeight_i = Σ_rows dOut_i·x̂_i, dBias_i = Σ_rows dOut_i.
    public static func layerNormBackward(dOut: [Double], x: [Double], weight: [Double]?, n: Int, d: Int, eps: Double)
        -> (dx: [Double], dWeight: [Double], dBias: [Double]) {
        var dx = [Double](repeating: 0, count: n * d)
        var dW = [Double](repeating: 0, count: d), dB = [Double](repeating: 0, count: d)
        for r in 0..<n {
            let (mu, rstd) = layerNormStatistics(x, row: r, d: d, eps: eps)
            for i in 0..<d {
                let g = dOut[r * d + i]
                dW[i] += g * (x[r * d + i] - mu) * rstd
                dB[i] += g
            }
            for k in 0..<d {
                var s = 0.0
                for i in 0..<d {
                    let jac = rstd * ((i == k ? 1 : 0) - 1 / Double(d))
                        - (x[r * d + i] - mu) * (x[r * d + k] - mu) * rstd * rstd * rstd / Double(d)
                    s += dOut[r * d + i] * (weight?[i] ?? 1) * jac
                }
                dx[r * d + k] = s
            }
        }
        return (dx, dW, dB)
    }
}

// MARK: - RMSNorm

extension Reference {
    /// `y = x / √(mean(x²) + eps) · scale` per row of `x` `[n, d]` (nil scale means 1). Matches HF
    /// `LlamaRMSNorm` in float32 (and `torch.nn.functional.rms_norm(x, (d,), scale, eps)`).
    public static func rmsNorm(x: [Double], scale: [Double]?, n: Int, d: Int, eps: Double) -> [Double] {
        precondition(x.count == n * d && (scale?.count ?? d) == d, "Reference.rmsNorm: sizes")
        var y = [Double](repeating: 0, count: n * d)
        for r in 0..<n {
            var meanSquare = 0.0
            for i in 0..<d { meanSquare += x[r * d + i] * x[r * d + i] }
            meanSquare /= Double(d)
            let inv = 1 / (meanSquare + eps).squareRoot()
            for i in 0..<d { y[r * d + i] = x[r * d + i] * inv * (scale?[i] ?? 1) }
        }
        return y
    }

    /// Gradients of `rmsNorm` (`torch.autograd` of `LlamaRMSNorm`) through the full per-row Jacobian of
    /// y_i = s_i·x_i·inv, inv = (mean(x²) + eps)^(−1/2):
    /// ∂y_i/∂x_k = s_i·(δ_ik·inv − x_i·x_k·inv³/d); dScale_i = Σ_rows dOut_i·x_i·inv.
    public static func rmsNormBackward(dOut: [Double], x: [Double], scale: [Double]?, n: Int, d: Int, eps: Double)
        -> (dx: [Double], dScale: [Double]) {
        var dx = [Double](repeating: 0, count: n * d), dS = [Double](repeating: 0, count: d)
        for r in 0..<n {
            var meanSquare = 0.0
            for i in 0..<d { meanSquare += x[r * d + i] * x[r * d + i] }
            meanSquare /= Double(d)
            let inv = 1 / (meanSquare + eps).squareRoot()
            for i in 0..<d { dS[i] += dOut[r * d + i] * x[r * d + i] * inv }
            for k in 0..<d {
                var s = 0.0
                for i in 0..<d {
                    let jac = (scale?[i] ?? 1)
                        * ((i == k ? inv : 0) - x[r * d + i] * x[r * d + k] * inv * inv * inv / Double(d))
                    s += dOut[r * d + i] * jac
                }
                dx[r * d + k] = s
            }
        }
        return (dx, dS)
    }
}
