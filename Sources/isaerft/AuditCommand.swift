import ArgumentParser
import Foundation
import IsaerftAnalysis
import IsaerftAudit
import IsaerftCheckpoints
import IsaerftSAE
import IsaerftTuning

/// `isaerft audit`: what an adapter changed, as Markdown, JSON and one HTML page.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Report the latents an ISaeRFT adapter moved most (by value and by effect on data), with labels, trajectories and examples.",
        discussion: """
        The model and SAE default to what adapter_config.json records (base_model_name_or_path; the \
        SAE's path, or release/sae_id). Without --data only the raw-value rankings (and bias effects) are \
        computed. Writes audit.md, audit.json and audit.html into --output (default ADAPTER_DIR/audit).
        """)

    @Argument(help: "The adapter folder (adapter_config.json + adapter_model.safetensors).") var adapter: String
    @Option(help: "Data to measure effects and find examples on: a preference file (.jsonl/.json/.gz, any format) or a text/JSONL file.") var data: String?
    @Option(help: "Labels: a Neuronpedia explanations export (.jsonl, .jsonl.gz or folder) or a CSV index,label.") var labels: String?
    @Option(help: "The base model (default: the adapter's base_model_name_or_path).") var model: String?
    @Option(help: "The SAE (default: the adapter's record); for adapters with one component.") var sae: String?
    @Option(help: "Latents per listing.") var top = 20
    @Option(name: .customLong("max-rows"), help: "At most this many data rows.") var maxRows = 400
    @Option(help: "Output folder.") var output: String?
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        if top < 1 { throw ValidationError("--top must be at least 1") }
        if maxRows < 1 { throw ValidationError("--max-rows must be at least 1") }
    }

    func run() async throws {
        try await reportingErrors {
            let folder = try AdapterFolder.read(from: URL(fileURLWithPath: adapter))
            if sae != nil && folder.config.components.count > 1 {
                throw ValidationError("--sae names one SAE, the adapter has \(folder.config.components.count) components")
            }
            var saes: [String: SparseAutoencoder] = [:]
            for c in folder.config.components {
                saes[c.hookName] = try await loadAdapterSAE(for: c, override: sae)
            }
            var labelSets: [String: LatentLabels] = [:]
            if let labels {
                for c in folder.config.components {
                    let np = (c.sae.neuronpediaID ?? saes[c.hookName]?.config.neuronpediaID).flatMap { try? NeuronpediaID($0) }
                    labelSets[c.hookName] = try LatentLabels.load(URL(fileURLWithPath: labels), source: np?.sourceID)
                }
            }
            var loaded: LoadedModel? = nil
            var auditData: AuditData? = nil
            if let data {
                let spec = model ?? folder.config.baseModelNameOrPath
                let center = saes.values.contains { $0.config.expectsCenteredWritingWeights }
                loaded = try await ModelSource.load(spec, centerWritingWeights: center, progress: downloadProgress)
                Output.endProgress()
                let tokenizer = try loaded!.requireTokenizer()
                auditData = try AuditData.load(url: URL(fileURLWithPath: data), tokenizer: tokenizer,
                                               settings: folder.config.data?.tokenization ?? TokenizationSettings(), maxRows: maxRows)
            }
            var options = AuditOptions()
            options.top = top
            let report = try Audit.run(adapter: folder, saes: saes, model: loaded?.model, tokenizer: loaded?.tokenizer, data: auditData,
                                       labels: labelSets, options: options)
            let out = URL(fileURLWithPath: output ?? (adapter as NSString).appendingPathComponent("audit"))
            let html = try report.write(to: out)
            if json { Output.json(report.jsonObject()) } else {
                for c in report.components {
                    Output.line("\(c.kind.rawValue) at \(c.hookName): \(c.movedCount) of \(c.valueCount) latents moved; top up " +
                                c.up.prefix(5).map { "\($0.index)" + ($0.label.map { " (\($0))" } ?? "") }.joined(separator: ", "))
                }
            }
            Output.status("wrote \(html.path) (and audit.md, audit.json)")
        }
    }
}

/// The SAE of component `c`: `override` (--sae), else its recorded path (when it exists), else release/sae_id.
func loadAdapterSAE(for c: AdapterComponent, override sae: String?) async throws -> SparseAutoencoder {
    let arguments: [String]
    if let sae {
        arguments = ["--sae", sae]
    } else if let p = c.sae.path, FileManager.default.fileExists(atPath: p) {
        arguments = ["--sae", p]
    } else if let r = c.sae.release, let id = c.sae.saeID {
        arguments = ["--sae-release", r, "--sae-id", id]
    } else {
        throw ValidationError("the adapter records no usable SAE for \(c.hookName) (path missing, no release/sae_id); pass --sae")
    }
    let options = try SAEOptions.parse(arguments)
    return try await options.load().sae
}
