import Foundation
import IsaerftCore

/// The vector–Jacobian product of one SAE reconstruction `x̂ = decode(encode(x))` with respect to
/// `x`, holding what the forward computed (features, normalisation statistics). Exact wherever the
/// SAE is differentiable and equal to PyTorch autograd through SAELens 6.54.12's `SAE.forward`:
///
/// - standard: ReLU′(h) = 1[h > 0]; jumprelu (also BatchTopK / Matryoshka saved as jumprelu):
///   ReLU′(h)·1[h > θ], no gradient through the step; gated: through the magnitude path
///   `x·(W_enc ⊙ exp(r_mag)) + b_mag` where the gate `1[π_gate > 0]` and ReLU pass, the gate itself
///   is a step; topk: the selected latents whose ReLU passes, abstopk: every selected latent
///   (with `rescale_acts_by_decoder_norm` the `n_i` of the encoder and the `1/n_i` of the decoder);
///   `apply_b_dec_to_input` is a constant shift.
/// - `constant_norm_rescale`: SAELens keeps `c = √d_in/‖x‖` in the graph, so the VJP includes the
///   terms through `c` at the input and at the output (`x̂ = dec(enc(c·x))/c`).
/// - `layer_norm`: likewise through `μ` and the unbiased `σ` at the input `(x − μ)/(σ + 1e-5)` and
///   at the output `y·σ + μ`.
/// - `expected_average_only_in` is folded into the weights at load (or the identity), so it needs
///   nothing here.
/// Rows are `[n, d_in]` (hook_z heads flattened; `splice` handles `hook_head_index`).
public struct SAEPullback: Sendable {
    let sae: SparseAutoencoder
    /// The input rows `[n, d_in]`.
    let rows: Tensor
    /// `encode(x)` `[n, d_sae]`; a latent passes gradient iff its feature is non-zero.
    let features: Tensor
    let statistics: SAEInputStatistics
    /// Decoder output before the normalisation is undone `[n, d_in]` (only for constant_norm / layer_norm).
    let normalizedOutput: Tensor?

