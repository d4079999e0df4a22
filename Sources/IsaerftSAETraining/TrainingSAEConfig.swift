import IsaerftRuns

/// The trainable SAE architectures (SAELens 6.54.12 training classes).
public enum SAETrainingArchitecture: String, Sendable, Codable, CaseIterable {
    case standard, topk, batchtopk, jumprelu, gated
}

/// JumpReLU sparsity penalty (`jumprelu_sparsity_loss_mode`).
public enum JumpReLUSparsityLoss: String, Sendable, Codable, CaseIterable {
    /// `c · mean_batch Σ_i 1[h_i > θ_i]` with the rectangle-kernel straight-through estimator.
    case step
    /// `c · mean_batch Σ_i tanh(s · f_i · ‖W_dec[i]‖)`.
    case tanh
    /// `c · mean_batch 2/T · (L0 − T)²` with `T = target_l0`.
    case quadratic
}

/// Input normalisation during training (`normalize_activations`).
public enum SAETrainingNormalization: String, Sendable, Codable, CaseIterable {
    case none
    /// `x ← s·x` with `s = √d_in / E‖x‖` (`activation_norm_scale`), folded into the weights on export.
    case expectedAverageOnlyIn = "expected_average_only_in"
}

/// Everything that defines an SAE training run's maths (SAELens `*TrainingSAEConfig` + the trainer's
/// optimiser fields), with SAELens' field names and defaults.
public struct SAETrainingConfig: Sendable, Codable, Equatable {
    public var architecture: SAETrainingArchitecture
    public var dIn: Int
    public var dSAE: Int
    /// topk: latents per row; batchtopk: mean latents per row (`int(k · batch)` kept per batch).
    public var k: Double
    /// standard / gated sparsity coefficient and its linear warm-up.
    public var l1Coefficient: Double
    public var l1WarmUpSteps: Int
    /// jumprelu sparsity coefficient and its linear warm-up.
    public var l0Coefficient: Double
    public var l0WarmUpSteps: Int
    public var jumpReLUBandwidth: Double
    public var jumpReLUInitThreshold: Double
    public var jumpReLUSparsityLoss: JumpReLUSparsityLoss
    public var jumpReLUTanhScale: Double
    /// Adds the threshold's straight-through gradient (negated) into the pre-activation.
    public var jumpReLUSTEToInput: Bool
    public var targetL0: Double?
    /// Anthropic's pre-activation loss on dead latents (nil: off).
    public var preActLossCoefficient: Double?
    /// topk / batchtopk aux-k loss coefficient.
    public var auxLossCoefficient: Double
    public var rescaleActsByDecoderNorm: Bool
    public var topkThresholdLR: Double
    /// A latent is dead once it has not fired for more than this many steps.
    public var deadFeatureWindow: Int
    public var applyBDecToInput: Bool
    /// Decoder rows are initialised to this norm (nil: Kaiming-uniform as drawn).
    public var decoderInitNorm: Double?
    public var normalizeActivations: SAETrainingNormalization
    /// `s` of expected_average_only_in (may be set later, before the first step).
    public var activationNormScale: Double?
    public var lr: Double
    public var adamBeta1: Double
    public var adamBeta2: Double
    public var adamEpsilon: Double
    public var lrScheduler: SAELensLRSchedule.Main
    public var lrWarmUpSteps: Int
    public var lrDecaySteps: Int
    /// nil: lr / 10 (SAELens).
    public var lrEnd: Double?
    public var nRestartCycles: Int
    /// Global grad-norm clip (SAELens hard-codes 1.0); nil or 0: off.
    public var maxGradNorm: Double?
    public var seed: UInt64

