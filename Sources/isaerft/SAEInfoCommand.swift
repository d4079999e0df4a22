import ArgumentParser
import Foundation
import IsaerftSAE

struct SAEInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show an SAE's architecture, sizes, hook, model, normalisation, registry entry and Neuronpedia id.",
        discussion: """
        For SAELens-format SAEs only cfg.json is read (or downloaded); converted formats (Gemma Scope, \
        Llama Scope) are loaded in full because their config comes from the weights.
        """)

    @OptionGroup var saeOptions: SAEOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let spec = try saeOptions.spec()
            var config: SAEConfig
            var folded: Double? = nil
            var hasSparsity: Bool? = nil
            var entry: SAERegistryEntry? = nil
            switch spec {
            case let .folder(url, _, _, _):
                if let c = try SAESource.config(ofFolder: url) {
                    config = c
                } else {
                    let sae = try SAESource.load(spec)
                    config = sae.config; folded = sae.foldedNormScalingFactor
                }
                hasSparsity = FileManager.default.fileExists(atPath: url.appendingPathComponent(SAEFiles.sparsity).path)
            case let .registry(e):
                entry = e
                if e.format == .saeLens {
                    let cfg = "\(e.path)/\(SAEFiles.config)"
                    let root = try await fetch(e, files: [cfg])
                    config = try SAEConfig.parse(try Data(contentsOf: root.appendingPathComponent(cfg)), file: cfg)
                    // what SAE.from_pretrained adds from the release
                    if !e.modelFromPretrainedKwargs.isEmpty {
                        var kw = config.metadata["model_from_pretrained_kwargs"] ?? .object([])
                        if kw.objectPairs == nil { kw = .object([]) }
                        for k in e.modelFromPretrainedKwargs { kw.set(k, .bool(true)) }
                        config.metadata.set("model_from_pretrained_kwargs", kw)
                    }
                    if let n = e.neuronpediaID { config.metadata.set("neuronpedia_id", .string(n)) }
                    folded = config.normalizeActivations == .expectedAverageOnlyIn ? e.normScalingFactor : nil
                } else {
                    let root = try await fetch(e, files: e.files, optionalFiles: e.optionalFiles)
                    let sae = try SAESource.load(spec, downloadedTo: root)
                    config = sae.config; folded = sae.foldedNormScalingFactor
                }
            }
            let info = describe(config, spec: spec, entry: entry, folded: folded, hasSparsity: hasSparsity)
            if json {
                Output.line(info.description)
            } else {
                for (k, v) in info.objectPairs ?? [] where !v.isNull {
                    if let pairs = v.objectPairs, !pairs.isEmpty {
                        Output.line("\(k):")
                        for (k2, v2) in pairs where !v2.isNull { Output.line("  \(k2): \(plain(v2))") }
                    } else {
                        Output.line("\(k): \(plain(v))")
                    }
                }
            }
        }
    }

    func plain(_ v: JSONValue) -> String { v.stringValue ?? v.description }  // {} for an empty object

    func describe(_ c: SAEConfig, spec: SAESpec, entry: SAERegistryEntry?, folded: Double?, hasSparsity: Bool?) -> JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        func opt(_ i: Int?) -> JSONValue { i.map { .int($0) } ?? .null }
        var source: String
        var format: SAEFormat
        switch spec {
        case let .folder(url, f, _, _): source = url.path; format = f
        case let .registry(e): source = "\(e.repoID)/\(e.path)"; format = e.format
        }
        let np = c.neuronpediaID ?? entry?.neuronpediaID
        var out: [(String, JSONValue)] = [
            ("sae", .string(saeOptions.label)), ("source", .string(source)), ("format", .string(format.rawValue)),
            ("architecture", .string(c.architecture.rawValue)), ("d_in", .int(c.dIn)), ("d_sae", .int(c.dSAE)),
            ("hook_name", opt(c.hookName)), ("hook_head_index", opt(c.hookHeadIndex)), ("model_name", opt(c.modelName ?? entry?.modelName)),
            ("normalize_activations", .string(c.normalizeActivations.rawValue)),
            ("apply_b_dec_to_input", .bool(c.applyBDecToInput)), ("reshape_activations", .string(c.reshapeActivations.rawValue)),
            ("k", opt(c.k)), ("rescale_acts_by_decoder_norm", c.k == nil ? .null : .bool(c.rescaleActsByDecoderNorm)),
            ("dtype", .string(c.dtype)), ("context_size", opt(c.contextSize)),
            ("prepend_bos", c.prependBOS.map { .bool($0) } ?? .null), ("dataset_path", opt(c.datasetPath)),
            ("model_from_pretrained_kwargs", c.metadata["model_from_pretrained_kwargs"] ?? .null),
            ("center_writing_weights", .bool(c.expectsCenteredWritingWeights)),
            ("sae_lens_version", opt(c.saeLensVersion)), ("cfg_layout", .string(c.layout.rawValue)),
            ("folded_norm_scaling_factor", folded.map { .double($0) } ?? .null),
            ("sparsity_file", hasSparsity.map { .bool($0) } ?? .null),
            ("neuronpedia_id", opt(np)), ("neuronpedia_url", opt(np.map { "https://www.neuronpedia.org/\($0)" })),
        ]
        if let e = entry {
            out.append(("registry", .object([
                ("release", .string(e.release)), ("sae_id", .string(e.saeID)), ("repo_id", .string(e.repoID)),
                ("path", .string(e.path)), ("conversion", .string(e.format.rawValue)),
                ("l0", e.l0.map { .double($0) } ?? .null), ("norm_scaling_factor", e.normScalingFactor.map { .double($0) } ?? .null),
                ("neuronpedia", opt(e.neuronpediaID)),
            ])))
        }
        return .object(out)
    }
}
