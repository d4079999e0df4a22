import ArgumentParser
import Foundation
import IsaerftCheckpoints
import IsaerftCore
import IsaerftModels
import IsaerftRuns
import IsaerftSAE
import IsaerftTokenizers
import IsaerftTuning

/// `isaerft tune`: ISaeRFT — train a component on an SAE's latents inside the frozen model.
struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Train an ISaeRFT component (latent scale, latent bias or a residual MLP on latents) with a preference or SFT objective.",
        discussion: """
        At the SAE's hook the activation x becomes x + (φ(f) − f)·W_dec with f = encode(x): the SAE's \
        error term is kept and carries no gradient, so a fresh component leaves the model unchanged. \
        The model and the SAE stay frozen. When the hook is on the residual stream the activations \
        there and the reference log-probs are computed once per example, and each step runs only \
        the blocks after the hook. Data: TRL preference files (prompt/chosen/rejected, implicit \
        prompt, conversational, hh-rlhf) or, for --objective sft, text/prompt+completion JSONL. \
        Output (an adapter folder): adapter_config.json, adapter_model.safetensors, records.jsonl \
        (TRL metric names; eval_ rows), trajectories.safetensors (component values over training), \
        checkpoints/. Ctrl-C writes a checkpoint; --resume continues from it to the same adapter.
        """)

    enum Component: String, ExpressibleByArgument, CaseIterable { case scale, bias, mlp }
    enum ObjectiveName: String, ExpressibleByArgument, CaseIterable { case dpo, ipo, hinge, orpo, simpo, sft }

    @OptionGroup var modelOptions: SAEModelOptions
    @OptionGroup var saeOptions: SAEOptions
    @Option(help: "The hook to attach at (default: the SAE's hook_name).") var hook: String?
    @Option(help: "Training data file (.jsonl, .json, optionally .gz).") var data: String
    @Option(name: .customLong("eval-data"), help: "Held-out data file (default: a seeded split of --data).") var evalData: String?
    @Option(name: .customLong("eval-fraction"), help: "Fraction of --data held out when --eval-data is not given.") var evalFraction: Double = 0.1
    @Option(help: "auto, standard, implicit, hh-rlhf or sharegpt.") var format: String = "auto"
    @Option(help: "Chat template for conversational rows: plain, gemma, llama3 or chatml.") var template: String = "plain"
    @Option(name: .customLong("max-length"), help: "Maximum prompt + completion tokens.") var maxLength: Int?
    @Flag(name: .customLong("append-eos"), inversion: .prefixedNo, help: "Append the tokenizer's EOS to string completions (TRL does).")
    var appendEOS = true
    @Option(name: .customLong("max-prompt-length"), help: "Maximum prompt tokens (the prompt's end is kept).") var maxPromptLength: Int?
    @Option(help: "scale, bias or mlp.") var component: Component = .scale
    @Option(help: "mlp: hidden layers (−1 = bias only, 0 = one linear layer).") var depth: Int = 1
    @Option(help: "mlp: hidden width.") var hidden: Int = 64
    @Option(name: .customLong("scale-processor"), help: "scale: identity or abs (amplify only: forbids down-scaling).") var scaleProcessor: String = "identity"
    @Flag(name: .customLong("active-only"), help: "bias: add only where the latent is active.") var activeOnly = false
    @Option(help: "Positions the component edits: all, prompt or completion.") var positions: String = "all"
    @Option(help: "dpo, ipo, hinge, orpo, simpo or sft.") var objective: ObjectiveName = .dpo
    @Option(help: "β of the preference loss.") var beta: Double = 0.1
    @Option(name: .customLong("label-smoothing"), help: "DPO/SimPO label smoothing ε.") var labelSmoothing: Double = 0
    @Option(name: .customLong("simpo-gamma"), help: "SimPO γ/β ratio.") var simpoGamma: Double = 0.5
    @Option(name: .customLong("cpo-alpha"), help: "SimPO: weight of the chosen NLL term.") var cpoAlpha: Double = 0
    @Option(help: "sgd or adamw.") var optimizer: String = "adamw"
    @Option(help: "Learning rate (per-latent parameters need large rates; the prototype used 1e-2).") var lr: Double = 1e-2
    @Option(name: .customLong("max-steps"), help: "Optimizer updates.") var maxSteps: Int = 100
    @Option(name: .customLong("batch-size"), help: "Examples per micro-batch.") var batchSize: Int = 8
    @Option(name: .customLong("gradient-accumulation-steps"), help: "Micro-batches per update.") var gradientAccumulationSteps: Int = 1
    @Option(name: .customLong("grad-clip"), help: "Global gradient-norm clipping (0 turns it off).") var gradClip: Double = 1
    @Option(name: .customLong("weight-decay"), help: "AdamW decoupled weight decay (pulls toward the identity).") var weightDecay: Double = 0
    @Option(help: "linear, cosine, constant or constant_with_warmup.") var scheduler: String = "linear"
    @Option(name: .customLong("warmup-steps"), help: "Learning-rate warm-up updates.") var warmupSteps: Int = 0
    @Option(name: .customLong("l1-penalty"), help: "λ of λ·Σ|p| on the component's distance from the identity.") var l1Penalty: Double = 0
    @Option(help: "Seed for the split, the batch order and mlp initialisation.") var seed: UInt64 = 42
    @Option(name: .customLong("eval-every"), help: "Evaluate every N updates (0: at the start and the end only).") var evalEvery: Int = 0
    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint every N updates (0: only on Ctrl-C).") var checkpointEvery: Int = 0
    @Flag(help: "Continue from the newest checkpoint in --output.") var resume = false
    @Flag(name: .customLong("generic-path"), help: "Run the whole model every step (for checking the fast path).") var genericPath = false
    @Option(help: "The adapter folder to write.") var output: String
    @Option(help: "Read options from a YAML or JSON file (command-line options win).") var config: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() async throws {
        try await reportingErrors {
            InterruptFlag.install()
            let (loaded, loadedSAE) = try await modelOptions.load(saeOptions)
            let model = loaded.model, sae = loadedSAE.sae
            let tok = try loaded.requireTokenizer()
            let point = try hook.map { try model.hookPoints(named: [$0])[0] } ?? sae.hookPoint()
            let spec = try componentSpec()
            let intervention = try LatentIntervention(sae: sae, hook: point, spec: spec, seed: seed)
            let obj = try makeObjective()

            var settings = TokenizationSettings()
            guard let t = ChatTemplate(rawValue: template) else { throw ValidationError("unknown --template \(template)") }
            settings.template = t
            settings.maxLength = maxLength
            settings.maxPromptLength = maxPromptLength
            settings.appendEOS = appendEOS
            let (trainSet, evalSet, counts) = try loadExamples(tokenizer: tok, settings: settings, sft: obj == .sft)
            let status = ProgressLine()
            let engine = try TuneEngine(model: model, interventions: [intervention], objective: obj,
                                        pad: model.eosTokenID ?? 0, fastPath: !genericPath)
            let start = Date()
            let prepTrain = try engine.prepare(trainSet) { e in
                if case .prepared(let n, let of) = e { status.message("preparing: \(n)/\(of) training examples") }
            }
            let prepEval = evalSet.isEmpty ? nil : try engine.prepare(evalSet) { e in
                if case .prepared(let n, let of) = e { status.message("preparing: \(n)/\(of) held-out examples") }
            }
            status.end()
            let prepared = Date().timeIntervalSince(start)

            var opts = TuneOptions(maxSteps: maxSteps, batchSize: batchSize, optimizer: try optimizerConfig(), learningRate: lr)
            opts.gradientAccumulationSteps = gradientAccumulationSteps
            opts.scheduler = scheduler; opts.warmupSteps = warmupSteps; opts.maxGradNorm = gradClip
            opts.l1Penalty = l1Penalty; opts.seed = seed; opts.evalEvery = evalEvery; opts.checkpointEvery = checkpointEvery
            let out = URL(fileURLWithPath: (output as NSString).expandingTildeInPath)
            let trainer = try TuneTrainer(engine: engine, train: prepTrain, eval: prepEval, options: opts, directory: out)
            var meter = ProgressMeter(totalSteps: maxSteps)
            let clock = Date()
            let summary = try trainer.run(resume: resume) { event in
                switch event {
                case .resumed(let s): Output.status("isaerft: resuming at step \(s)"); meter = ProgressMeter(totalSteps: maxSteps, startStep: s)
                case .step(let s, let of, let m):
                    meter.update(step: s, tokens: Int(m["tokens"] ?? 0), time: Date().timeIntervalSince(clock))
                    var parts = ["step \(s)/\(of)", String(format: "loss %.4f", m["loss"] ?? .nan)]
                    if let a = m["rewards/accuracies"] { parts.append(String(format: "acc %.2f", a)) }
                    if let g = m["rewards/margins"] { parts.append(String(format: "margin %.3f", g)) }
                    parts.append("moved \(Int(m["moved_latents"] ?? 0))")
                    if let r = meter.stepsPerSecond { parts.append(String(format: "%.2f step/s", r)) }
                    if let e = meter.etaSeconds { parts.append("ETA " + ProgressMeter.formatDuration(e)) }
                    status.message(parts.joined(separator: " · "))
                case .evaluation(let s, let m):
                    status.end()
                    if !json {
                        Output.status(String(format: "eval @ %d: loss %.4f · rewards/accuracies %.3f · rewards/margins %.4f", s,
                                             m["eval_loss"] ?? .nan, m["eval_rewards/accuracies"] ?? .nan, m["eval_rewards/margins"] ?? .nan))
                    }
                case .checkpoint(let s, let url): status.end(); if !json { Output.status("checkpoint at step \(s): \(url.path)") }
                case .interrupted(let s): status.end(); Output.status("isaerft: interrupted at step \(s); checkpoint written, --resume continues")
                }
            }
            status.end()
            let trained = Date().timeIntervalSince(clock)
            guard summary.completed else { throw ExitCode(130) }
            let config = adapterConfig(loadedSAE: loadedSAE, point: point, spec: spec, objective: obj, counts: counts)
            try AdapterFolder.write(to: out, config: config, tensors: trainer.namedParameters)
            let result: [String: Any] = [
                "adapter": out.path, "steps": summary.steps, "fast_path": engine.usesFastPath,
                "prepare_seconds": prepared, "train_seconds": trained,
                "seconds_per_step": summary.stepsRun > 0 ? summary.stepSeconds / Double(summary.stepsRun) : 0,
                "train": summary.lastTrain, "eval_first": summary.firstEval ?? [:], "eval_last": summary.lastEval ?? [:],
            ]
            if json { Output.json(result) } else {
                Output.line("adapter: \(out.path)  (\(summary.steps) steps in \(String(format: "%.1f", trained)) s; prepared in \(String(format: "%.1f", prepared)) s)")
                if let f = summary.firstEval, let l = summary.lastEval {
                    Output.line(String(format: "eval loss %.4f → %.4f · rewards/accuracies %.3f → %.3f", f["eval_loss"] ?? .nan, l["eval_loss"] ?? .nan,
                                       f["eval_rewards/accuracies"] ?? .nan, l["eval_rewards/accuracies"] ?? .nan))
                }
            }
        }
    }

    func componentSpec() throws -> ComponentSpec {
        guard let pos = ComponentPositions(rawValue: positions) else { throw ValidationError("unknown --positions \(positions) (all, prompt, completion)") }
        guard let proc = ScaleProcessor(rawValue: scaleProcessor) else { throw ValidationError("unknown --scale-processor \(scaleProcessor) (identity, abs)") }
        var spec: ComponentSpec
        switch component {
        case .scale: spec = .scale(proc)
        case .bias: spec = .bias(activeOnly: activeOnly)
        case .mlp:
            guard depth >= -1 else { throw ValidationError("--depth must be ≥ −1") }
            spec = .mlp(depth: depth, hiddenSize: hidden)
        }
        spec.positions = pos
        return spec
    }

    func makeObjective() throws -> Objective {
        guard beta > 0 else { throw ValidationError("--beta must be positive") }
        switch objective {
        case .dpo: return .dpo(beta: beta, labelSmoothing: labelSmoothing)
        case .ipo: return .ipo(beta: beta)
        case .hinge: return .hinge(beta: beta)
        case .orpo: return .orpo(beta: beta)
        case .simpo: return .simpo(beta: beta, gamma: simpoGamma, labelSmoothing: labelSmoothing, cpoAlpha: cpoAlpha)
        case .sft: return .sft
        }
    }

    func optimizerConfig() throws -> OptimizerConfig {
        switch optimizer {
        case "adamw": return OptimizerConfig(kind: .adamw, weightDecay: weightDecay)
        case "sgd": return OptimizerConfig(kind: .sgd, weightDecay: weightDecay)
        default: throw ValidationError("unknown --optimizer \(optimizer) (sgd, adamw)")
        }
    }

    /// Train and held-out examples, tokenised as TRL does.
    func loadExamples(tokenizer: any TextTokenizer, settings: TokenizationSettings, sft: Bool)
        throws -> ([TuneExample], [TuneExample], AdapterData) {
        let pt = PairTokenizer(tokenizer: tokenizer, settings: settings)
        let url = URL(fileURLWithPath: (data as NSString).expandingTildeInPath)
        var info = AdapterData(train: data, eval: evalData)
        info.tokenization = settings
        if sft {
            let all = try SFTDataset(url: url)
            let (tr, ev) = try evalData.map { (all, try SFTDataset(url: URL(fileURLWithPath: $0))) } ?? all.split(evalFraction: evalFraction, seed: seed)
            let train = try pt.tokenize(tr.pairs).examples.map(TuneExample.init)
            let eval = try pt.tokenize(ev.pairs).examples.map(TuneExample.init)
            info.trainExamples = train.count; info.evalExamples = eval.count
            guard !train.isEmpty else { throw TuneError.noExamples(data) }
            return (train, eval, info)
        }
        guard let fmt = PreferenceFormat(rawValue: format) else { throw ValidationError("unknown --format \(format)") }
        info.format = fmt
        let all = try PreferenceDataset(url: url, format: fmt)
        let (tr, ev) = try evalData.map { (all, try PreferenceDataset(url: URL(fileURLWithPath: $0), format: fmt)) }
            ?? all.split(evalFraction: evalFraction, seed: seed)
        if evalData == nil { info.evalFraction = evalFraction; info.splitSeed = seed }
        let train = try pt.tokenize(tr.pairs).examples.map(TuneExample.init)
        let eval = try pt.tokenize(ev.pairs).examples.map(TuneExample.init)
        info.trainExamples = train.count; info.evalExamples = eval.count
        guard !train.isEmpty else { throw TuneError.noExamples(data) }
        return (train, eval, info)
    }

    func adapterConfig(loadedSAE: LoadedSAE, point: HookPoint, spec: ComponentSpec,
                       objective obj: Objective, counts: AdapterData) -> AdapterConfig {
        let sae = loadedSAE.sae
        var saeInfo = AdapterSAE(dIn: sae.dIn, dSAE: sae.dSAE)
        if let e = loadedSAE.entry { saeInfo.release = e.release; saeInfo.saeID = e.saeID }
        if case .folder(let url, _, _, _) = loadedSAE.spec { saeInfo.path = url.path }
        saeInfo.neuronpediaID = sae.config.neuronpediaID ?? loadedSAE.entry?.neuronpediaID
        let component = AdapterComponent(hookName: point.description, kind: spec.kind,
                                         depth: spec.kind == .mlp ? spec.depth : nil, hiddenSize: spec.kind == .mlp ? spec.hiddenSize : nil,
                                         scaleProcessor: spec.scaleProcessor, positions: spec.positions,
                                         activeOnly: spec.activeOnly, sae: saeInfo)
        var training = AdapterTraining(lossType: obj.name, beta: objective == .sft ? nil : beta, lr: lr, steps: maxSteps, seed: seed,
                                       optimizer: optimizer, weightDecay: weightDecay, batchSize: batchSize,
                                       gradientAccumulationSteps: gradientAccumulationSteps, lrScheduler: scheduler, warmupSteps: warmupSteps,
                                       maxGradNorm: gradClip, labelSmoothing: labelSmoothing)
        training.extra = ["objective": objective.rawValue, "l1_penalty": "\(l1Penalty)"]
        return AdapterConfig(baseModelNameOrPath: modelOptions.model.model, components: [component], training: training, data: counts)
    }
}
