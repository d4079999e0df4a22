import IsaerftCore
import IsaerftRuns
import IsaerftSAE

extension TrainingSAE {
    /// Parameters with SAELens names and layouts (`W_enc [d_in, d_sae]`).
    public var namedParameters: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, path) in SAEParameters.keys(architecture) {
            out[name] = name == "W_enc" ? transposed(parameters[keyPath: path]) : parameters[keyPath: path]
        }
        return out
    }

    /// Gradients of the last pass with SAELens names and layouts.
    public var namedGradients: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, path) in SAEParameters.keys(architecture) {
            out[name] = name == "W_enc" ? transposed(gradients[keyPath: path]) : gradients[keyPath: path]
        }
        return out
    }

    /// Parameters (SAELens names), Adam state (`optimizer.<name>.exp_avg|exp_avg_sq|step`, W_enc's
    /// moments in the `[d_in, d_sae]` layout), `n_forward_passes_since_fired`, `topk_threshold`
    /// (Double split into two floats, exact), `activation_norm_scale` (same), `n_training_steps`.
    public func checkpointTensors() -> [String: Tensor] {
        var out = namedParameters
        for (k, v) in optimizer.stateTensors() {
            out[k] = k.hasPrefix("optimizer.W_enc.") && v.rank == 2 ? transposed(v) : v
        }
        out["n_forward_passes_since_fired"] = Tensor(shape: [dSAE], scalars: stepsSinceFired)
        out["topk_threshold"] = splitDouble(topkThreshold)
        if let s = activationNormScale { out["activation_norm_scale"] = splitDouble(s) }
        out["n_training_steps"] = Tensor(shape: [1], scalars: [Float(stepsTaken)])
        return out
    }

    public mutating func restore(from tensors: [String: Tensor]) throws {
        var p = SAEParameters(architecture: architecture, dIn: dIn, dSAE: dSAE)
        var shapes: [String: [Int]] = [:]
        for (name, path) in SAEParameters.keys(architecture) {
            let want = name == "W_enc" ? [dIn, dSAE] : p[keyPath: path].shape
            guard let t = tensors[name] else { throw TrainingSAEError.missingCheckpointTensor(name) }
            guard t.shape == want else { throw TrainingSAEError.checkpointShape(name, expected: want, found: t.shape) }
            p[keyPath: path] = name == "W_enc" ? transposed(t) : t
            shapes[name] = p[keyPath: path].shape
        }
        var state = tensors.filter { $0.key.hasPrefix("optimizer.") }
        for (k, v) in state where k.hasPrefix("optimizer.W_enc.") && v.rank == 2 { state[k] = transposed(v) }
        var opt = optimizer
        do { try opt.restore(from: state, shapes: shapes) } catch let e as OptimizerError {
            throw TrainingSAEError.invalidConfig("optimizer state: \(e)")
        }
        guard let fired = tensors["n_forward_passes_since_fired"] else { throw TrainingSAEError.missingCheckpointTensor("n_forward_passes_since_fired") }
        guard fired.shape == [dSAE] else { throw TrainingSAEError.checkpointShape("n_forward_passes_since_fired", expected: [dSAE], found: fired.shape) }
        guard let th = tensors["topk_threshold"], th.shape == [3] else { throw TrainingSAEError.missingCheckpointTensor("topk_threshold") }
        guard let steps = tensors["n_training_steps"], steps.count == 1 else { throw TrainingSAEError.missingCheckpointTensor("n_training_steps") }
        parameters = p
        optimizer = opt
        stepsSinceFired = fired.scalars
        topkThreshold = joinDouble(th)
        activationNormScale = tensors["activation_norm_scale"].map(joinDouble) ?? config.activationNormScale
        stepsTaken = Int(steps.scalars[0])
    }

    /// The inference SAE, as SAELens saves it at the end of training: the activation scale folded
    /// (`W_enc·s`, `W_dec/s`, `b_dec/s`; batchtopk threshold `/s` under decoder-norm rescaling),
    /// then topk/batchtopk decoder norms folded (`W_dec/n`, `W_enc·n`, `b_enc·n`); batchtopk becomes
    /// jumprelu with `threshold = topk_threshold` for every latent.
    public func inferenceSAE(metadata: SAETrainingMetadata) throws -> SparseAutoencoder {
        var named = namedParameters
        var threshold = topkThreshold
        // The training loop scales batches itself and records its factor in the metadata (the SAE's own
        // scale is then 1); a standalone TrainingSAE scales with `activationNormScale`.
        let scale = config.normalizeActivations == .expectedAverageOnlyIn ? (metadata.normScalingFactor ?? activationNormScale) : nil
        if config.normalizeActivations == .expectedAverageOnlyIn && scale == nil {
            throw TrainingSAEError.invalidConfig("expected_average_only_in without an activation scale to fold")
        }
        if let s = scale {
            let f = Float(s)
            named["W_enc"]!.scalars = named["W_enc"]!.scalars.map { $0 * f }
            named["W_dec"]!.scalars = named["W_dec"]!.scalars.map { $0 / f }
            named["b_dec"]!.scalars = named["b_dec"]!.scalars.map { $0 / f }
            if architecture == .batchtopk && config.rescaleActsByDecoderNorm { threshold /= s }
        }
        let isTopK = architecture == .topk || architecture == .batchtopk
        if isTopK && config.rescaleActsByDecoderNorm {
            let n = rowNorms(named["W_dec"]!).map { max($0, 1e-8) }
            let (m, d) = (dSAE, dIn)
            for i in 0..<m { for j in 0..<d { named["W_dec"]!.scalars[i * d + j] /= n[i] } }
            for j in 0..<d { for i in 0..<m { named["W_enc"]!.scalars[j * m + i] *= n[i] } }
            for i in 0..<m { named["b_enc"]!.scalars[i] *= n[i] }
        }
        let arch: SAEArchitecture
        switch architecture {
        case .standard: arch = .standard
        case .topk: arch = .topk
        case .batchtopk, .jumprelu: arch = .jumprelu
        case .gated: arch = .gated
        }
        if architecture == .batchtopk { named["threshold"] = Tensor(shape: [dSAE], repeating: Float(threshold)) }
        let weights = SAEWeights(wEnc: named["W_enc"]!, bEnc: named["b_enc"], wDec: named["W_dec"]!, bDec: named["b_dec"]!,
                                 threshold: named["threshold"], bGate: named["b_gate"], rMag: named["r_mag"], bMag: named["b_mag"])
        let meta: JSONValue = .object([
            ("model_name", .string(metadata.modelName)), ("hook_name", .string(metadata.hookName)),
            ("hook_head_index", .null), ("context_size", .int(metadata.contextSize)),
            ("prepend_bos", .bool(metadata.prependBOS)), ("dataset_path", .string(metadata.datasetPath)),
            ("training_architecture", .string(architecture.rawValue)), ("trained_with", .string("isaerft")),
        ])
        let cfg = SAEConfig(architecture: arch, dIn: dIn, dSAE: dSAE, applyBDecToInput: config.applyBDecToInput,
                            normalizeActivations: .none, k: architecture == .topk ? Int(config.k) : nil,
                            rescaleActsByDecoderNorm: architecture == .topk && config.rescaleActsByDecoderNorm, metadata: meta)
        return try SparseAutoencoder(config: cfg, weights: weights, source: "TrainingSAE")
    }
}

/// A Double as three Floats (successive remainders): 3 × 24 bits hold its 53, so `joinDouble`
/// returns it exactly (for values in Float range).
func splitDouble(_ v: Double) -> Tensor {
    let a = Float(v), r1 = v - Double(a), b = Float(r1), c = Float(r1 - Double(b))
    return Tensor(shape: [3], scalars: [a, b, c])
}

func joinDouble(_ t: Tensor) -> Double { t.scalars.reduce(0.0) { $0 + Double($1) } }
