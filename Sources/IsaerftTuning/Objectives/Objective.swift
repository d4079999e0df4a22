import Foundation

/// A training objective on summed sequence log-probs, with TRL's definitions (read from TRL 1.16.0:
/// `trl/trainer/dpo_trainer.py` `DPOTrainer._compute_loss`, `trl/experimental/orpo/orpo_trainer.py`
/// `ORPOTrainer.odds_ratio_loss` / `get_batch_loss_metrics`, `trl/experimental/cpo/cpo_trainer.py`
/// `CPOTrainer.cpo_loss` / `get_batch_loss_metrics`; SFT as `SFTTrainer` with a completion-only loss).
/// Every loss is a mean over pairs (SFT, and the NLL terms: a mean over tokens of the batch).
/// β is `beta`; ρ = logπθ − logπref per sequence; Δ = ρ⁺ − ρ⁻; ℓ = sum / token count.
public enum Objective: Sendable, Equatable {
    /// TRL `loss_type="sigmoid"`: `−logσ(βΔ)`. With `labelSmoothing` ε > 0, conservative DPO as TRL
    /// ≤ 0.28 computed it, `−(1−ε)·logσ(βΔ) − ε·logσ(−βΔ)` (TRL 1.16 ignores ε for "sigmoid"; equal at ε = 0).
    case dpo(beta: Double, labelSmoothing: Double = 0)
    /// TRL `loss_type="ipo"`: `(ρ⁺/len⁺ − ρ⁻/len⁻ − 1/(2β))²` (TRL 1.16 length-normalises the log-ratios).
    case ipo(beta: Double)
    /// TRL `loss_type="hinge"`: `max(0, 1 − βΔ)`.
    case hinge(beta: Double)
    /// TRL ORPOTrainer: `NLL − β·mean logσ(LO)`, `LO = (ℓ⁺ − ℓ⁻) − (log(1 − e^ℓ⁺) − log(1 − e^ℓ⁻))`,
    /// NLL = mean token cross-entropy over **every real token** of the chosen rows (prompt included,
    /// TRL's labels = input ids where attention mask = 1): score them with an NLL mask
    /// (`SequenceScoring.realTokenMask`). Reference-free.
    case orpo(beta: Double)
    /// TRL CPOTrainer `loss_type="simpo"`: `−(1−ε)·logσ(β(ℓ⁺ − ℓ⁻) − γ) − ε·logσ(−β(ℓ⁺ − ℓ⁻) + γ)`
    /// (TRL subtracts the ratio γ/β from ℓ⁺ − ℓ⁻, then multiplies by β) plus `cpoAlpha`·NLL of the chosen
    /// completion tokens. SimPO proper has `cpoAlpha` = 0; TRL's `CPOConfig.cpo_alpha` default is 1.0.
    case simpo(beta: Double, gamma: Double = 0.5, labelSmoothing: Double = 0, cpoAlpha: Double = 0)
    /// Mean token NLL over the completion tokens of every row (`chosen` only; TRL SFT completion-only loss).
    case sft

    /// True when the loss needs reference log-probs (the same model with components off).
    public var needsReference: Bool {
        switch self {
        case .dpo, .ipo, .hinge: true
        case .orpo, .simpo, .sft: false
        }
    }

    /// True when the loss reads `SequenceLogProbs.nllSums` (score with an NLL mask).
    public var needsNLLMask: Bool { if case .orpo = self { true } else { false } }

    /// True for pair losses (everything but SFT).
    public var isPreference: Bool { self != .sft }

    /// TRL's name of the loss (`loss_type`, or the trainer for ORPO / SFT).
    public var name: String {
        switch self {
        case .dpo: "sigmoid"
        case .ipo: "ipo"
        case .hinge: "hinge"
        case .orpo: "orpo"
        case .simpo: "simpo"
        case .sft: "sft"
        }
    }
}

/// Policy (and reference) log-probs of one batch, as the objective reads them.
public struct ObjectiveInput: Sendable {
    /// Policy scores of the chosen rows (SFT: of every row).
    public var chosen: SequenceLogProbs
    /// Policy scores of the rejected rows (nil for SFT).
    public var rejected: SequenceLogProbs?
    /// Summed reference log-probs (constants; TRL `ref_chosen_logps` / `ref_rejected_logps`).
    public var referenceChosen: [Double]?
    public var referenceRejected: [Double]?

    public init(chosen: SequenceLogProbs, rejected: SequenceLogProbs? = nil,
                referenceChosen: [Double]? = nil, referenceRejected: [Double]? = nil) {
        self.chosen = chosen; self.rejected = rejected
        self.referenceChosen = referenceChosen; self.referenceRejected = referenceRejected
    }

    /// From the scores of a `[chosen; rejected]` batch (TRL's stacking): rows `0..<B` chosen, `B..<2B` rejected.
    public init(stacked policy: SequenceLogProbs, reference: SequenceLogProbs? = nil) {
        let n = policy.sums.count, b = n / 2
        precondition(n == 2 * b, "ObjectiveInput(stacked:): \(n) rows is not [chosen; rejected]")
        self.init(chosen: policy.rows(0..<b), rejected: policy.rows(b..<n),
                  referenceChosen: reference.map { Array($0.sums[0..<b]) }, referenceRejected: reference.map { Array($0.sums[b..<n]) })
    }
}

/// Loss, gradient and metrics of one batch.
public struct ObjectiveResult: Sendable {
    public var loss: Double
    /// d loss/d `chosen.sums[b]`.
    public var dChosenSums: [Double]
    /// d loss/d `rejected.sums[b]` (empty for SFT).
    public var dRejectedSums: [Double]
    /// d loss/d `chosen.nllSums[b]` (ORPO; zeros otherwise).
    public var dChosenNLLSums: [Double]
    /// TRL's metric names: `loss`, `rewards/chosen`, `rewards/rejected`, `rewards/margins`,
    /// `rewards/accuracies`, `logps/chosen`, `logps/rejected`; ORPO adds `nll_loss`, `log_odds_ratio`,
    /// `log_odds_chosen`; SimPO adds `nll_loss`. (`logits/*` need the logits: not included.)
    public var metrics: [String: Double]

    /// The gradients for `SequenceScoring.backward` of a stacked `[chosen; rejected]` batch.
    public var stackedSums: [Double] { dChosenSums + dRejectedSums }
    public var stackedNLLSums: [Double] { dChosenNLLSums + [Double](repeating: 0, count: dRejectedSums.count) }
}

public enum ObjectiveError: Error, CustomStringConvertible, Equatable {
    case missingReference(String)
    case missingRejected(String)
    case sizeMismatch(String)
    case emptyBatch

    public var description: String {
        switch self {
        case .missingReference(let o): "objective \(o) needs reference log-probs (the model with components off, or precomputed)"
        case .missingRejected(let o): "objective \(o) needs rejected completions"
        case .sizeMismatch(let why): "objective input: \(why)"
        case .emptyBatch: "objective input: no sequences"
        }
    }
}
