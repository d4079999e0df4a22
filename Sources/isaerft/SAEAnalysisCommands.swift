import ArgumentParser
import Foundation
import IsaerftAnalysis
import IsaerftCheckpoints
import IsaerftData
import IsaerftFiles
import IsaerftModels
import IsaerftSAE

/// `isaerft sae top-examples`: top-activating contexts, interval samples, density and logit effects.
struct SAETopExamplesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top-examples",
        abstract: "Find the top-activating contexts of chosen latents over a corpus (plus interval samples, density and logit effects).",
        discussion: """
        The corpus is packed as the SAE was trained (documents joined with BOS, rows of the SAE's \
        context_size, BOS first); BOS is left out of every statistic. Latents are listed with their \
        label (--labels: a Neuronpedia explanations export .jsonl / .jsonl.gz / folder, or a CSV \
        index,label) and Neuronpedia page (the SAE's neuronpedia_id, or --neuronpedia-id; when it is \
        known, export lines of other sources are dropped). --json \
        prints Neuronpedia-style feature records; --output writes them to a file.
        """)

    @OptionGroup var modelOptions: SAEModelOptions
    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var corpus: AnalysisCorpusOptions
    @Flag(help: "Print JSON (Neuronpedia feature-record field names).") var json = false
    @Option(help: "Also write the JSON to this file (atomically).") var output: String?

    func validate() throws { try corpus.validate() }

    func run() async throws {
        try await reportingErrors {
            let result = try await corpus.analyse(modelOptions: modelOptions, saeOptions: saeOptions)
            let object = result.jsonObject()
            if let output {
                try AtomicFile.write(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]),
                                     to: URL(fileURLWithPath: output))
            }
            if json { Output.json(object); return }
            Output.line("\(result.saeName) at \(result.hook) · \(result.tokenCount) tokens in \(result.contexts) contexts of \(result.dataset)")
            for d in result.dashboards {
                Output.line("")
                Output.line(latentHeader(d))
                Output.line("  density \(String(format: "%.4g", 100 * d.report.density))% (\(d.report.activeCount)/\(d.report.tokenCount) tokens), max \(String(format: "%.3f", d.report.maxActivation))")
                if let l = d.logits {
                    Output.line("  promotes: " + l.positive.prefix(6).map { "\(quoted(d.text($0.token))) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "))
                    Output.line("  suppresses: " + l.negative.prefix(6).map { "\(quoted(d.text($0.token))) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "))
                }
                for e in d.report.top.prefix(corpus.top) {
                    Output.line(String(format: "  %8.3f  ", e.activation) + exampleText(e, d))
                }
            }
            if let output { Output.status("wrote \(output)") }
        }
    }
}

/// `isaerft sae dashboard`: one self-contained HTML page per latent, plus an index.
struct SAEDashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Write one self-contained HTML dashboard per latent (examples, intervals, histogram, logit effects, label, Neuronpedia link).",
        discussion: "Writes latent-<i>.html for each latent, index.html and dashboard.json into --output-dir (each file atomically).")

    @OptionGroup var modelOptions: SAEModelOptions
    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var corpus: AnalysisCorpusOptions
    @Option(name: .customLong("output-dir"), help: "Folder for the HTML files (created when missing).") var outputDir: String
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws { try corpus.validate() }

    func run() async throws {
        try await reportingErrors {
            let result = try await corpus.analyse(modelOptions: modelOptions, saeOptions: saeOptions)
            let folder = URL(fileURLWithPath: outputDir)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var files: [String] = []
            for d in result.dashboards {
                let name = "latent-\(d.latent).html"
                try d.writeHTML(to: folder.appendingPathComponent(name))
                files.append(name)
            }
            let title = "\(result.saeName) · \(result.hook) · \(result.tokenCount) tokens"
            try AtomicFile.write(Data(dashboardIndexHTML(result.dashboards, files: files, title: title).utf8),
                                 to: folder.appendingPathComponent("index.html"))
            try AtomicFile.write(try JSONSerialization.data(withJSONObject: result.jsonObject(), options: [.sortedKeys, .withoutEscapingSlashes]),
                                 to: folder.appendingPathComponent("dashboard.json"))
            if json {
                Output.json(["output_dir": folder.path, "files": files + ["index.html", "dashboard.json"], "tokens": result.tokenCount])
            } else {
                for d in result.dashboards { Output.line(latentHeader(d)) }
                Output.line("wrote \(files.count) dashboards to \(folder.path) (open index.html)")
            }
        }
    }
}

/// Options shared by `top-examples` and `dashboard`.
struct AnalysisCorpusOptions: ParsableArguments {
    @Option(help: "Text corpus: plain text, JSONL (--text-field), or either gzipped.") var dataset: String
    @Option(name: .customLong("text-field"), help: "JSONL field holding the text.") var textField = "text"
    @Option(help: "Latents, e.g. 1,2,3 or 10-20.") var latents: String
    @Option(help: "Tokens to read from the corpus (whole contexts).") var tokens = 16_384
    @Option(help: "Top examples per latent.") var top = 20
    @Option(help: "Context tokens shown before and after the top token.") var window = 5
    @Option(name: .customLong("context-size"), help: "Tokens per context (default: the SAE's context_size, else 128).") var contextSize: Int?
    @Option(name: .customLong("batch-size"), help: "Contexts per forward pass.") var batchSize = 8
    @Option(help: "Labels: a Neuronpedia explanations export (.jsonl, .jsonl.gz, or a folder of them) or a CSV of index,label.") var labels: String?
    @Option(name: .customLong("neuronpedia-id"), help: "Neuronpedia source, e.g. gpt2-small/8-res-jb (default: the SAE's neuronpedia_id).") var neuronpediaID: String?
    @Option(name: .customLong("logit-convention"), help: "transformer-lens (final norm folded, centred: what Neuronpedia shows) or raw.") var logitConvention = "transformer-lens"
    @Option(help: "Seed of the interval sampling.") var seed: UInt64 = 0