    /// `Jᵀ·g`: d loss / d x from d loss / d x̂, both `[n, d_in]` (any shape with `n·d_in` values; the
    /// result has `g`'s shape).
    public func callAsFunction(_ g: Tensor) -> Tensor {
        let dIn = sae.dIn, dSAE = sae.dSAE, n = rows.matrixShape.rows
        precondition(g.count == n * dIn, "SAE pullback: gradient of \(g.count) values for \(n) rows of d_in = \(dIn)")
        let norm = sae.config.normalizeActivations
        var dy = g.reshaped([n, dIn])
        // Output normalisation: x̂ = y / c, or y·σ + μ.
        var dCoefficientOut = [Double](repeating: 0, count: n), dStdOut = [Double](repeating: 0, count: n)
        var dMeanOut = [Double](repeating: 0, count: n)
        switch norm {
        case .constantNormRescale:
            let c = statistics.coefficient!, y = normalizedOutput!
            for r in 0..<n {
                var s = 0.0
                for j in 0..<dIn { s += Double(dy.scalars[r * dIn + j]) * Double(y.scalars[r * dIn + j]) }
                dCoefficientOut[r] = -s / (Double(c[r]) * Double(c[r]))
                for j in 0..<dIn { dy.scalars[r * dIn + j] /= c[r] }
            }
        case .layerNorm:
            let sd = statistics.std!, y = normalizedOutput!
            for r in 0..<n {
                var s = 0.0, m = 0.0
                for j in 0..<dIn {
                    let gj = Double(dy.scalars[r * dIn + j])
                    s += gj * Double(y.scalars[r * dIn + j]); m += gj
                }
                dStdOut[r] = s; dMeanOut[r] = m
                for j in 0..<dIn { dy.scalars[r * dIn + j] *= sd[r] }
            }
        case .none, .expectedAverageOnlyIn, .covarianceWhitening:
            break
        }
        // Decoder and activation: dh = (dy·W_decᵀ ⊙ 1/n) ⊙ 1[f ≠ 0] (⊙ n for rescaled topk).
        var dh = Tensor.uninitialized([n, dSAE])
        matmulTransposedB(dy, sae.weights.wDec, into: &dh)
        features.withUnsafeBufferPointer { pf in
            dh.withUnsafeMutableBufferPointer { pd in
                for i in 0..<(n * dSAE) where pf[i] == 0 { pd[i] = 0 }
            }
        }
        // With decoder-norm rescaling the 1/n of the decoder and the n of the encoder cancel.
        // Encoder: d sae_in = dh·W_encᵀ (gated: the magnitude encoder).
        var dIn0 = Tensor.uninitialized([n, dIn])
        matmulTransposedB(dh, sae.magnitudeEncoder ?? sae.weights.wEnc, into: &dIn0)
        // Input normalisation.
        switch norm {
        case .constantNormRescale:
            let c = statistics.coefficient!
            for r in 0..<n {
                var dc = dCoefficientOut[r], sq = 0.0
                for j in 0..<dIn {
                    let x = Double(rows.scalars[r * dIn + j])
                    dc += Double(dIn0.scalars[r * dIn + j]) * x; sq += x * x
                }
                // c = √d/‖x‖: ∂c/∂x_j = −c·x_j/‖x‖².
                let cr = Double(c[r]), k = -dc * cr / sq
                for j in 0..<dIn {
                    let x = Double(rows.scalars[r * dIn + j])
                    dIn0.scalars[r * dIn + j] = Float(cr * Double(dIn0.scalars[r * dIn + j]) + k * x)
                }
            }
        case .layerNorm:
            let mu = statistics.mean!, sd = statistics.std!
            let dm1 = Double(max(dIn - 1, 1))
            var xc = [Double](repeating: 0, count: dIn), dxc = [Double](repeating: 0, count: dIn)
            for r in 0..<n {
                let sigma = Double(sd[r]), denom = sigma + 1e-5
                var dSigma = dStdOut[r]
                for j in 0..<dIn {
                    xc[j] = Double(rows.scalars[r * dIn + j] - mu[r])   // the forward's fp32 x − μ
                    let du = Double(dIn0.scalars[r * dIn + j])
                    dxc[j] = du / denom
                    dSigma -= du * xc[j] / (denom * denom)
                }
                var mean = 0.0
                for j in 0..<dIn { dxc[j] += dSigma * xc[j] / (dm1 * sigma); mean += dxc[j] }
                mean /= Double(dIn)
                let shift = dMeanOut[r] / Double(dIn) - mean
                for j in 0..<dIn { dIn0.scalars[r * dIn + j] = Float(dxc[j] + shift) }
            }
        case .none, .expectedAverageOnlyIn, .covarianceWhitening:
            break
        }
        return dIn0.reshaped(g.shape)
    }
}

extension SparseAutoencoder {
    /// `decode(encode(x))` in `x`'s shape and its pullback (`SAEPullback`, the VJP with respect to `x`).
    /// - Parameter x: `[…, d_in]` (hook_z SAEs: also `[…, n_heads, d_head]`).
    public func reconstructWithPullback(_ x: Tensor) throws -> (reconstruction: Tensor, pullback: SAEPullback) {
        let (rows, _) = try flattenInput(x)
        let (y, pb) = reconstructRowsWithPullback(rows)
        return (y.reshaped(x.shape), pb)
    }

    /// `Jᵀ·g` for `x̂ = decode(encode(x))`: d loss / d x from d loss / d x̂ (`g` in `x`'s shape).
    public func reconstructionVJP(_ x: Tensor, upstream g: Tensor) throws -> Tensor {
        guard g.count == x.count else { throw SAEError.inputShape(expectedWidth: dIn, found: g.shape) }
        return try reconstructWithPullback(x).pullback(g).reshaped(x.shape)
    }

    /// Rows version: `[n, d_in]` → reconstruction `[n, d_in]` and pullback.
    func reconstructRowsWithPullback(_ rows: Tensor) -> (Tensor, SAEPullback) {
        let (f, stats) = encodeRows(rows)
        return reconstructRowsWithPullback(rows, features: f, statistics: stats)
    }

    /// Decodes already computed features of `rows` and builds the pullback.
    func reconstructRowsWithPullback(_ rows: Tensor, features f: Tensor, statistics stats: SAEInputStatistics) -> (Tensor, SAEPullback) {
        var y = decodeRowsNormalized(f)
        let keepsOutput = config.normalizeActivations == .constantNormRescale || config.normalizeActivations == .layerNorm
        let normalized = keepsOutput ? y : nil
        undoNormalization(&y, statistics: stats)
        return (y, SAEPullback(sae: self, rows: rows, features: f, statistics: stats, normalizedOutput: normalized))
    }
}
