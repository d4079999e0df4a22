import IsaerftCore
import IsaerftRuns
import IsaerftSAE

/// Problems a training SAE reports.
public enum TrainingSAEError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case badInput(String)
    case missingCheckpointTensor(String)
    case checkpointShape(String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .invalidConfig(r): "SAE training config: \(r)"
        case let .badInput(r): "SAE training input: \(r)"
        case let .missingCheckpointTensor(k): "SAE training checkpoint: tensor \(k) is missing"
        case let .checkpointShape(k, e, f): "SAE training checkpoint: \(k) has shape \(f), expected \(e)"
        }
    }
}

/// The losses and statistics of one forward/backward pass.
public struct SAEStepLosses: Sendable, Equatable {
    /// `mean_batch Σ_d (x̂ − x)²` (on the scaled input).
    public var mse: Double = 0
    /// l1 (standard, gated) or l0 (jumprelu) sparsity loss, coefficient included.
    public var sparsity: Double = 0
    /// topk/batchtopk aux-k loss, or gated's auxiliary reconstruction loss.
    public var auxiliary: Double = 0
    /// jumprelu pre-activation loss (0 when off or no latent is dead).
    public var preAct: Double = 0
    public var total: Double { mse + sparsity + auxiliary + preAct }
    /// Mean number of firing latents per row.
    public var l0: Double = 0
    /// `1 − mean‖x̂ − x‖² / mean‖x − mean(x)‖²`.
    public var explainedVariance: Double = 0
    /// Rows that fired each latent, `[d_sae]`.
    public var fireCounts: [Int32] = []
}

/// A trainable SAE of any SAELens v6 architecture: hand-written forward and backward, Adam,
/// grad-norm clipping, SAELens schedules, dead-latent tracking.
///
/// One `trainStep` equals SAELens 6.54.12 `SAETrainer._train_step` with the architecture's
/// `training_forward_pass` (see `scripts/make_sae_train_fixtures.py`): dead mask from the counters
/// → forward and losses (coefficient warm-up at `step`) → firing counters → backward →
/// `clip_grad_norm_` → `Adam.step` at the scheduled learning rate.
public struct TrainingSAE: TrainableSAE {
    public let config: SAETrainingConfig
    public internal(set) var parameters: SAEParameters
    /// Gradients of the last `computeGradients` / `trainStep` (before clipping).
    public internal(set) var gradients: SAEParameters
    public internal(set) var optimizer: Optimizer
    /// Steps since each latent last fired (SAELens `n_forward_passes_since_fired`, float as there).
    public var stepsSinceFired: [Float]
    /// batchtopk's learned threshold (float64 buffer in SAELens).
    public var topkThreshold: Double
    /// `s` of expected_average_only_in; starts as `config.activationNormScale`.
    public var activationNormScale: Double?
    /// Optimiser steps taken.
    public internal(set) var stepsTaken: Int = 0
    var ws = Workspace()

    public var dIn: Int { config.dIn }
    public var dSAE: Int { config.dSAE }
    public var architecture: SAETrainingArchitecture { config.architecture }

    /// A fresh SAE with SAELens v6 initialisation drawn from `SplitMix64(seed: config.seed)`:
    /// `W_dec` Kaiming-uniform (bound `√(6/d_in)`), rows rescaled to `decoder_init_norm`,
    /// `W_enc = W_decᵀ`, biases 0, `r_mag` 0, jumprelu `threshold = jumprelu_init_threshold`.
    public init(config: SAETrainingConfig) throws {
        if let p = config.validationProblem() { throw TrainingSAEError.invalidConfig(p) }
        var p = SAEParameters(architecture: config.architecture, dIn: config.dIn, dSAE: config.dSAE)
        var rng = SplitMix64(seed: config.seed)
        let bound = Float((6.0 / Double(config.dIn)).squareRoot())
        for i in 0..<p.wDec.count { p.wDec.scalars[i] = (2 * rng.nextUnitFloat() - 1) * bound }
        if let norm = config.decoderInitNorm {
            let n = rowNorms(p.wDec)
            for i in 0..<config.dSAE {
                let s = Float(norm) / max(n[i], 1e-12)
                for j in 0..<config.dIn { p.wDec.scalars[i * config.dIn + j] *= s }
            }
        }
        p.wEncT = p.wDec
        if config.architecture == .jumprelu { p.threshold = Tensor(shape: [config.dSAE], repeating: Float(config.jumpReLUInitThreshold)) }
        try self.init(config: config, internalParameters: p)
    }

    /// An SAE starting from given SAELens-named tensors (`W_enc [d_in, d_sae]`, …), e.g. to continue
    /// training a saved SAE or to replay a reference.
    public init(config: SAETrainingConfig, parameters named: [String: Tensor]) throws {
        if let p = config.validationProblem() { throw TrainingSAEError.invalidConfig(p) }
        var p = SAEParameters(architecture: config.architecture, dIn: config.dIn, dSAE: config.dSAE)
        for (name, path) in SAEParameters.keys(config.architecture) {
            guard var t = named[name] else { throw TrainingSAEError.missingCheckpointTensor(name) }
            if name == "W_enc" {
                guard t.shape == [config.dIn, config.dSAE] else {
                    throw TrainingSAEError.checkpointShape(name, expected: [config.dIn, config.dSAE], found: t.shape)
                }
                t = transposed(t)
            }
            guard t.shape == p[keyPath: path].shape else { throw TrainingSAEError.checkpointShape(name, expected: p[keyPath: path].shape, found: t.shape) }
            p[keyPath: path] = t
        }
        try self.init(config: config, internalParameters: p)
    }