    public init(architecture: SAETrainingArchitecture, dIn: Int, dSAE: Int, k: Double = 100,
                l1Coefficient: Double = 1, l1WarmUpSteps: Int = 0, l0Coefficient: Double = 1, l0WarmUpSteps: Int = 0,
                jumpReLUBandwidth: Double = 0.05, jumpReLUInitThreshold: Double = 0.01,
                jumpReLUSparsityLoss: JumpReLUSparsityLoss = .step, jumpReLUTanhScale: Double = 4,
                jumpReLUSTEToInput: Bool = false, targetL0: Double? = nil, preActLossCoefficient: Double? = nil,
                auxLossCoefficient: Double = 1, rescaleActsByDecoderNorm: Bool = true, topkThresholdLR: Double = 0.01,
                deadFeatureWindow: Int = 1000, applyBDecToInput: Bool = true, decoderInitNorm: Double? = 0.1,
                normalizeActivations: SAETrainingNormalization = .none, activationNormScale: Double? = nil,
                lr: Double = 3e-4, adamBeta1: Double = 0.9, adamBeta2: Double = 0.999, adamEpsilon: Double = 1e-8,
                lrScheduler: SAELensLRSchedule.Main = .constant, lrWarmUpSteps: Int = 0, lrDecaySteps: Int = 0,
                lrEnd: Double? = nil, nRestartCycles: Int = 1, maxGradNorm: Double? = 1, seed: UInt64 = 42) {
        self.architecture = architecture; self.dIn = dIn; self.dSAE = dSAE; self.k = k
        self.l1Coefficient = l1Coefficient; self.l1WarmUpSteps = l1WarmUpSteps
        self.l0Coefficient = l0Coefficient; self.l0WarmUpSteps = l0WarmUpSteps
        self.jumpReLUBandwidth = jumpReLUBandwidth; self.jumpReLUInitThreshold = jumpReLUInitThreshold
        self.jumpReLUSparsityLoss = jumpReLUSparsityLoss; self.jumpReLUTanhScale = jumpReLUTanhScale
        self.jumpReLUSTEToInput = jumpReLUSTEToInput; self.targetL0 = targetL0
        self.preActLossCoefficient = preActLossCoefficient; self.auxLossCoefficient = auxLossCoefficient
        self.rescaleActsByDecoderNorm = rescaleActsByDecoderNorm; self.topkThresholdLR = topkThresholdLR
        self.deadFeatureWindow = deadFeatureWindow; self.applyBDecToInput = applyBDecToInput
        self.decoderInitNorm = decoderInitNorm; self.normalizeActivations = normalizeActivations
        self.activationNormScale = activationNormScale; self.lr = lr; self.adamBeta1 = adamBeta1
        self.adamBeta2 = adamBeta2; self.adamEpsilon = adamEpsilon; self.lrScheduler = lrScheduler
        self.lrWarmUpSteps = lrWarmUpSteps; self.lrDecaySteps = lrDecaySteps; self.lrEnd = lrEnd
        self.nRestartCycles = nRestartCycles; self.maxGradNorm = maxGradNorm; self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case architecture, dIn = "d_in", dSAE = "d_sae", k, l1Coefficient = "l1_coefficient"
        case l1WarmUpSteps = "l1_warm_up_steps", l0Coefficient = "l0_coefficient", l0WarmUpSteps = "l0_warm_up_steps"
        case jumpReLUBandwidth = "jumprelu_bandwidth", jumpReLUInitThreshold = "jumprelu_init_threshold"
        case jumpReLUSparsityLoss = "jumprelu_sparsity_loss_mode", jumpReLUTanhScale = "jumprelu_tanh_scale"
        case jumpReLUSTEToInput = "jumprelu_ste_to_input", targetL0 = "target_l0"
        case preActLossCoefficient = "pre_act_loss_coefficient", auxLossCoefficient = "aux_loss_coefficient"
        case rescaleActsByDecoderNorm = "rescale_acts_by_decoder_norm", topkThresholdLR = "topk_threshold_lr"
        case deadFeatureWindow = "dead_feature_window", applyBDecToInput = "apply_b_dec_to_input"
        case decoderInitNorm = "decoder_init_norm", normalizeActivations = "normalize_activations"
        case activationNormScale = "activation_norm_scale", lr, adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2"
        case adamEpsilon = "adam_epsilon", lrScheduler = "lr_scheduler_name", lrWarmUpSteps = "lr_warm_up_steps"
        case lrDecaySteps = "lr_decay_steps", lrEnd = "lr_end", nRestartCycles = "n_restart_cycles"
        case maxGradNorm = "max_grad_norm", seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SAETrainingConfig(architecture: .standard, dIn: 1, dSAE: 1)
        func v<T: Decodable>(_ key: CodingKeys, _ def: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? def }
        self.init(architecture: try c.decode(SAETrainingArchitecture.self, forKey: .architecture),
                  dIn: try c.decode(Int.self, forKey: .dIn), dSAE: try c.decode(Int.self, forKey: .dSAE),
                  k: try v(.k, d.k), l1Coefficient: try v(.l1Coefficient, d.l1Coefficient),
                  l1WarmUpSteps: try v(.l1WarmUpSteps, 0), l0Coefficient: try v(.l0Coefficient, d.l0Coefficient),
                  l0WarmUpSteps: try v(.l0WarmUpSteps, 0), jumpReLUBandwidth: try v(.jumpReLUBandwidth, d.jumpReLUBandwidth),
                  jumpReLUInitThreshold: try v(.jumpReLUInitThreshold, d.jumpReLUInitThreshold),
                  jumpReLUSparsityLoss: try v(.jumpReLUSparsityLoss, d.jumpReLUSparsityLoss),
                  jumpReLUTanhScale: try v(.jumpReLUTanhScale, d.jumpReLUTanhScale),
                  jumpReLUSTEToInput: try v(.jumpReLUSTEToInput, false),
                  targetL0: try c.decodeIfPresent(Double.self, forKey: .targetL0),
                  preActLossCoefficient: try c.decodeIfPresent(Double.self, forKey: .preActLossCoefficient),
                  auxLossCoefficient: try v(.auxLossCoefficient, d.auxLossCoefficient),
                  rescaleActsByDecoderNorm: try v(.rescaleActsByDecoderNorm, true),
                  topkThresholdLR: try v(.topkThresholdLR, d.topkThresholdLR),
                  deadFeatureWindow: try v(.deadFeatureWindow, d.deadFeatureWindow),
                  applyBDecToInput: try v(.applyBDecToInput, true),
                  decoderInitNorm: c.contains(.decoderInitNorm) ? try c.decodeIfPresent(Double.self, forKey: .decoderInitNorm) : 0.1,
                  normalizeActivations: try v(.normalizeActivations, SAETrainingNormalization.none),
                  activationNormScale: try c.decodeIfPresent(Double.self, forKey: .activationNormScale),
                  lr: try v(.lr, d.lr), adamBeta1: try v(.adamBeta1, d.adamBeta1), adamBeta2: try v(.adamBeta2, d.adamBeta2),
                  adamEpsilon: try v(.adamEpsilon, d.adamEpsilon), lrScheduler: try v(.lrScheduler, d.lrScheduler),
                  lrWarmUpSteps: try v(.lrWarmUpSteps, 0), lrDecaySteps: try v(.lrDecaySteps, 0),
                  lrEnd: try c.decodeIfPresent(Double.self, forKey: .lrEnd), nRestartCycles: try v(.nRestartCycles, 1),
                  maxGradNorm: c.contains(.maxGradNorm) ? try c.decodeIfPresent(Double.self, forKey: .maxGradNorm) : 1,
                  seed: try v(.seed, d.seed))
        if let problem = validationProblem() {
            throw DecodingError.dataCorruptedError(forKey: .architecture, in: c, debugDescription: problem)
        }
    }

