import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftData
import IsaerftFiles
import IsaerftModels
import IsaerftSAE

struct SAEEvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate an SAE spliced into the model on a text dataset (SAELens run_evals metrics).",
        discussion: """
        The dataset (plain text, JSONL with a text field, optionally gzip) is tokenized and packed into \
        contexts of --context-size tokens (default: the SAE's context_size), BOS first when the SAE's \
        prepend_bos is true, documents separated by BOS, as SAELens' activation store does. Per batch of \
        --batch-size contexts three forward passes run (clean, SAE spliced without error term, hook zero-\
        ablated), giving SAELens 6.54.12's metrics under its names: CE loss with/without SAE and with \
        ablation and ce_loss_score, KL with SAE and ablation and kl_div_score, l0, l1, mse, explained \
        variance (corrected, mean-centred) and explained_variance_legacy, cossim, l2 norms, \
        relative_reconstruction_bias; plus dead/dense latent fractions and a log10 density histogram. \
        Special tokens (BOS, EOS) are left out of every metric, as SAELens' exclude_special_tokens does.
        """)

    @OptionGroup var modelOptions: SAEModelOptions
    @OptionGroup var saeOptions: SAEOptions
    @Option(help: "A text dataset: plain text, JSONL (one object per line) or either gzip-compressed.") var dataset: String
    @Option(name: .customLong("text-field"), help: "The JSONL field holding the text.") var textField = "text"
    @Flag(name: .customLong("split-paragraphs"), help: "Plain text: one document per blank-line-separated paragraph.")
    var splitParagraphs = false
    @Option(help: "Tokens to evaluate (default: SAELens' 10 batches, 10 × batch size × context size).") var tokens: Int?
    @Option(name: .customLong("context-size"), help: "Tokens per context (default: the SAE's context_size, at most the model's).")
    var contextSize: Int?
    @Option(name: .customLong("batch-size"), help: "Contexts per forward pass (SAELens batch_size_prompts).") var batchSize = 8
    @Flag(name: .customLong("prepend-bos"), inversion: .prefixedNo, help: "Start every context with BOS (default: the SAE's prepend_bos).")
    var prependBOS: Bool?
    @Flag(name: .customLong("include-special-tokens"), help: "Keep BOS/EOS positions in the metrics (SAELens exclude_special_tokens=False).")
    var includeSpecialTokens = false
    @Option(name: .customLong("dense-threshold"), help: "Latents firing on more than this fraction of tokens count as dense.")
    var denseThreshold = 0.1
    @Option(name: .customLong("feature-output"), help: "Also write feature_density and consistent_activation_heuristic [d_sae] to this safetensors file.")
    var featureOutput: String?
    @Flag(help: "Print JSON (SAELens' metric groups and names).") var json = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let tokens, tokens <= 0 { throw ValidationError("--tokens must be positive") }
        if let contextSize, contextSize < 2 { throw ValidationError("--context-size must be at least 2") }
        guard denseThreshold >= 0 && denseThreshold <= 1 else { throw ValidationError("--dense-threshold must be in [0, 1]") }
    }

    func run() async throws {
        try await reportingErrors {
            let data = try TextDataset(url: URL(fileURLWithPath: (dataset as NSString).expandingTildeInPath),
                                       textField: textField, splitParagraphs: splitParagraphs)
            let (loaded, loadedSAE) = try await modelOptions.load(saeOptions)
            let sae = loadedSAE.sae, model = loaded.model
            let tokenizer = try loaded.requireTokenizer()
            let context: Int
            if let contextSize {
                guard contextSize <= model.contextLength else {
                    throw ValidationError("--context-size \(contextSize) exceeds the model's context length \(model.contextLength)")
                }
                context = contextSize
            } else {
                context = min(sae.config.contextSize ?? 128, model.contextLength)
            }
            let prepend = prependBOS ?? sae.config.prependBOS ?? true
            let bos = model.bosTokenID ?? tokenizer.bosTokenID
            if prepend && bos == nil { throw ValidationError("--prepend-bos: the model has no BOS token") }
            let wanted = tokens ?? 10 * batchSize * context
            let packer = ContextPacker(contextSize: context, prependBOS: prepend, bosTokenID: bos)
            let rows = try packer.pack(data, tokenizer: tokenizer, maxTokens: wanted)
            guard !rows.isEmpty else {
                throw ValidationError("\(dataset): fewer than \(context) tokens, not enough for one context (try --context-size)")
            }
            let used = Array(rows.prefix((wanted + context - 1) / context))
            var excluded = Set<Int>()
            if !includeSpecialTokens {
                for id in [tokenizer.bosTokenID, tokenizer.eosTokenID, model.bosTokenID, model.eosTokenID] { if let id { excluded.insert(id) } }
            }
            let options = SAEEvalOptions(batchSize: batchSize, excludedTokens: excluded, denseThreshold: denseThreshold)
            var seconds = 0.0
            let m = try sae.evaluate(on: model, contexts: used, options: options) { event in
                if case let .batchDone(b, n, t, s) = event {
                    seconds = s
                    Output.progress("sae eval: batch \(b)/\(n), \(t) tokens, \(Int(Double(t) / max(s, 1e-9))) tokens/s")
                }
            }
            Output.endProgress()
            if let featureOutput {
                try SafeTensors.write([("feature_density", Tensor(shape: [sae.dSAE], scalars: m.featureDensity.map(Float.init))),
                                       ("consistent_activation_heuristic",
                                        Tensor(shape: [sae.dSAE], scalars: m.consistentActivationHeuristic.map(Float.init)))],
                                      metadata: ["sae": loadedSAE.label, "model": loaded.spec, "generator": "isaerft sae eval"],
                                      to: URL(fileURLWithPath: featureOutput))
            }
            let evalCfg: JSONValue = .object([
                ("dataset", .string(dataset)), ("context_size", .int(context)), ("batch_size_prompts", .int(batchSize)),
                ("n_eval_reconstruction_batches", .int(m.batches)), ("n_eval_sparsity_variance_batches", .int(m.batches)),
                ("prepend_bos", .bool(prepend)), ("exclude_special_tokens", .array(excluded.sorted().map { .int($0) })),
                ("kept_tokens", .int(m.keptTokens)),
                ("center_writing_weights", .bool(modelOptions.model.centerWritingWeights || sae.config.expectsCenteredWritingWeights)),
            ])
            if json {
                Output.line(JSONValue.object([
                    ("sae", .string(loadedSAE.label)), ("model", .string(loaded.spec)), ("hook_name", .string(try sae.hookPoint().description)),
                    ("eval_cfg", evalCfg), ("metrics", m.jsonValue), ("latent_density", m.densityJSON),
                    ("timing", .object([("seconds", .double(seconds)), ("tokens_per_second", .double(Double(m.totalTokens) / seconds))])),
                    ("sae_cfg", sae.config.jsonValue),
                ]).description)
            } else {
                printTable(m, label: loadedSAE.label, model: loaded.spec, context: context)
                Output.line(String(format: "%.2f s, %.0f tokens/s", seconds, Double(m.totalTokens) / seconds))
            }
        }
    }

    func printTable(_ m: SAEEvalMetrics, label: String, model: String, context: Int) {
        Output.line("\(label) on \(model): \(m.totalTokens) tokens (\(m.keptTokens) kept), \(m.batches) batches of \(batchSize) × \(context)")
        var group = ""
        for (key, v) in m.flatMetrics where !key.hasPrefix("token_stats") {
            let parts = key.split(separator: "/")
            if parts[0] != group { group = String(parts[0]); Output.line(group) }
            Output.line("  " + parts[1].padding(toLength: 30, withPad: " ", startingAt: 0) + formatMetric(v))
        }
        let d = m.density
        Output.line("latent_density")
        Output.line("  " + "dead_fraction".padding(toLength: 30, withPad: " ", startingAt: 0) + formatMetric(d.deadFraction))
        Output.line("  " + "dense_fraction (> \(d.denseThreshold))".padding(toLength: 30, withPad: " ", startingAt: 0) + formatMetric(d.denseFraction))
        Output.line("  log10 density histogram (bins of \(d.histogramEdges[1] - d.histogramEdges[0]) from -10; dead in the first):")
        Output.line("  " + d.histogramCounts.map(String.init).joined(separator: " "))
    }
}
