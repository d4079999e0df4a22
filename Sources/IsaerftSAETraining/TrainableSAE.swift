import IsaerftCore
import IsaerftSAE

/// What the SAE training loop needs from a trainable SAE: one optimiser step on a batch of
/// activations, its complete state for exact resume, and the inference SAE it stands for.
///
/// `TrainingSAE` (every architecture, SAELens v6 semantics) conforms; the loop (`SAETrainer`)
/// is written against this protocol so that it can be tested with a small stand-in.
public protocol TrainableSAE: Sendable {
    var dIn: Int { get }
    var dSAE: Int { get }
    /// One optimiser step (forward, loss, backward, clipping, Adam, schedules) on `x` `[n, d_in]`.
    /// `step` counts optimiser steps from 0; `totalSteps` is the planned total (for schedules).
    mutating func trainStep(_ x: Tensor, step: Int, totalSteps: Int) throws -> SAEStepReport
    /// Every tensor needed to continue bit-identically: parameters, optimiser moments, counters.
    func checkpointTensors() -> [String: Tensor]
    /// Restores what `checkpointTensors` returned.
    mutating func restore(from tensors: [String: Tensor]) throws
    /// The equivalent inference SAE (batchtopk is stored as jumprelu with its learned threshold).
    func inferenceSAE(metadata: SAETrainingMetadata) throws -> SparseAutoencoder
}

/// One training step's numbers.
public struct SAEStepReport: Sendable {
    /// SAELens' logged names: `losses/overall_loss`, `losses/mse_loss`, `losses/l1_loss` (or
    /// `losses/l0_loss`, `losses/auxiliary_reconstruction_loss`, …), `metrics/l0`,
    /// `metrics/explained_variance`, `metrics/mse`, `details/current_learning_rate`,
    /// `details/current_l1_coefficient`, `metrics/grad_norm`.
    public var metrics: [String: Double]
    /// How many of this batch's rows fired each latent, `[d_sae]` (dead-latent tracking, sparsity).
    public var fireCounts: [Int32]

    public init(metrics: [String: Double], fireCounts: [Int32]) { self.metrics = metrics; self.fireCounts = fireCounts }
}

/// What the saved SAE folder says about where it was trained (SAELens v6 `metadata`).
public struct SAETrainingMetadata: Sendable, Codable, Equatable {
    public var modelName: String
    public var hookName: String
    public var contextSize: Int
    public var prependBOS: Bool
    public var datasetPath: String
    public var normScalingFactor: Double?

    public init(modelName: String, hookName: String, contextSize: Int, prependBOS: Bool, datasetPath: String,
                normScalingFactor: Double? = nil) {
        self.modelName = modelName; self.hookName = hookName; self.contextSize = contextSize
        self.prependBOS = prependBOS; self.datasetPath = datasetPath; self.normScalingFactor = normScalingFactor
    }
}