    /// A one-line reason the configuration cannot be trained, or nil.
    public func validationProblem() -> String? {
        if dIn <= 0 || dSAE <= 0 { return "d_in and d_sae must be positive (got \(dIn), \(dSAE))" }
        if (architecture == .topk || architecture == .batchtopk) && !(k > 0) { return "k must be positive (got \(k))" }
        if architecture == .topk && (k != k.rounded() || Int(k) > dSAE) { return "topk needs an integer k ≤ d_sae (got \(k))" }
        if architecture == .jumprelu && !(jumpReLUBandwidth > 0) { return "jumprelu_bandwidth must be positive" }
        if architecture == .jumprelu && jumpReLUSparsityLoss == .quadratic && !((targetL0 ?? 0) > 0) {
            return "jumprelu_sparsity_loss_mode quadratic needs target_l0 > 0"
        }
        if lrDecaySteps > 0 && lrScheduler != .constant && (lrEnd ?? lr / 10) == 0 {
            return "lr_decay_steps with lr_end 0 decays from 0 to 0"
        }
        if !(0..<1).contains(adamBeta1) || !(0..<1).contains(adamBeta2) { return "Adam betas must lie in [0, 1)" }
        return nil
    }

    /// The learning-rate schedule (SAELens `get_lr_scheduler`).
    public var learningRateSchedule: SAELensLRSchedule {
        SAELensLRSchedule(main: lrScheduler, warmUpSteps: lrWarmUpSteps, decaySteps: lrDecaySteps,
                          lrEnd: lrEnd ?? lr / 10, cycles: nRestartCycles)
    }

    /// The sparsity-coefficient warm-up (l1 for standard/gated, l0 for jumprelu; none for topk).
    public var sparsityCoefficient: CoefficientWarmUp {
        switch architecture {
        case .standard, .gated: CoefficientWarmUp(finalValue: l1Coefficient, warmUpSteps: l1WarmUpSteps)
        case .jumprelu: CoefficientWarmUp(finalValue: l0Coefficient, warmUpSteps: l0WarmUpSteps)
        case .topk, .batchtopk: CoefficientWarmUp(finalValue: 0, warmUpSteps: 0)
        }
    }
}
