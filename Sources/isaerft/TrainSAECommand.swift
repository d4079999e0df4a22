import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftData
import IsaerftModels
import IsaerftRuns
import IsaerftSAE
import IsaerftSAETraining

struct TrainSAECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-sae",
        abstract: "Train a sparse autoencoder on a model's activations at one hook (SAELens v6 semantics).",
        discussion: """
        The dataset (plain text, JSONL with a text field, optionally gzip) is packed into contexts of \
        --context-size tokens as SAELens does (documents separated by BOS, BOS first unless \
        --no-prepend-bos); the model runs up to the hook's layer; positions holding special tokens \
        (BOS, EOS) give no training rows. Rows are shuffled in chunks of about 16 batches (seeded by \
        --seed; rows left over at a chunk's end are dropped) and fed in batches of --batch-size tokens \
        for --tokens tokens. The first --eval-contexts contexts are held out for evaluation (SAELens \
        run_evals metrics, CE loss score included) every --eval-every tokens and at the end.

        Output folder: cfg.json, sae_weights.safetensors, sparsity.safetensors (an SAELens v6 folder, \
        loadable by SAELens and by `isaerft sae`), training_config.json, records.jsonl (one JSON object \
        per step and evaluation), checkpoints/. Ctrl-C writes a checkpoint and stops (a second Ctrl-C \
        quits at once); --resume continues from the newest checkpoint and reaches the same weights as \
        an uninterrupted run. --activation-cache keeps computed activations for later runs with the \
        same model, hook, dataset and context settings. --config FILE reads options from YAML or JSON \
        (keys are option names, underscores allowed); options typed on the command line win.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The TransformerLens hook to train on, e.g. blocks.6.hook_resid_post.") var hook: String
    @Option(help: "A text dataset: plain text, JSONL (one object per line) or either gzip-compressed.") var dataset: String
    @Option(name: .customLong("text-field"), help: "The JSONL field holding the text.") var textField = "text"
    @Flag(name: .customLong("split-paragraphs"), help: "Plain text: one document per blank-line-separated paragraph.")
    var splitParagraphs = false
    @Option(help: "standard, topk, batchtopk, jumprelu or gated.") var architecture: String = "standard"
    @Option(name: .customLong("d-sae"), help: "Latents (default: d_in × --expansion-factor).") var dSAE: Int?
    @Option(name: .customLong("expansion-factor"), help: "d_sae = d_in × this when --d-sae is not given.") var expansionFactor: Int = 4
    @Option(help: "Active latents per token (topk, batchtopk).") var k: Int = 100
    @Option(name: .customLong("l1-coefficient"), help: "Sparsity coefficient (standard, gated: l1; jumprelu: l0).") var l1Coefficient: Double = 1.0
    @Option(help: "Adam learning rate.") var lr: Double = 3e-4
    @Option(name: .customLong("lr-warm-up-steps"), help: "Linear learning-rate warm-up steps.") var lrWarmUpSteps: Int = 0
    @Option(name: .customLong("sparsity-warm-up-steps"), help: "Linear sparsity-coefficient warm-up steps.") var sparsityWarmUpSteps: Int = 0
    @Option(name: .customLong("normalize-activations"), help: "none or expected_average_only_in (scale rows to E‖x‖ = √d_in; folded into the saved SAE).")
    var normalizeActivations: String = "none"
    @Option(name: .customLong("b-dec-init"), help: "zeros or mean: start b_dec at the mean activation (SAELens b_dec_init_method), which centres the input; large-mean residual streams (Gemma) otherwise leave most latents dead.")
    var bDecInit: String = "mean"
    @Option(name: .customLong("norm-estimate-batches"), help: "Batches used to estimate the expected_average_only_in factor.")
    var normEstimateBatches: Int = 100
    @Option(name: .customLong("batch-size"), help: "Tokens per training batch.") var batchSize: Int = 4096
    @Option(name: .customLong("context-size"), help: "Tokens per context.") var contextSize: Int = 128
    @Flag(name: .customLong("prepend-bos"), inversion: .prefixedNo, help: "Start every context with BOS.") var prependBOS = true
    @Option(help: "Tokens to train on.") var tokens: Int = 2_000_000
    @Option(name: .customLong("checkpoint-every"), help: "Write a checkpoint every this many tokens.") var checkpointEvery: Int?
    @Option(name: .customLong("keep-checkpoints"), help: "Checkpoints kept on disk.") var keepCheckpoints: Int = 2
    @Option(name: .customLong("eval-every"), help: "Evaluate every this many tokens (and at the end).") var evalEvery: Int?
    @Option(name: .customLong("eval-contexts"), help: "Held-out contexts for evaluation.") var evalContexts: Int = 32
    @Option(name: .customLong("eval-batch-size"), help: "Contexts per forward pass in evaluation.") var evalBatchSize: Int = 8
    @Option(name: .customLong("dead-feature-window"), help: "Steps without firing after which a latent counts as dead.")
    var deadFeatureWindow: Int = 1000
    @Option(name: .customLong("feature-sampling-window"), help: "Steps per latent-density window.") var featureSamplingWindow: Int = 2000
    @Option(name: .customLong("activation-cache"), help: "A folder for cached activations (reused when the manifest matches, rebuilt otherwise).")
    var activationCache: String?
    @Flag(name: .customLong("reuse-activation-cache"), help: "Refuse to run when --activation-cache was made for another setup.")
    var reuseActivationCache = false
    @Option(help: "Seed of the SAE initialisation and the batch shuffles.") var seed: UInt64 = 42
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false
    @Option(help: "The output folder.") var output: String
    @Flag(help: "Print a JSON summary at the end.") var json = false
    @Option(help: "Read options from a YAML or JSON file (options on the command line win).") var config: String?

    func validate() throws {
        guard ["zeros", "mean"].contains(bDecInit) else { throw ValidationError("--b-dec-init must be zeros or mean") }
        guard ["standard", "topk", "batchtopk", "jumprelu", "gated"].contains(architecture) else {
            throw ValidationError("--architecture must be standard, topk, batchtopk, jumprelu or gated, not '\(architecture)'")
        }
        guard ["none", "expected_average_only_in"].contains(normalizeActivations) else {
            throw ValidationError("--normalize-activations must be none or expected_average_only_in")
        }
        for (name, v) in [("--batch-size", batchSize), ("--tokens", tokens), ("--expansion-factor", expansionFactor), ("--k", k),
                          ("--eval-batch-size", evalBatchSize), ("--keep-checkpoints", keepCheckpoints),
                          ("--dead-feature-window", deadFeatureWindow), ("--feature-sampling-window", featureSamplingWindow),
                          ("--norm-estimate-batches", normEstimateBatches)] where v <= 0 {
            throw ValidationError("\(name) must be positive")
        }
        guard contextSize >= 2 else { throw ValidationError("--context-size must be at least 2") }
        guard tokens >= batchSize else { throw ValidationError("--tokens \(tokens) is less than one batch of \(batchSize)") }
        if let dSAE, dSAE <= 0 { throw ValidationError("--d-sae must be positive") }
        if let v = checkpointEvery, v <= 0 { throw ValidationError("--checkpoint-every must be positive") }
        if let v = evalEvery, v <= 0 { throw ValidationError("--eval-every must be positive") }
        guard evalContexts >= 0 else { throw ValidationError("--eval-contexts must not be negative") }
        if evalEvery != nil && evalContexts == 0 { throw ValidationError("--eval-every needs --eval-contexts > 0") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
    }

    func run() async throws {
        try await reportingErrors {
            let datasetURL = URL(fileURLWithPath: (dataset as NSString).expandingTildeInPath)
            let data = try TextDataset(url: datasetURL, textField: textField, splitParagraphs: splitParagraphs)
            let loaded = try await modelOptions.load()
            let model = loaded.model
            let tokenizer = try loaded.requireTokenizer()
            let point = try model.hookPoints(named: [hook])[0]
            guard contextSize <= model.contextLength else {
                throw ValidationError("--context-size \(contextSize) exceeds the model's context length \(model.contextLength)")
            }
            let source = ActivationSource(model: model, modelIdentity: loaded.spec + (modelOptions.centerWritingWeights ? " (center_writing_weights)" : ""),
                                          tokenizer: tokenizer, tokenizerIdentity: loaded.folder.path,
                                          dataset: data, hook: point, contextSize: contextSize, prependBOS: prependBOS)
            if prependBOS && source.bosTokenID == nil { throw ValidationError("--prepend-bos: the model has no BOS token") }
            let line = ProgressLine()
            let storeOptions = ActivationStoreOptions(
                batchSize: batchSize, seed: seed, heldOutContexts: evalContexts, excludedTokens: source.specialTokens,
                cacheDirectory: activationCache.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) },
                cachePolicy: reuseActivationCache ? .requireReuse : .reuseOrRebuild, plannedBatches: tokens / batchSize)
            let store = try ActivationStore(source: source, options: storeOptions) { event in
                switch event {
                case let .shardComputed(i, range, s): line.message("activations: shard \(i) (\(range.count) contexts) in \(String(format: "%.1f", s)) s")
                case let .cacheCleared(url, field): line.end(); Output.status("activation cache \(url.path): \(field) differs, rebuilding")
                default: break
                }
            }
            let dIn = store.dIn
            let totalSteps = max(1, tokens / batchSize)
            let outputURL = URL(fileURLWithPath: (output as NSString).expandingTildeInPath)
            // With --resume the checkpoint restores the scale and b_dec; with --resume and no checkpoint
            // yet (the main job always passes it) this is a fresh start and needs both estimates.
            let resuming = resume && !SAETrainerFiles.checkpointStore(in: outputURL).steps().isEmpty
            var scale: Double? = nil
            if normalizeActivations == "expected_average_only_in" && !resuming {
                line.message("estimating the activation norm over \(normEstimateBatches) batches…")
                scale = try store.estimateNormScalingFactor(batches: normEstimateBatches)
            }
            var bDec: [Float]? = nil
            if bDecInit == "mean" && !resuming {
                line.message("estimating the mean activation over \(normEstimateBatches) batches…")
                bDec = try store.estimateMean(batches: normEstimateBatches, scale: scale)
            }
            var saeOptions = TrainableSAEOptions(
                architecture: architecture, dIn: dIn, dSAE: dSAE ?? dIn * expansionFactor, k: k, l1Coefficient: l1Coefficient,
                lr: lr, lrWarmUpSteps: lrWarmUpSteps, sparsityWarmUpSteps: sparsityWarmUpSteps, totalSteps: totalSteps,
                deadFeatureWindow: deadFeatureWindow, normalizeActivations: normalizeActivations, seed: seed)
            saeOptions.bDecInit = bDec
            let sae = try makeTrainableSAE(saeOptions)
            let trainerOptions = SAETrainerOptions(
                trainingTokens: tokens, checkpointEveryTokens: checkpointEvery, evalEveryTokens: evalEvery,
                keepCheckpoints: keepCheckpoints, deadFeatureWindow: deadFeatureWindow, featureSamplingWindow: featureSamplingWindow,
                evalBatchSize: evalBatchSize, normScalingFactor: scale)
            let metadata = SAETrainingMetadata(modelName: loaded.spec, hookName: point.description, contextSize: contextSize,
                                               prependBOS: prependBOS, datasetPath: dataset, normScalingFactor: scale)
            InterruptFlag.install()
            let outcome = try train(sae, store: store, options: trainerOptions, metadata: metadata, output: outputURL,
                                    runConfig: runConfig(saeOptions), line: line)
            line.end()
            switch outcome {
            case let .stopped(step, checkpoint):
                Output.status("interrupted at step \(step): checkpoint \(checkpoint.path); continue with --resume")
                if json { Output.line(JSONValue.object([("stopped", .bool(true)), ("step", .int(step)), ("checkpoint", .string(checkpoint.path))]).description) }
                throw ExitCode(130)
            case let .finished(s):
                if json {
                    var metrics: [(String, JSONValue)] = []
                    for k in s.lastMetrics.keys.sorted() { let v = s.lastMetrics[k]!; metrics.append((k, v.isFinite ? .double(v) : .null)) }
                    Output.line(JSONValue.object([
                        ("output", .string(s.outputDirectory.path)), ("steps", .int(s.steps)), ("tokens", .int(s.tokens)),
                        ("seconds", .double(s.seconds)), ("resumed_from_step", s.resumedFromStep.map { .int($0) } ?? .null),
                        ("last_step", .object(metrics)), ("eval", s.lastEvaluation?.jsonValue ?? .null),
                    ]).description)
                } else {
                    Output.status("trained \(s.steps) steps (\(s.tokens) tokens) in \(ProgressMeter.formatDuration(s.seconds)); SAE written to \(s.outputDirectory.path)")
                    if let e = s.lastEvaluation {
                        Output.status(String(format: "held-out: CE loss score %.4f, explained variance %.4f, L0 %.1f, dead %.1f%%",
                                             e.ceLossScore, e.explainedVariance, e.l0, 100 * e.density.deadFraction))
                    }
                }
            }
        }
    }

    /// Runs the loop for a concrete SAE type (the existential is opened here).
    private func train<S: TrainableSAE>(_ sae: S, store: ActivationStore, options: SAETrainerOptions, metadata: SAETrainingMetadata,
                                        output: URL, runConfig: JSONValue, line: ProgressLine) throws -> SAETrainerOutcome {
        let trainer = try SAETrainer(sae: sae, store: store, options: options, metadata: metadata, outputDirectory: output, runConfig: runConfig)
        return try trainer.run(resume: resume, shouldStop: { InterruptFlag.isSet }) { event in
            switch event {
            case .step(let p): line.show(p)
            case let .evaluated(step, m):
                line.end()
                Output.status(String(format: "step %d eval: CE loss score %.4f, explained variance %.4f, L0 %.1f", step, m.ceLossScore, m.explainedVariance, m.l0))
            case let .started(step, total, from?):
                Output.status("resuming at step \(step)/\(total) from \(from.path)")
            default: break
            }
        }
    }

    private func runConfig(_ o: TrainableSAEOptions) -> JSONValue {
        .object([
            ("model", .string(modelOptions.model)), ("hook_name", .string(hook)), ("dataset", .string(dataset)),
            ("architecture", .string(o.architecture)), ("d_in", .int(o.dIn)), ("d_sae", .int(o.dSAE)), ("k", .int(o.k)),
            ("l1_coefficient", .double(o.l1Coefficient)), ("lr", .double(o.lr)), ("lr_warm_up_steps", .int(o.lrWarmUpSteps)),
            ("sparsity_warm_up_steps", .int(o.sparsityWarmUpSteps)), ("normalize_activations", .string(o.normalizeActivations)),
            ("batch_size", .int(batchSize)), ("context_size", .int(contextSize)), ("seed", .int(Int(truncatingIfNeeded: seed))),
            ("b_dec_init_method", .string(bDecInit)), ("dead_feature_window", .int(deadFeatureWindow)),
        ])
    }
}

/// Everything needed to build a trainable SAE of any architecture.
struct TrainableSAEOptions {
    var architecture: String
    var dIn: Int
    var dSAE: Int
    var k: Int
    var l1Coefficient: Double
    var lr: Double
    var lrWarmUpSteps: Int
    var sparsityWarmUpSteps: Int
    var totalSteps: Int
    var deadFeatureWindow: Int
    var normalizeActivations: String
    var seed: UInt64
    /// The initial b_dec (`[d_in]`), nil for zeros.
    var bDecInit: [Float]? = nil
}

// MARK: - Factory

/// Builds the trainable SAE for `options` (SAELens v6 defaults for everything the CLI does not set).
/// Under expected_average_only_in the loop scales the batches itself and the export folds its factor
/// in through the metadata, so the SAE's own scale is 1 (no double scaling).
func makeTrainableSAE(_ options: TrainableSAEOptions) throws -> any TrainableSAE {
    guard let architecture = SAETrainingArchitecture(rawValue: options.architecture) else {
        throw ValidationError("unknown --architecture \(options.architecture) (standard, topk, batchtopk, jumprelu, gated)")
    }
    guard let normalization = SAETrainingNormalization(rawValue: options.normalizeActivations) else {
        throw ValidationError("unknown --normalize-activations \(options.normalizeActivations) (none, expected_average_only_in)")
    }
    let config = SAETrainingConfig(
        architecture: architecture, dIn: options.dIn, dSAE: options.dSAE, k: Double(options.k),
        l1Coefficient: options.l1Coefficient, l1WarmUpSteps: options.sparsityWarmUpSteps,
        l0Coefficient: options.l1Coefficient, l0WarmUpSteps: options.sparsityWarmUpSteps,
        deadFeatureWindow: options.deadFeatureWindow, normalizeActivations: normalization,
        activationNormScale: normalization == .expectedAverageOnlyIn ? 1 : nil,
        lr: options.lr, lrWarmUpSteps: options.lrWarmUpSteps, seed: options.seed)
    let fresh = try TrainingSAE(config: config)
    guard let b = options.bDecInit else { return fresh }
    var named = fresh.namedParameters
    named["b_dec"] = Tensor(shape: [options.dIn], scalars: b)
    return try TrainingSAE(config: config, parameters: named)
}
