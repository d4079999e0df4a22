import Foundation
import IsaerftCore

/// Per-row statistics of the run-time input normalisation, needed to undo it after decoding
/// (SAELens keeps them on the module between `encode` and `decode`: `x_norm_coeff`, `ln_mu`, `ln_std`).
public struct SAEInputStatistics: Sendable, Equatable {
    /// `constant_norm_rescale`: `c = √d_in / ‖x‖` per row.
    public var coefficient: [Float]?
    /// `layer_norm`: mean and unbiased standard deviation per row.
    public var mean: [Float]?
    public var std: [Float]?
}

extension SparseAutoencoder {
    // MARK: - Public API

    /// Feature activations (SAELens `encode`, `hook_sae_acts_post`).
    /// - Parameter x: `[…, d_in]`; for `hook_z` SAEs also `[…, n_heads, d_head]` with `n_heads·d_head = d_in`.
    /// - Returns: `[…, d_sae]` (the leading axes of `x`).
    public func encode(_ x: Tensor) throws -> Tensor {
        try encodeWithStatistics(x).features
    }

    /// `encode`, also returning the normalisation statistics `decode` needs to undo
    /// `constant_norm_rescale` / `layer_norm`.
    public func encodeWithStatistics(_ x: Tensor) throws -> (features: Tensor, statistics: SAEInputStatistics) {
        let (rows, leading) = try flattenInput(x)
        let (f, stats) = encodeRows(rows)
        return (f.reshaped(leading + [dSAE]), stats)
    }

    /// Pre-activations (`hook_sae_acts_pre`): `sae_in·W_enc + b_enc` (gated: the magnitude path
    /// `sae_in·(W_enc ⊙ exp(r_mag)) + b_mag`). Before topk's decoder-norm rescaling, as SAELens hooks it.
    public func preActivations(_ x: Tensor) throws -> Tensor {
        let (rows, leading) = try flattenInput(x)
        let (saeIn, _) = processInput(rows)
        let h = config.architecture == .gated
            ? affine(saeIn, magnitudeEncoder!, weights.bMag!)
            : affine(saeIn, weights.wEnc, weights.bEnc!)
        return h.reshaped(leading + [dSAE])
    }

    /// Reconstruction from features (SAELens `decode`): `f·W_dec + b_dec` (topk with rescaling:
    /// `(f ⊙ 1/‖W_dec[i]‖)·W_dec + b_dec`), then the normalisation undone with `statistics`.
    /// - Parameters:
    ///   - f: `[…, d_sae]`.
    ///   - statistics: from `encodeWithStatistics` of the same rows; required for
    ///     `constant_norm_rescale` and `layer_norm` SAEs (a programmer error otherwise).
    /// - Returns: `[…, d_in]` (flat even for `hook_z` SAEs; `reconstruct` restores the head axes).
    public func decode(_ f: Tensor, statistics: SAEInputStatistics? = nil) -> Tensor {
        let (n, width) = f.matrixShape
        precondition(width == dSAE, "SAE decode: features of width \(width), d_sae is \(dSAE)")
        let y = decodeRows(f.reshaped([n, dSAE]), statistics: statistics)
        return y.reshaped(Array(f.shape.dropLast()) + [dIn])
    }

    /// `decode(encode(x))` in `x`'s shape (SAELens `forward` without the error term).
    public func reconstruct(_ x: Tensor) throws -> Tensor {
        let (rows, _) = try flattenInput(x)
        let (f, stats) = encodeRows(rows)
        return decodeRows(f, statistics: stats).reshaped(x.shape)
    }

    /// SAELens `forward`: the reconstruction, plus the error term `x − x̂` when `keepError`
    /// (in SAELens the error is computed under `no_grad`, so it carries no gradient). The sum
    /// `x̂ + (x − x̂)` is formed in Double and so returns `x` exactly; SAELens' fp32 sum differs from
    /// `x` by up to one rounding, which grows to ~2e-6 in downstream logits.
    public func forward(_ x: Tensor, keepError: Bool = false) throws -> Tensor {
        let xHat = try reconstruct(x)
        return keepError ? Self.addingError(xHat, original: x) : xHat
    }

