import Foundation
import IsaerftCore

/// The parameters of an SAE under SAELens' state-dict names (row-vector convention: `x·W_enc`).
public struct SAEWeights: Sendable, Equatable {
    public var wEnc: Tensor          // W_enc  [d_in, d_sae]
    public var bEnc: Tensor?         // b_enc  [d_sae]   (all but gated)
    public var wDec: Tensor          // W_dec  [d_sae, d_in]
    public var bDec: Tensor          // b_dec  [d_in]
    public var threshold: Tensor?    // threshold [d_sae]  (jumprelu)
    public var bGate: Tensor?        // b_gate [d_sae]   (gated)
    public var rMag: Tensor?         // r_mag  [d_sae]   (gated)
    public var bMag: Tensor?         // b_mag  [d_sae]   (gated)

    public init(wEnc: Tensor, bEnc: Tensor?, wDec: Tensor, bDec: Tensor, threshold: Tensor? = nil,
                bGate: Tensor? = nil, rMag: Tensor? = nil, bMag: Tensor? = nil) {
        self.wEnc = wEnc; self.bEnc = bEnc; self.wDec = wDec; self.bDec = bDec; self.threshold = threshold
        self.bGate = bGate; self.rMag = rMag; self.bMag = bMag
    }

    /// Checkpoint key → field, for every tensor SAELens stores.
    static var checkpointKeys: [(String, WritableKeyPath<SAEWeights, Tensor?>)] { [
        ("W_enc", \.wEncOptional), ("b_enc", \.bEnc), ("W_dec", \.wDecOptional), ("b_dec", \.bDecOptional),
        ("threshold", \.threshold), ("b_gate", \.bGate), ("r_mag", \.rMag), ("b_mag", \.bMag),
    ] }

    /// The shape SAELens gives tensor `name`.
    static func expectedShape(_ name: String, dIn: Int, dSAE: Int) -> [Int] {
        switch name {
        case "W_enc": [dIn, dSAE]
        case "W_dec": [dSAE, dIn]
        case "b_dec": [dIn]
        default: [dSAE]
        }
    }

    /// The tensors of `architecture` under their checkpoint names.
    func named(_ architecture: SAEArchitecture) -> [(String, Tensor)] {
        let wanted = Set(architecture.tensorNames)
        return Self.checkpointKeys.compactMap { key, path in wanted.contains(key) ? self[keyPath: path].map { (key, $0) } : nil }
    }

    private var wEncOptional: Tensor? { get { wEnc } set { if let v = newValue { wEnc = v } } }
    private var wDecOptional: Tensor? { get { wDec } set { if let v = newValue { wDec = v } } }
    private var bDecOptional: Tensor? { get { bDec } set { if let v = newValue { bDec = v } } }

    static var empty: SAEWeights { SAEWeights(wEnc: Tensor(shape: [0]), bEnc: nil, wDec: Tensor(shape: [0]), bDec: Tensor(shape: [0])) }
}

/// A sparse autoencoder at inference, computing exactly what SAELens 6.54.12's inference classes
/// compute (`StandardSAE`, `GatedSAE`, `TopKSAE`, `AbsTopKSAE`, `JumpReLUSAE`), in fp32.
///
/// ```swift
/// let sae = try SparseAutoencoder.load(folder: url)          // cfg.json + sae_weights.safetensors
/// let f = try sae.encode(x)                                   // [n, d_in] → [n, d_sae]
/// let xHat = try sae.reconstruct(x)                           // decode(encode(x)), x's shape
/// ```
public struct SparseAutoencoder: Sendable {
    public internal(set) var config: SAEConfig
    public internal(set) var weights: SAEWeights
    /// `sparsity.safetensors` → `sparsity [d_sae]` = log10(firing fraction + 1e-10), when the folder has it.
    public var logSparsity: Tensor?
    /// A scaling factor that was folded into the weights at load (`expected_average_only_in`), if any.
    public internal(set) var foldedNormScalingFactor: Double?

    /// gated: `W_enc ⊙ exp(r_mag)` (columns scaled), computed once.
    let magnitudeEncoder: Tensor?
    /// topk / abstopk with `rescale_acts_by_decoder_norm`: `‖W_dec[i, :]‖₂` as torch computes it in fp32.
    public let decoderNorms: [Float]?