    func validate() throws {
        guard tokens > 0, top > 0, window >= 0, batchSize > 0 else { throw ValidationError("--tokens, --top, --batch-size must be > 0 and --window ≥ 0") }
        if let contextSize, contextSize < 2 { throw ValidationError("--context-size must be ≥ 2") }
        guard LogitEffectConvention(rawValue: logitConvention) != nil else { throw ValidationError("--logit-convention must be transformer-lens or raw") }
        _ = try parseLatentList(latents)
    }

    /// Loads everything, runs the corpus pass, and builds one dashboard per latent.
    func analyse(modelOptions: SAEModelOptions, saeOptions: SAEOptions) async throws -> AnalysisResult {
        let (loaded, loadedSAE) = try await modelOptions.load(saeOptions)
        let sae = loadedSAE.sae, model = loaded.model
        let tokenizer = try loaded.requireTokenizer()
        let ids = try parseLatentList(latents)
        try LatentExampleCollector.validate(ids, dSAE: sae.dSAE)
        let np = try (neuronpediaID ?? sae.config.neuronpediaID ?? loadedSAE.entry?.neuronpediaID).map { try NeuronpediaID($0) }
        let labelSet = try labels.map { try LatentLabels.load(URL(fileURLWithPath: $0), source: np?.sourceID) } ?? LatentLabels()
        let data = try TextDataset(url: URL(fileURLWithPath: dataset), textField: textField)
        let contexts = try analysisContexts(dataset: data, tokenizer: tokenizer, sae: sae, model: model, maxTokens: tokens, contextSize: contextSize)
        let reader = try LatentReader(model: model, sae: sae)
        var config = TopExamplesConfiguration(latents: ids)
        config.topCount = top; config.windowBefore = window; config.windowAfter = window; config.seed = seed
        config.excludedTokens = Set([tokenizer.bosTokenID, tokenizer.eosTokenID, model.bosTokenID, model.eosTokenID].compactMap { $0 })
        var collector = LatentExampleCollector(config)
        try collector.collect(contexts: contexts, reader: reader, batchSize: batchSize) { done, total in
            Output.progress("reading \(reader.hook): \(done)/\(total) contexts")
        }
        Output.endProgress()
        let effects: [LatentLogitEffects?]
        do {
            effects = try LogitEffects.compute(sae: sae, latents: ids, model: model,
                                               convention: LogitEffectConvention(rawValue: logitConvention)!)
        } catch let e as AnalysisError {
            Output.status("isaerft: note: no logit effects (\(e.description))")
            effects = ids.map { _ in nil }
        }
        let text = LatentDashboard.tokenText(tokenizer)
        let dashboards = zip(collector.reports(), effects).map { report, e in
            LatentDashboard(latent: report.latent, saeName: loadedSAE.label, hookName: reader.hook.description,
                            modelName: modelOptions.model.model, labels: labelSet, neuronpedia: np, report: report, logits: e, tokenText: text)
        }
        return AnalysisResult(saeName: loadedSAE.label, hook: reader.hook.description, dataset: dataset,
                              contexts: contexts.count, tokenCount: contexts.count * (contexts.first?.count ?? 0), dashboards: dashboards)
    }
}

struct AnalysisResult {
    var saeName: String, hook: String, dataset: String
    var contexts: Int, tokenCount: Int
    var dashboards: [LatentDashboard]

    func jsonObject() -> [String: Any] {
        ["sae": saeName, "hook_name": hook, "dataset": dataset, "contexts": contexts, "tokens": tokenCount,
         "latents": dashboards.map { $0.jsonObject() }]
    }
}

/// "latent 7 · label · https://www.neuronpedia.org/…/7" (parts that are known).
func latentHeader(_ d: LatentDashboard) -> String {
    (["latent \(d.latent)"] + [d.label.map { quoted($0) }, d.neuronpediaURL].compactMap { $0 }).joined(separator: " · ")
}

/// A window with the centre token in «», newlines as ↵.
func exampleText(_ e: LatentExample, _ d: LatentDashboard) -> String {
    e.tokens.enumerated().map { k, t in
        let s = d.text(t).replacingOccurrences(of: "\n", with: "↵")
        return k == e.centreIndex ? "«\(s)»" : s
    }.joined()
}

func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\n", with: "↵") + "\"" }

/// Parses "1,2,3", "10-20" and mixtures into latent indices (in order, duplicates dropped).
func parseLatentList(_ s: String) throws -> [Int] {
    var out: [Int] = []
    for part in s.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) {
        let bounds = part.split(separator: "-", maxSplits: 1).map { Int($0) }
        if bounds.count == 2, let a = bounds[0], let b = bounds[1], a <= b, b - a < 100_000 {
            out += Array(a...b)
        } else if bounds.count == 1, let a = bounds[0] {
            out.append(a)
        } else {
            throw ValidationError("--latents: '\(part)' is not an index or a range a-b")
        }
    }
    guard !out.isEmpty else { throw ValidationError("--latents: no latents given") }
    var seen = Set<Int>()
    return out.filter { seen.insert($0).inserted }
}