    /// `x̂ + (x − x̂)` element-wise in Double (the difference of two floats is exact in Double), so
    /// the result is `x` bitwise while keeping the form of SAELens' error term.
    static func addingError(_ xHat: Tensor, original x: Tensor) -> Tensor {
        var out = xHat
        for i in 0..<out.count {
            let y = Double(xHat.scalars[i])
            out.scalars[i] = Float(y + (Double(x.scalars[i]) - y))
        }
        return out
    }

    // MARK: - Rows

    /// `x` as `[n, d_in]` rows and the leading shape, or `inputShape` when the trailing axes do not fit.
    func flattenInput(_ x: Tensor) throws -> (Tensor, [Int]) {
        let s = x.shape
        if let last = s.last, last == dIn {
            return (x.reshaped([x.count / max(dIn, 1), dIn]), Array(s.dropLast()))
        }
        if config.reshapeActivations == .hookZ, s.count >= 2, s[s.count - 1] * s[s.count - 2] == dIn {
            return (x.reshaped([x.count / dIn, dIn]), Array(s.dropLast(2)))
        }
        throw SAEError.inputShape(expectedWidth: dIn, found: s)
    }

    /// Encodes `[n, d_in]` rows to `[n, d_sae]` (no shape checks beyond preconditions).
    func encodeRows(_ rows: Tensor) -> (Tensor, SAEInputStatistics) {
        let (saeIn, stats) = processInput(rows)
        let n = rows.matrixShape.rows, d = dSAE
        switch config.architecture {
        case .standard:
            var h = affine(saeIn, weights.wEnc, weights.bEnc!)
            for i in 0..<h.count where h.scalars[i] < 0 { h.scalars[i] = 0 }   // ReLU
            return (h, stats)
        case .jumprelu:
            var h = affine(saeIn, weights.wEnc, weights.bEnc!)
            let theta = weights.threshold!.scalars
            for r in 0..<n { for i in 0..<d {
                let v = h.scalars[r * d + i]
                // ReLU(h) · 1[h > θ]
                h.scalars[r * d + i] = (v > theta[i]) ? max(v, 0) : 0
            } }
            return (h, stats)
        case .gated:
            let gate = affine(saeIn, weights.wEnc, weights.bGate!)
            var mag = affine(saeIn, magnitudeEncoder!, weights.bMag!)
            for i in 0..<mag.count { mag.scalars[i] = gate.scalars[i] > 0 ? max(mag.scalars[i], 0) : 0 }
            return (mag, stats)
        case .topk, .abstopk:
            var h = affine(saeIn, weights.wEnc, weights.bEnc!)
            if let norms = decoderNorms {
                for r in 0..<n { for i in 0..<d { h.scalars[r * d + i] *= norms[i] } }
            }
            return (topK(h, k: config.k!, byMagnitude: config.architecture == .abstopk), stats)
        }
    }

    /// Decodes `[n, d_sae]` rows to `[n, d_in]` and undoes the normalisation.
    func decodeRows(_ f: Tensor, statistics: SAEInputStatistics?) -> Tensor {
        var y = decodeRowsNormalized(f)
        undoNormalization(&y, statistics: statistics)
        return y
    }

    /// `f·W_dec + b_dec` (topk with rescaling: `(f ⊙ 1/‖W_dec[i]‖)·W_dec + b_dec`), still in the
    /// normalised space: `[n, d_sae]` → `[n, d_in]`.
    func decodeRowsNormalized(_ f: Tensor) -> Tensor {
        let n = f.matrixShape.rows
        var acts = f
        if let norms = decoderNorms {
            let inv = norms.map { 1 / $0 }
            for r in 0..<n { for i in 0..<dSAE { acts.scalars[r * dSAE + i] *= inv[i] } }
        }
        return affine(acts, weights.wDec, weights.bDec)
    }

    /// SAELens `run_time_activation_norm_fn_out`: `y / c` (constant_norm_rescale) or `y·σ + μ` (layer_norm).
    func undoNormalization(_ y: inout Tensor, statistics: SAEInputStatistics?) {
        let n = y.matrixShape.rows
        switch config.normalizeActivations {
        case .constantNormRescale:
            guard let c = statistics?.coefficient, c.count == n else {
                preconditionFailure("SAE decode: constant_norm_rescale needs the statistics of encodeWithStatistics for these \(n) rows")
            }
            for r in 0..<n { for j in 0..<dIn { y.scalars[r * dIn + j] /= c[r] } }
        case .layerNorm:
            guard let mu = statistics?.mean, let sd = statistics?.std, mu.count == n else {
                preconditionFailure("SAE decode: layer_norm needs the statistics of encodeWithStatistics for these \(n) rows")
            }
            for r in 0..<n { for j in 0..<dIn { y.scalars[r * dIn + j] = y.scalars[r * dIn + j] * sd[r] + mu[r] } }
        case .none, .expectedAverageOnlyIn, .covarianceWhitening:
            break
        }
    }