    /// Builds an SAE, checking that every tensor the architecture needs is present with SAELens' shape.
    /// `source` names the weights in errors.
    public init(config: SAEConfig, weights: SAEWeights, logSparsity: Tensor? = nil, source: String = "SAE weights") throws {
        var missing: [String] = []
        for (name, path) in SAEWeights.checkpointKeys where config.architecture.tensorNames.contains(name) {
            guard let t = weights[keyPath: path] else { missing.append(name); continue }
            let want = SAEWeights.expectedShape(name, dIn: config.dIn, dSAE: config.dSAE)
            if t.shape != want { throw SAEError.shapeMismatch(file: source, tensor: name, expected: want, found: t.shape) }
        }
        if !missing.isEmpty { throw SAEError.missingTensors(file: source, missing) }
        if let s = logSparsity, s.shape != [config.dSAE] {
            throw SAEError.shapeMismatch(file: source, tensor: "sparsity", expected: [config.dSAE], found: s.shape)
        }
        self.config = config
        self.weights = weights
        self.logSparsity = logSparsity
        self.foldedNormScalingFactor = nil
        if config.architecture == .gated, let r = weights.rMag {
            var m = weights.wEnc
            let (rows, cols) = m.matrixShape
            let scale = r.scalars.map { Foundation.exp($0) }
            for i in 0..<rows { for j in 0..<cols { m.scalars[i * cols + j] *= scale[j] } }
            magnitudeEncoder = m
        } else {
            magnitudeEncoder = nil
        }
        decoderNorms = config.rescaleActsByDecoderNorm ? Self.rowNorms(weights.wDec) : nil
    }

    public var dIn: Int { config.dIn }
    public var dSAE: Int { config.dSAE }

    /// `‖W[i, :]‖₂` per row (accumulated in Double, rounded once), clamped at 1e-8 like `get_W_dec_norm`
    /// only where `clamp` is set.
    static func rowNorms(_ w: Tensor, clamp: Bool = false) -> [Float] {
        let (rows, cols) = w.matrixShape
        return (0..<rows).map { i in
            var s = 0.0
            for j in 0..<cols { let v = Double(w.scalars[i * cols + j]); s += v * v }
            let n = Float(s.squareRoot())
            return clamp ? max(n, 1e-8) : n
        }
    }

    // MARK: - Folding (exact re-parameterisations)

    /// SAELens `fold_activation_norm_scaling_factor(s)`: `W_enc ← s·W_enc`, `W_dec ← W_dec/s`,
    /// `b_dec ← b_dec/s`, `normalize_activations ← none`. With `s = √d_in / E‖x‖` the folded SAE
    /// applied to raw activations equals the trained SAE applied to `s·x`, unscaled.
    public func foldingNormScalingFactor(_ s: Double) throws -> SparseAutoencoder {
        var w = weights
        let f = Float(s)
        w.wEnc.scalars = w.wEnc.scalars.map { $0 * f }
        w.wDec.scalars = w.wDec.scalars.map { $0 / f }
        w.bDec.scalars = w.bDec.scalars.map { $0 / f }
        var c = config
        c.normalizeActivations = .none
        var out = try SparseAutoencoder(config: c, weights: w, logSparsity: logSparsity)
        out.foldedNormScalingFactor = s
        return out
    }

    /// SAELens `fold_W_dec_norm`: unit-norm decoder rows, with `W_enc` columns, `b_enc`, and (jumprelu)
    /// `threshold` or (gated) `b_gate`, `b_mag` scaled by the norms. Refused for topk / abstopk SAEs
    /// without `rescale_acts_by_decoder_norm` (the selection would change), as in SAELens.
    public func foldingDecoderNorms() throws -> SparseAutoencoder {
        if (config.architecture == .topk || config.architecture == .abstopk) && !config.rescaleActsByDecoderNorm {
            throw SAEError.unsupported(file: "fold_W_dec_norm",
                                       reason: "folding decoder norms changes a topk SAE's selection unless rescale_acts_by_decoder_norm is set")
        }
        let n = Self.rowNorms(weights.wDec, clamp: true)
        var w = weights
        let (dSAE, dIn) = w.wDec.matrixShape
        for i in 0..<dSAE { for j in 0..<dIn { w.wDec.scalars[i * dIn + j] /= n[i] } }
        for j in 0..<dIn { for i in 0..<dSAE { w.wEnc.scalars[j * dSAE + i] *= n[i] } }
        func scaled(_ t: Tensor?) -> Tensor? { t.map { Tensor(shape: $0.shape, scalars: zip($0.scalars, n).map { $0 * $1 }) } }
        w.bEnc = scaled(w.bEnc)
        w.threshold = scaled(w.threshold)
        w.bGate = scaled(w.bGate)
        w.bMag = scaled(w.bMag)
        var out = try SparseAutoencoder(config: config, weights: w, logSparsity: logSparsity)
        out.foldedNormScalingFactor = foldedNormScalingFactor
        return out
    }

    /// `√d_in / mean_t ‖x_t‖` over the rows of `activations` `[…, d_in]`: SAELens'
    /// `ActivationScaler.estimate_scaling_factor` (which averages over 1000 batches).
    public static func estimateNormScalingFactor(_ activations: Tensor, dIn: Int) -> Double {
        let (rows, cols) = activations.matrixShape
        precondition(cols == dIn, "estimateNormScalingFactor: rows of \(cols) values, d_in is \(dIn)")
        var total = 0.0
        for r in 0..<rows {
            var s = 0.0
            for j in 0..<cols { let v = Double(activations.scalars[r * cols + j]); s += v * v }
            total += s.squareRoot()
        }
        return Double(dIn).squareRoot() / (total / Double(max(rows, 1)))
    }
}
