import Foundation
import IsaerftRuns
import IsaerftSAE

/// Settings of the SAE training loop (the SAE's own hyper-parameters live in the SAE).
public struct SAETrainerOptions: Sendable, Codable, Equatable {
    /// Tokens to train on (SAELens `training_tokens`); steps = tokens / batch size.
    public var trainingTokens: Int
    /// Write a checkpoint whenever the token count crosses a multiple of this (nil: only on interrupt).
    public var checkpointEveryTokens: Int?
    /// Evaluate on the held-out contexts whenever the token count crosses a multiple of this, and at
    /// the end (nil: never).
    public var evalEveryTokens: Int?
    /// Checkpoints kept on disk.
    public var keepCheckpoints: Int
    /// A latent is dead when it has not fired for more than this many steps (SAELens `dead_feature_window`).
    public var deadFeatureWindow: Int
    /// Firing counts for the density (`sparsity.safetensors`, dense fraction) cover windows of this many
    /// steps (SAELens `feature_sampling_window`); the saved density is the last window's.
    public var featureSamplingWindow: Int
    /// Latents firing on more than this fraction of the window's tokens count as dense.
    public var denseThreshold: Double
    /// Contexts per forward pass in evaluations.
    public var evalBatchSize: Int
    /// Records buffered before they are written (they are always flushed before a checkpoint).
    public var recordFlushEvery: Int
    /// SAELens `expected_average_only_in`: batches are multiplied by this factor before `trainStep`, and
    /// the saved SAE has it folded in (via `SAETrainingMetadata.normScalingFactor`). nil: unscaled.
    public var normScalingFactor: Double?

    public init(trainingTokens: Int, checkpointEveryTokens: Int? = nil, evalEveryTokens: Int? = nil, keepCheckpoints: Int = 2,
                deadFeatureWindow: Int = 1000, featureSamplingWindow: Int = 2000, denseThreshold: Double = 0.1,
                evalBatchSize: Int = 8, recordFlushEvery: Int = 20, normScalingFactor: Double? = nil) {
        self.trainingTokens = trainingTokens; self.checkpointEveryTokens = checkpointEveryTokens
        self.evalEveryTokens = evalEveryTokens; self.keepCheckpoints = keepCheckpoints
        self.deadFeatureWindow = deadFeatureWindow; self.featureSamplingWindow = featureSamplingWindow
        self.denseThreshold = denseThreshold; self.evalBatchSize = evalBatchSize
        self.recordFlushEvery = recordFlushEvery; self.normScalingFactor = normScalingFactor
    }
}

/// Files of a training run's output folder.
public enum SAETrainerFiles {
    public static let records = "records.jsonl"
    public static let trainingConfig = "training_config.json"
    public static let checkpoints = "checkpoints"

    /// The checkpoints of the run writing to `output` (`output/checkpoints/`).
    public static func checkpointStore(in output: URL, keep: Int = 2) -> CheckpointStore {
        CheckpointStore(directory: output.appendingPathComponent(checkpoints), keep: keep)
    }
}

/// One step's numbers for a live display.
public struct SAETrainerProgress: Sendable {
    /// Completed steps (1-based after the first step) and the planned total.
    public var step: Int
    public var totalSteps: Int
    public var tokens: Int
    /// The step's record: the SAE's `SAEStepReport.metrics` plus the loop's (`details/n_training_samples`,
    /// `sparsity/dead_features`, `sparsity/dead_fraction`, `sparsity/dense_fraction`,
    /// `sparsity/mean_passes_since_fired`, `timing/tokens_per_second`, `timing/seconds`).
    public var metrics: [String: Double]
    public var tokensPerSecond: Double?
    public var etaSeconds: Double?
}

/// What a finished run produced.
public struct SAETrainerSummary: Sendable {
    public var steps: Int
    public var tokens: Int
    public var seconds: Double
    /// The last step's record.
    public var lastMetrics: [String: Double]
    /// The last evaluation, if any ran.
    public var lastEvaluation: SAEEvalMetrics?
    public var outputDirectory: URL
    public var resumedFromStep: Int?
}

/// Events of the loop (libraries never print).
public enum SAETrainerEvent: Sendable {
    /// The loop starts at `step` (past 0 when resumed from a checkpoint).
    case started(step: Int, totalSteps: Int, resumedFrom: URL?)
    case step(SAETrainerProgress)
    case evaluated(step: Int, SAEEvalMetrics)
    case checkpointSaved(step: Int, URL)
    /// `shouldStop` returned true: a checkpoint was written and the loop returned.
    case stopped(step: Int, checkpoint: URL)
    case finished(SAETrainerSummary)
}

/// How `run` ended.
public enum SAETrainerOutcome: Sendable {
    case finished(SAETrainerSummary)
    case stopped(step: Int, checkpoint: URL)
}

/// Errors of the loop; one line each.
public enum SAETrainerError: Error, CustomStringConvertible, Equatable {
    case nonFiniteLoss(step: Int, lastCheckpoint: String?)
    case existingRun(String)
    case checkpointMismatch(String)
    case noEvaluationContexts

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, ckpt):
            "the loss is not finite at step \(step); stopped" + (ckpt.map { " (the last checkpoint, \($0), is kept)" } ?? " (no checkpoint was written)")
        case let .existingRun(dir): "\(dir) already holds checkpoints of a run: resume it or choose another output folder"
        case let .checkpointMismatch(why): "the checkpoint does not fit this run: \(why)"
        case .noEvaluationContexts: "periodic evaluation needs held-out contexts (the activation store holds none out)"
        }
    }
}

/// The loop's own state in a checkpoint (`state.json`); the SAE's tensors sit beside it.
struct SAETrainerState: Codable, Equatable {
    var version = 1
    /// Completed steps and tokens.
    var step: Int
    var tokens: Int
    var totalSteps: Int
    var batchSize: Int
    var seed: UInt64
    /// Where the activation stream continues.
    var cursor: ActivationCursor
    /// Per latent: steps since it last fired (SAELens `n_forward_passes_since_fired`).
    var stepsSinceFired: [Int]
    /// Per latent: tokens it fired on in the current sampling window (SAELens `act_freq_scores`).
    var windowFireCounts: [Int]
    /// Tokens in the current sampling window (SAELens `n_frac_active_samples`).
    var windowTokens: Int
    var normScalingFactor: Double?
    /// Wall-clock seconds of the loop so far, over all runs that led to this checkpoint.
    var elapsedSeconds: Double
}
