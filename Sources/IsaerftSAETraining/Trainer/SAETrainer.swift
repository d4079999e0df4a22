import Foundation
import IsaerftCore
import IsaerftRuns
import IsaerftSAE

/// The SAE training loop (SAELens 6.54.12 `SAETrainer.fit` semantics), generic over `TrainableSAE`:
/// batches from an `ActivationStore` for a token budget, dead/dense latent tracking, run records,
/// periodic evaluation on held-out contexts, checkpoints with exact resume, and the SAELens v6 folder
/// at the end.
///
/// Output folder: `cfg.json`, `sae_weights.safetensors`, `sparsity.safetensors` (SAELens
/// `log_feature_sparsity` = log10(density + 1e-10) over the last `feature_sampling_window`),
/// `training_config.json`, `records.jsonl` (one record per step, `kind` "train" or "eval"; `step` counts
/// completed steps, so SAELens' logged step + 1), `checkpoints/checkpoint-<step>/`.
///
/// Exact resume: a checkpoint holds the SAE's `checkpointTensors()` and the loop state (step, tokens,
/// stream cursor, firing counters, scale); resuming restores both, seeks the store and truncates the
/// records to the checkpoint's step, so the final weights and records equal an uninterrupted run's
/// bit for bit (timing fields aside).
public final class SAETrainer<SAE: TrainableSAE> {
    public private(set) var sae: SAE
    public let store: ActivationStore
    public let options: SAETrainerOptions
    public let metadata: SAETrainingMetadata
    public let outputDirectory: URL
    /// Written to `training_config.json` under `"run"` (e.g. the command's options).
    public let runConfig: JSONValue

    public var checkpoints: CheckpointStore {
        SAETrainerFiles.checkpointStore(in: outputDirectory, keep: options.keepCheckpoints)
    }

    public var totalSteps: Int { max(1, options.trainingTokens / store.options.batchSize) }

    public init(sae: SAE, store: ActivationStore, options: SAETrainerOptions, metadata: SAETrainingMetadata,
                outputDirectory: URL, runConfig: JSONValue = .object([])) throws {
        precondition(sae.dIn == store.dIn, "SAETrainer: the SAE's d_in \(sae.dIn) differs from the store's \(store.dIn)")
        if options.evalEveryTokens != nil && store.options.heldOutContexts == 0 { throw SAETrainerError.noEvaluationContexts }
        self.sae = sae; self.store = store; self.options = options; self.metadata = metadata
        self.outputDirectory = outputDirectory; self.runConfig = runConfig
    }

