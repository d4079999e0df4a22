import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftSAE

/// Dense equivalents of trained components (`isaerft adapter merge`).
///
/// With the error term kept, a component changes the hook's output by
/// `x' − x = (φ(f) − f)·W_dec` (× the SAE's output de-normalisation), `isaerft-method.md` §2:
///
/// - **bias** `φ(f) = f + b`: `x' = x + v` with `v = Σ_i (b_i / r_i)·W_dec[i]` `[d_in]` at every position
///   where the component applies, independent of the input — exactly a steering vector. `r_i` is
///   `‖W_dec[i]‖` for SAEs with `rescale_acts_by_decoder_norm` (their decode divides by it), else 1.
///   Exact only when the SAE's output de-normalisation is the identity at run time (`normalize_activations`
///   `none`, `expected_average_only_in`, `covariance_whitening`); `constant_norm_rescale` and `layer_norm`
///   scale the decoder output per token, so no single vector is equivalent (refused).
/// - **scale** `φ(f) = (1 + p(s)) ⊙ f`: `x' = x + Σ_i p(s_i) f_i W_dec[i]`. An SAE whose decoder rows are
///   `(1 + p(s_i))·W_dec[i]` gives `dec'(f) = dec(f) + Σ_i p(s_i) f_i W_dec[i]` (de-normalisation included),
///   so it is exact **only** when spliced with the error term computed from the ORIGINAL decoder:
///   `x' = dec'(f) + (x − dec(f))`. Spliced as an ordinary SAE (`x − dec'(f)` as error, or no error term)
///   it is not equivalent; the note is written into its `cfg.json` metadata. Refused for SAEs with
///   `rescale_acts_by_decoder_norm` (their encoder reads the decoder norms, so the encoding would change).
/// - **mlp**: `F(f)` depends on f non-linearly; no dense equivalent.
public enum AdapterMerge {
    /// `v = Σ_i (b_i / r_i)·W_dec[i]`: `[d_in]` (see the type's notes), accumulated in Double.
    public static func steeringVector(bias: Tensor, sae: SparseAutoencoder) throws -> Tensor {
        try checkSAE(sae, dSAE: bias.count, kind: "bias")
        switch sae.config.normalizeActivations {
        case .constantNormRescale, .layerNorm:
            throw AdapterError.notMergeable("bias adapter: the SAE's normalize_activations is \(sae.config.normalizeActivations.rawValue), which rescales the decoder output per token, so no single steering vector is equivalent")
        case .none, .expectedAverageOnlyIn, .covarianceWhitening: break
        }
        let (dSAE, dIn) = sae.weights.wDec.matrixShape
        let norms = sae.config.rescaleActsByDecoderNorm ? rowNorms(sae.weights.wDec) : nil
        var v = [Double](repeating: 0, count: dIn)
        for i in 0..<dSAE {
            var b = Double(bias.scalars[i])
            if b == 0 { continue }
            if let norms { b /= norms[i] }
            let base = i * dIn
            for j in 0..<dIn { v[j] += b * Double(sae.weights.wDec.scalars[base + j]) }
        }
        return Tensor(shape: [dIn], scalars: v.map { Float($0) })
    }

    /// The SAE with decoder rows scaled by `1 + p(s_i)` and a metadata note (see the type's notes).
    public static func scaledSAE(scale: Tensor, processor: ScaleProcessor, sae: SparseAutoencoder, adapterPath: String) throws -> SparseAutoencoder {
        try checkSAE(sae, dSAE: scale.count, kind: "scale")
        if sae.config.rescaleActsByDecoderNorm {
            throw AdapterError.notMergeable("scale adapter: the SAE rescales activations by its decoder norms (rescale_acts_by_decoder_norm), so scaling decoder rows would change its encoding")
        }
        var w = sae.weights
        let (dSAE, dIn) = w.wDec.matrixShape
        for i in 0..<dSAE {
            let s = scale.scalars[i]
            let m = 1 + (processor == .abs ? Swift.abs(s) : s)
            for j in 0..<dIn { w.wDec.scalars[i * dIn + j] *= m }
        }
        var config = sae.config
        config.metadata.set("isaerft_merged_from", .string(adapterPath))
        config.metadata.set("isaerft_merge_note", .string(
            "Decoder rows scaled by (1 + s) from an ISaeRFT scale adapter. Equivalent to the adapter only when spliced with the error term computed from the ORIGINAL SAE's decoder: x' = dec'(f) + (x - dec(f)) = x + sum_i s_i f_i W_dec[i]."))
        return try SparseAutoencoder(config: config, weights: w, logSparsity: sae.logSparsity)
    }

    /// Writes the steering vector as safetensors `{"<hook>.steering_vector": [d_in]}` with metadata
    /// (`hook_name`, `source`, `note`), atomically.
    public static func writeSteeringVector(_ v: Tensor, hookName: String, adapterPath: String, to url: URL) throws {
        try SafeTensors.write([("\(hookName).steering_vector", v)],
                              metadata: ["hook_name": hookName, "source": adapterPath,
                                         "note": "x' = x + v at every position the bias adapter applied to (exact with the error term kept)"],
                              to: url)
    }

    static func checkSAE(_ sae: SparseAutoencoder, dSAE: Int, kind: String) throws {
        guard sae.dSAE == dSAE else {
            throw AdapterError.notMergeable("\(kind) adapter has \(dSAE) values but the SAE has d_sae \(sae.dSAE)")
        }
    }

    static func rowNorms(_ w: Tensor) -> [Double] {
        let (rows, cols) = w.matrixShape
        return (0..<rows).map { i in
            var s = 0.0
            for j in 0..<cols { let v = Double(w.scalars[i * cols + j]); s += v * v }
            return s.squareRoot()
        }
    }
}
