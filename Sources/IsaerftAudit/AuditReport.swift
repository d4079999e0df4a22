import Foundation
import IsaerftTuning

/// One token window around a place where a latent fired on the audit data.
public struct AuditExample: Sendable, Equatable {
    /// Row of the audit data and position of the centre token in it.
    public var row: Int
    public var position: Int
    public var activation: Float
    /// Display text of each window token and the latent's activation there.
    public var tokens: [String]
    public var activations: [Float]
    /// Index of the centre token in `tokens`.
    public var centre: Int
}

/// One latent in an audit listing.
public struct AuditedLatent: Sendable, Equatable {
    public var index: Int
    /// scale: `s_i`; bias: `b_i`; mlp: `mean_t δ_i(t)` over the data (signed).
    public var value: Double
    /// mlp only: `mean_t |δ_i(t)|` over the data.
    public var meanAbsChange: Double?
    /// See `ComponentAudit.effectFormula`; nil when it needs data that was not given.
    public var effect: Double?
    /// Fraction of data tokens (BOS excluded) where `f_i > 0`.
    public var frequency: Double?
    /// `mean_t |f_i(t)|` over data tokens.
    public var meanAbsActivation: Double?
    /// `‖W_dec[i]‖₂` (divided by itself, i.e. 1, for SAEs with `rescale_acts_by_decoder_norm`).
    public var decoderNorm: Double
    public var label: String?
    public var url: String?
    /// The latent's value at each `ComponentAudit.trajectorySteps` (scale and bias only).
    public var trajectory: [Float]?
    public var examples: [AuditExample]
}

/// What one component changed.
public struct ComponentAudit: Sendable {
    public var hookName: String
    public var kind: ComponentKind
    public var sae: AdapterSAE
    /// Summary of the raw values: count, L2 norm, largest |value|, number with |value| > 1e-3.
    public var valueCount: Int
    public var l2Norm: Double
    public var maxAbs: Double
    public var movedCount: Int
    /// Most increased (largest value first) and most decreased (most negative first).
    public var up: [AuditedLatent]
    public var down: [AuditedLatent]
    /// Largest effect first (empty when the effect needs data that was not given).
    public var byEffect: [AuditedLatent]
    public var valueFormula: String
    public var effectFormula: String
    public var trajectorySteps: [Int]
}

/// An adapter audit: per component the latents moved most, with labels, links, trajectories and examples,
/// and the training curve. Render with `markdown()`, `jsonObject()`, `html()`; write with `write(to:)`.
public struct AuditReport: Sendable {
    public var adapterPath: String
    public var config: AdapterConfig
    public var components: [ComponentAudit]
    /// `records.jsonl`, when the folder has it.
    public var records: [TrainingRecord]
    /// What the data was and how many tokens were read (nil without data).
    public var dataDescription: String?
    public var dataTokens: Int
    public var notes: [String]
}