    /// Trains to the token budget, or until `shouldStop` returns true (then a checkpoint is written).
    /// - Parameters:
    ///   - resume: continue from the newest checkpoint in the output folder (a fresh start when there
    ///     is none). Without it, an output folder that already holds checkpoints is refused.
    ///   - onEvent: may throw to abort at once (no checkpoint, no output: like a killed process).
    /// - Throws: `SAETrainerError.nonFiniteLoss` (the last checkpoint stays), store, SAE and file errors.
    public func run(resume: Bool, shouldStop: () -> Bool = { false },
                    onEvent: (SAETrainerEvent) throws -> Void = { _ in }) throws -> SAETrainerOutcome {
        let batchSize = store.options.batchSize
        var state: SAETrainerState
        var resumedFrom: Checkpoint<SAETrainerState>? = nil
        if resume, let c = try checkpoints.latest(as: SAETrainerState.self) {
            let s = c.state
            guard s.batchSize == batchSize, s.totalSteps == totalSteps, s.seed == store.options.seed,
                  s.stepsSinceFired.count == sae.dSAE else {
                throw SAETrainerError.checkpointMismatch(
                    "it has batch size \(s.batchSize), \(s.totalSteps) steps, seed \(s.seed), d_sae \(s.stepsSinceFired.count); this run has \(batchSize), \(totalSteps), \(store.options.seed), \(sae.dSAE)")
            }
            try sae.restore(from: c.tensors)
            store.seek(to: s.cursor)
            state = s
            resumedFrom = c
        } else {
            if !resume, !checkpoints.steps().isEmpty { throw SAETrainerError.existingRun(outputDirectory.path) }
            state = SAETrainerState(step: 0, tokens: 0, totalSteps: totalSteps, batchSize: batchSize, seed: store.options.seed,
                                    cursor: ActivationCursor(), stepsSinceFired: Array(repeating: 0, count: sae.dSAE),
                                    windowFireCounts: Array(repeating: 0, count: sae.dSAE), windowTokens: 0,
                                    normScalingFactor: options.normScalingFactor, elapsedSeconds: 0)
            store.seek(to: state.cursor)
        }
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        let recorder = try RunRecorder(url: outputDirectory.appendingPathComponent(SAETrainerFiles.records),
                                       resumingAfter: resumedFrom?.step ?? nil, flushEvery: options.recordFlushEvery)
        try onEvent(.started(step: state.step, totalSteps: totalSteps, resumedFrom: resumedFrom?.url))

        var meter = ProgressMeter(totalSteps: totalSteps, startStep: state.step, startTokens: state.tokens)
        let clock = ContinuousClock.now
        func seconds() -> Double { let d = ContinuousClock.now - clock; return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        meter.update(step: state.step, tokens: state.tokens, time: 0)
        let startElapsed = state.elapsedSeconds
        var lastMetrics: [String: Double] = [:]
        var lastEvaluation: SAEEvalMetrics? = nil
        var lastCheckpoint: URL? = resumedFrom?.url

        func saveCheckpoint() throws -> URL {
            try recorder.flush()
            state.elapsedSeconds = startElapsed + seconds()
            let url = try checkpoints.save(step: state.step, tensors: sae.checkpointTensors(), state: state)
            lastCheckpoint = url
            return url
        }

        while state.step < totalSteps {
            if shouldStop() {
                let url = try saveCheckpoint()
                try recorder.close()
                try onEvent(.stopped(step: state.step, checkpoint: url))
                return .stopped(step: state.step, checkpoint: url)
            }
            var extra: [String: Double] = [:]
            if state.step > 0 && state.step % options.featureSamplingWindow == 0 {
                extra = LatentStatistics.windowLog(fireCounts: state.windowFireCounts, tokens: state.windowTokens)
                state.windowFireCounts = Array(repeating: 0, count: sae.dSAE)
                state.windowTokens = 0
            }
            var x = try store.nextBatch()
            if let s = state.normScalingFactor { let f = Float(s); x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= f } } }
            let report = try sae.trainStep(x, step: state.step, totalSteps: totalSteps)
            let loss = report.metrics["losses/overall_loss"] ?? .nan
            guard loss.isFinite else { throw SAETrainerError.nonFiniteLoss(step: state.step + 1, lastCheckpoint: lastCheckpoint?.path) }
            // Through locals: `state` is captured by `saveCheckpoint`, so two inout accesses to its fields would overlap.
            var sinceFired = state.stepsSinceFired, windowCounts = state.windowFireCounts
            LatentStatistics.update(stepsSinceFired: &sinceFired, windowFireCounts: &windowCounts, fireCounts: report.fireCounts)
            state.stepsSinceFired = sinceFired
            state.windowFireCounts = windowCounts
            state.windowTokens += batchSize
            let previousTokens = state.tokens
            state.step += 1
            state.tokens += batchSize
            state.cursor = store.cursor

            let now = seconds()
            meter.update(step: state.step, tokens: state.tokens, time: now)
            var metrics = report.metrics.merging(extra) { a, _ in a }
            metrics.merge(LatentStatistics.stepLog(stepsSinceFired: state.stepsSinceFired, windowFireCounts: state.windowFireCounts,
                                                   windowTokens: state.windowTokens, deadWindow: options.deadFeatureWindow,
                                                   denseThreshold: options.denseThreshold)) { a, _ in a }
            metrics["details/n_training_samples"] = Double(state.tokens)
            metrics["timing/tokens_per_second"] = meter.tokensPerSecond ?? .nan
            metrics["timing/seconds"] = startElapsed + now
            lastMetrics = metrics
            try recorder.record(step: state.step, kind: "train", metrics)
            try onEvent(.step(SAETrainerProgress(step: state.step, totalSteps: totalSteps, tokens: state.tokens, metrics: metrics,
                                                 tokensPerSecond: meter.tokensPerSecond, etaSeconds: meter.etaSeconds)))

            let last = state.step == totalSteps
            // Every evalEveryTokens tokens, and at the end whenever there are held-out contexts.
            let due = options.evalEveryTokens.map { previousTokens / $0 < state.tokens / $0 } ?? false
            if due || (last && !store.heldOutContexts.isEmpty) {
                let m = try evaluate(normScalingFactor: state.normScalingFactor)
                lastEvaluation = m
                var row: [String: Double] = [:]
                for (k, v) in m.flatMetrics { row[k] = v }
                row["latent_density/dead_fraction"] = m.density.deadFraction
                row["latent_density/dense_fraction"] = m.density.denseFraction
                try recorder.record(step: state.step, kind: "eval", row)
                try onEvent(.evaluated(step: state.step, m))
            }
            if !last, let every = options.checkpointEveryTokens, previousTokens / every < state.tokens / every {
                let url = try saveCheckpoint()
                try onEvent(.checkpointSaved(step: state.step, url))
            }
        }
        try recorder.close()
        state.elapsedSeconds = startElapsed + seconds()
        try writeOutput(state: state)
        let summary = SAETrainerSummary(steps: state.step, tokens: state.tokens, seconds: state.elapsedSeconds, lastMetrics: lastMetrics,
                                        lastEvaluation: lastEvaluation, outputDirectory: outputDirectory,
                                        resumedFromStep: resumedFrom?.step)
        try onEvent(.finished(summary))
        return .finished(summary)
    }

    /// The metadata with the run's scale.
    func finalMetadata(normScalingFactor: Double?) -> SAETrainingMetadata {
        var m = metadata
        m.normScalingFactor = normScalingFactor
        return m
    }

    /// SAELens `run_evals` on the held-out contexts with the current weights (scale folded).
    public func evaluate(normScalingFactor: Double?) throws -> SAEEvalMetrics {
        let inference = try sae.inferenceSAE(metadata: finalMetadata(normScalingFactor: normScalingFactor))
        let evalOptions = SAEEvalOptions(batchSize: options.evalBatchSize, excludedTokens: store.options.excludedTokens,
                                         denseThreshold: options.denseThreshold)
        return try inference.evaluate(on: store.source.model, contexts: store.heldOutContexts, options: evalOptions)
    }
}
