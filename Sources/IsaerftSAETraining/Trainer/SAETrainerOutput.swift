import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftRuns
import IsaerftSAE

extension SAETrainer {
    /// Writes the SAELens v6 folder and `training_config.json` into the output folder. The SAE files
    /// are first written together into `.sae.partial/` and then renamed one by one over the final names
    /// (`cfg.json` last), so an interruption never leaves a half-written file.
    func writeOutput(state: SAETrainerState) throws {
        let fm = FileManager.default
        var inference = try sae.inferenceSAE(metadata: finalMetadata(normScalingFactor: state.normScalingFactor))
        inference.logSparsity = Tensor(shape: [sae.dSAE], scalars: LatentStatistics.logSparsity(
            fireCounts: state.windowFireCounts, tokens: state.windowTokens))
        let partial = outputDirectory.appendingPathComponent(".sae.partial")
        try? fm.removeItem(at: partial)
        try inference.save(folder: partial)
        for name in [SAEFiles.weights, SAEFiles.sparsity, SAEFiles.config] {
            let from = partial.appendingPathComponent(name)
            guard fm.fileExists(atPath: from.path) else { continue }
            try AtomicFile.commit(from, to: outputDirectory.appendingPathComponent(name))
        }
        try? fm.removeItem(at: partial)

        let trainer: JSONValue = .object([
            ("training_tokens", .int(options.trainingTokens)), ("train_batch_size_tokens", .int(store.options.batchSize)),
            ("total_training_steps", .int(totalSteps)), ("trained_steps", .int(state.step)), ("trained_tokens", .int(state.tokens)),
            ("checkpoint_every_tokens", options.checkpointEveryTokens.map { .int($0) } ?? .null),
            ("eval_every_tokens", options.evalEveryTokens.map { .int($0) } ?? .null),
            ("dead_feature_window", .int(options.deadFeatureWindow)), ("feature_sampling_window", .int(options.featureSamplingWindow)),
            ("dense_threshold", .double(options.denseThreshold)),
            ("norm_scaling_factor", state.normScalingFactor.map { .double($0) } ?? .null),
            ("seconds", .double(state.elapsedSeconds)),
        ])
        let src = store.source
        let activations: JSONValue = .object([
            ("model", .string(src.modelIdentity)), ("hook_name", .string(src.hook.description)),
            ("context_size", .int(src.contextSize)), ("prepend_bos", .bool(src.prependBOS)),
            ("dataset_path", .string(src.dataset.source)), ("tokenizer", .string(src.tokenizerIdentity)),
            ("seed", .int(Int(truncatingIfNeeded: store.options.seed))), ("batches_per_chunk", .int(store.options.batchesPerChunk)),
            ("held_out_contexts", .int(store.options.heldOutContexts)),
            ("exclude_special_tokens", .array(store.options.excludedTokens.sorted().map { .int($0) })),
        ])
        let doc: JSONValue = .object([("trainer", trainer), ("activations", activations), ("run", runConfig)])
        try AtomicFile.write(Data(doc.description.utf8), to: outputDirectory.appendingPathComponent(SAETrainerFiles.trainingConfig))
    }
}
