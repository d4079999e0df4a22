import IsaerftRuns

/// How a tuning run trains (names follow TRL/HF `TrainingArguments` where one exists).
public struct TuneOptions: Sendable, Codable, Equatable {
    /// Optimizer updates.
    public var maxSteps: Int
    /// Examples (pairs) per micro-batch.
    public var batchSize: Int
    /// Micro-batches per update (each loss divided by this, as HF does).
    public var gradientAccumulationSteps: Int = 1
    public var optimizer: OptimizerConfig
    public var learningRate: Double
    /// `linear`, `cosine`, `constant`, `constant_with_warmup` (HF `get_scheduler`).
    public var scheduler: String = "linear"
    public var warmupSteps: Int = 0
    /// Global gradient-norm clipping; 0 turns it off.
    public var maxGradNorm: Double = 1
    /// λ of the optional penalty λ·Σ|p| on every component parameter (its distance from the identity,
    /// which is p = 0), to keep the change sparse and readable; 0 turns it off.
    public var l1Penalty: Double = 0
    public var seed: UInt64 = 42
    /// Evaluate on the held-out split every N updates (0: only at the end).
    public var evalEvery: Int = 0
    /// Write a checkpoint every N updates (0: only when interrupted).
    public var checkpointEvery: Int = 0
    /// A latent counts as moved when its parameter differs from the identity by more than this.
    public var movedThreshold: Double = 1e-3

    public init(maxSteps: Int, batchSize: Int, optimizer: OptimizerConfig, learningRate: Double) {
        self.maxSteps = maxSteps; self.batchSize = batchSize; self.optimizer = optimizer; self.learningRate = learningRate
    }

    func schedule() throws -> LearningRateSchedule {
        switch scheduler {
        case "linear": return .hfLinear(warmupSteps: warmupSteps)
        case "cosine": return .hfCosine(warmupSteps: warmupSteps)
        case "constant": return .hfConstant
        case "constant_with_warmup": return .hfConstantWithWarmup(warmupSteps: warmupSteps)
        default: throw TuneError.invalidOption("unknown scheduler \"\(scheduler)\" (linear, cosine, constant, constant_with_warmup)")
        }
    }

    func validate() throws {
        if maxSteps < 1 { throw TuneError.invalidOption("--max-steps must be at least 1") }
        if batchSize < 1 { throw TuneError.invalidOption("--batch-size must be at least 1") }
        if gradientAccumulationSteps < 1 { throw TuneError.invalidOption("--gradient-accumulation-steps must be at least 1") }
        if !(learningRate > 0) { throw TuneError.invalidOption("--lr must be positive") }
        if maxGradNorm < 0 || l1Penalty < 0 { throw TuneError.invalidOption("--grad-clip and --l1-penalty must be ≥ 0") }
        _ = try schedule()
    }
}