    init(config: SAETrainingConfig, internalParameters p: SAEParameters) throws {
        self.config = config
        parameters = p
        gradients = SAEParameters(architecture: config.architecture, dIn: config.dIn, dSAE: config.dSAE)
        optimizer = Optimizer(config: OptimizerConfig(kind: .adam, beta1: config.adamBeta1, beta2: config.adamBeta2,
                                                      eps: config.adamEpsilon, noDecayNameFragments: []))
        stepsSinceFired = [Float](repeating: 0, count: config.dSAE)
        topkThreshold = 0
        activationNormScale = config.activationNormScale
    }

    /// Latents counted dead at the next step (`steps since fired > dead_feature_window`).
    public var deadLatents: [Int32] {
        let w = Float(config.deadFeatureWindow)
        return (0..<dSAE).compactMap { stepsSinceFired[$0] > w ? Int32($0) : nil }
    }

    /// The input the SAE sees: `x` scaled by `activationNormScale` under expected_average_only_in.
    func scaledInput(_ x: Tensor) throws -> Tensor {
        guard x.rank == 2, x.shape[1] == dIn, x.shape[0] > 0 else {
            throw TrainingSAEError.badInput("expected activations [n, \(dIn)], got \(x.shape)")
        }
        guard config.normalizeActivations == .expectedAverageOnlyIn else { return x }
        guard let s = activationNormScale else {
            throw TrainingSAEError.badInput("normalize_activations is expected_average_only_in but no activation_norm_scale is set")
        }
        let f = Float(s)
        var y = x
        y.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= f } }
        return y
    }

    /// Forward, losses and backward on `x` `[n, d_in]` at `step` (coefficient warm-up, dead mask from
    /// the counters); fills `gradients`. Changes no parameter and no counter (jumprelu thresholds are
    /// clamped at 0 first, as SAELens does at the start of each step).
    public mutating func computeGradients(_ x: Tensor, step: Int) throws -> SAEStepLosses {
        let y = try scaledInput(x)
        if architecture == .jumprelu {
            parameters.threshold.withUnsafeMutableBufferPointer { p in for i in p.indices where p[i] < 0 { p[i] = 0 } }
        }
        let coef = config.sparsityCoefficient.value(step: step)
        let dead = deadLatents
        switch architecture {
        case .standard: return standardPass(y, coefficient: coef)
        case .jumprelu: return jumpReLUPass(y, coefficient: coef, dead: dead)
        case .gated: return gatedPass(y, coefficient: coef)
        case .topk, .batchtopk: return topKPass(y, dead: dead)
        }
    }

    public mutating func trainStep(_ x: Tensor, step: Int, totalSteps: Int) throws -> SAEStepReport {
        let losses = try computeGradients(x, step: step)
        for i in 0..<dSAE { stepsSinceFired[i] = losses.fireCounts[i] > 0 ? 0 : stepsSinceFired[i] + 1 }
        let keys = SAEParameters.keys(architecture)
        let norm = GradientClipping.globalNorm(keys.map { gradients[keyPath: $0.1] })
        let clip = GradientClipping.coefficient(norm: norm, maxNorm: config.maxGradNorm)
        let lr = config.learningRateSchedule.learningRate(step: step, totalSteps: totalSteps, baseLR: config.lr)
        for (name, path) in keys {
            optimizer.update(name, parameter: &parameters[keyPath: path], gradient: gradients[keyPath: path],
                             learningRate: lr, gradientScale: clip)
        }
        stepsTaken += 1
        let coef = config.sparsityCoefficient.value(step: step)
        var m: [String: Double] = [
            "losses/overall_loss": losses.total, "losses/mse_loss": losses.mse,
            "metrics/mse": losses.mse, "metrics/l0": losses.l0, "metrics/explained_variance": losses.explainedVariance,
            "details/current_learning_rate": lr, "metrics/grad_norm": norm,
            "sparsity/dead_features": Double(deadLatents.count),
        ]
        m["sparsity/mean_passes_since_fired"] = stepsSinceFired.reduce(0.0) { $0 + Double($1) } / Double(dSAE)
        // The contract's generic key for the sparsity coefficient, and SAELens' `details/{name}_coefficient`.
        if architecture == .standard || architecture == .gated || architecture == .jumprelu {
            m["details/current_l1_coefficient"] = coef
            m[architecture == .jumprelu ? "details/l0_coefficient" : "details/l1_coefficient"] = coef
        }
        switch architecture {
        case .standard: m["losses/l1_loss"] = losses.sparsity
        case .gated:
            m["losses/l1_loss"] = losses.sparsity
            m["losses/auxiliary_reconstruction_loss"] = losses.auxiliary
        case .jumprelu:
            m["losses/l0_loss"] = losses.sparsity
            if config.preActLossCoefficient != nil { m["losses/pre_act_loss"] = losses.preAct }
        case .topk: m["losses/auxiliary_reconstruction_loss"] = losses.auxiliary
        case .batchtopk:
            m["losses/auxiliary_reconstruction_loss"] = losses.auxiliary; m["metrics/topk_threshold"] = topkThreshold
        }
        return SAEStepReport(metrics: m, fireCounts: losses.fireCounts)
    }
}

/// Buffers reused across steps (resized when the batch size changes).
struct Workspace: Sendable {
    var u = Tensor(shape: [0]), xhat = Tensor(shape: [0]), dxhat = Tensor(shape: [0]), aux = Tensor(shape: [0])
    var h = Tensor(shape: [0]), f = Tensor(shape: [0]), g = Tensor(shape: [0]), g2 = Tensor(shape: [0]), h2 = Tensor(shape: [0])
    var sparse = SparseRows(), auxRows = SparseRows()

    /// Makes `t` a tensor of `shape` without clearing it when the shape already matches.
    static func ensure(_ t: inout Tensor, _ shape: [Int]) {
        if t.shape != shape { t = Tensor.uninitialized(shape) }
    }
}