    /// SAELens `process_sae_in` after the reshape: run-time normalisation, then `− b_dec` when
    /// `apply_b_dec_to_input`.
    func processInput(_ rows: Tensor) -> (Tensor, SAEInputStatistics) {
        var x = rows
        let (n, d) = rows.matrixShape
        var stats = SAEInputStatistics()
        switch config.normalizeActivations {
        case .constantNormRescale:
            let root = Float(Double(d).squareRoot())
            var coeff = [Float](repeating: 0, count: n)
            for r in 0..<n {
                var s = 0.0
                for j in 0..<d { let v = Double(x.scalars[r * d + j]); s += v * v }
                coeff[r] = root / Float(s.squareRoot())
                for j in 0..<d { x.scalars[r * d + j] *= coeff[r] }
            }
            stats.coefficient = coeff
        case .layerNorm:
            var mus = [Float](repeating: 0, count: n), sds = [Float](repeating: 0, count: n)
            for r in 0..<n {
                var s = 0.0
                for j in 0..<d { s += Double(x.scalars[r * d + j]) }
                let mu = Float(s / Double(d))
                var ss = 0.0
                for j in 0..<d { x.scalars[r * d + j] -= mu; ss += Double(x.scalars[r * d + j]) * Double(x.scalars[r * d + j]) }
                let sd = Float((ss / Double(max(d - 1, 1))).squareRoot())
                for j in 0..<d { x.scalars[r * d + j] /= (sd + 1e-5) }
                mus[r] = mu; sds[r] = sd
            }
            stats.mean = mus; stats.std = sds
        case .none, .expectedAverageOnlyIn, .covarianceWhitening:
            break
        }
        if config.applyBDecToInput {
            let b = weights.bDec.scalars
            for r in 0..<n { for j in 0..<d { x.scalars[r * d + j] -= b[j] } }
        }
        return (x, stats)
    }

    /// `a[n, k]·w[k, m] + b[m]` (BLAS).
    func affine(_ a: Tensor, _ w: Tensor, _ b: Tensor) -> Tensor {
        let n = a.matrixShape.rows, m = w.matrixShape.cols
        var out = Tensor.uninitialized([n, m])
        matmul(a, w, into: &out)
        let bias = b.scalars
        out.withUnsafeMutableBufferPointer { p in
            for r in 0..<n { for j in 0..<m { p[r * m + j] += bias[j] } }
        }
        return out
    }

    /// Per row, keeps the `k` largest values (`byMagnitude`: largest |h|, signed values kept, SAELens
    /// `AbsTopK`; otherwise `TopK`: ReLU of the kept values, so fewer than k may be non-zero); zeros elsewhere.
    /// Ties at the k-th value keep the lowest indices (torch.topk leaves the choice unspecified).
    func topK(_ h: Tensor, k: Int, byMagnitude: Bool) -> Tensor {
        let (n, d) = h.matrixShape
        var out = Tensor(shape: h.shape)
        var keys = [Float](repeating: 0, count: d)
        for r in 0..<n {
            let row = r * d
            for i in 0..<d { keys[i] = byMagnitude ? abs(h.scalars[row + i]) : h.scalars[row + i] }
            let kth = Self.kthLargest(keys, k)
            var above = 0
            for i in 0..<d where keys[i] > kth { above += 1 }
            var ties = k - above
            for i in 0..<d {
                let key = keys[i]
                if key == kth && ties > 0 { ties -= 1 } else if !(key > kth) { continue }
                let v = h.scalars[row + i]
                out.scalars[row + i] = byMagnitude ? v : max(v, 0)
            }
        }
        return out
    }

    /// The k-th largest value (1-based) of `values` (quickselect on a copy; NaN sorts lowest).
    static func kthLargest(_ values: [Float], _ k: Int) -> Float {
        var a = values.map { $0.isNaN ? -Float.infinity : $0 }
        var lo = 0, hi = a.count - 1
        let target = k - 1   // index in descending order
        while lo < hi {
            let pivot = a[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }
}
