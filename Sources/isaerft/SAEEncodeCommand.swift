import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE

struct SAEEncodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Run the model to the SAE's hook and write the SAE's features and reconstruction to a safetensors file.",
        discussion: """
        Writes feature_acts [T, d_sae] (SAELens encode, hook_sae_acts_post), sae_out [T, d_in] \
        (decode(encode(x))), sae_in [T, d_in] (the hook value the SAE read; hook_z heads flattened) and \
        input_ids [T] (int64). --text is tokenized without special tokens and, when the SAE's \
        prepend_bos is true (the default), BOS is put first; --ids are used as given unless --prepend-bos.
        """)

    @OptionGroup var modelOptions: SAEModelOptions
    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var adapterOptions: AdapterOptions
    @Option(help: "Input text (tokenized with the model's tokenizer).") var text: String?
    @Option(help: "Input token ids, comma-separated.") var ids: String?
    @Flag(name: .customLong("prepend-bos"), inversion: .prefixedNo,
          help: "Put BOS before the input (default: the SAE's prepend_bos for --text, off for --ids).")
    var prependBOS: Bool?
    @Option(help: "Where to write the safetensors file.") var output: String
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        guard (text != nil) != (ids != nil) else { throw ValidationError("give exactly one of --text or --ids") }
    }

    func run() async throws {
        try await reportingErrors {
            let (loaded, loadedSAE) = try await modelOptions.load(saeOptions)
            let sae = loadedSAE.sae, model = loaded.model
            var tokens: [Int]
            var prepend: Bool
            if let text {
                tokens = try loaded.requireTokenizer().encode(text, parseSpecial: true, addSpecialTokens: false)
                prepend = prependBOS ?? sae.config.prependBOS ?? true
            } else {
                tokens = try parseIDList(ids!)
                prepend = prependBOS ?? false
            }
            if prepend {
                guard let bos = model.bosTokenID ?? loaded.tokenizer?.bosTokenID else {
                    throw ValidationError("--prepend-bos: the model has no BOS token")
                }
                if tokens.first != bos { tokens.insert(bos, at: 0) }
            }
            guard !tokens.isEmpty else { throw ValidationError("the input is empty") }
            let point = try sae.hookPoint()
            let start = Date()
            var hooks = HookSet(capture: [point])
            // An adapter edits the pass first: the SAE then reads the adapted activation.
            try await adapterOptions.load(model: model).apply(to: &hooks, promptLength: tokens.count)
            var options = ForwardOptions(hooks: hooks, logits: .none)
            options.stopAfterLayer = point.layer
            let out = try model.forward(TokenBatch(tokens), options: options)
            guard let value = out.captured[point] else { throw SAEError.unknownHook(point.description, reason: "the model did not produce it") }
            let x = saeRows(value, sae: sae)
            let (f, stats) = try sae.encodeWithStatistics(x)
            let y = sae.decode(f, statistics: stats)
            let seconds = Date().timeIntervalSince(start)
            let tensors: [(String, Tensor)] = [("feature_acts", f), ("sae_out", y), ("sae_in", x)]
            let url = URL(fileURLWithPath: output)
            try SafeTensors.write(tensors, int64: [(name: "input_ids", shape: [tokens.count], values: tokens.map(Int64.init))],
                                  metadata: ["model": loaded.spec, "sae": loadedSAE.label, "hook_name": point.description,
                                             "generator": "isaerft sae encode"], to: url)
            let l0 = Double(f.scalars.filter { $0 != 0 }.count) / Double(tokens.count)
            if json {
                var shapes: [(String, JSONValue)] = tensors.map { ($0.0, .array($0.1.shape.map { .int($0) })) }
                shapes.append(("input_ids", .array([.int(tokens.count)])))
                Output.line(JSONValue.object([
                    ("output", .string(url.path)), ("tokens", .int(tokens.count)), ("hook_name", .string(point.description)),
                    ("l0", .double(l0)), ("tensors", .object(shapes)),
                    ("seconds", .double(seconds)), ("tokens_per_second", .double(Double(tokens.count) / seconds)),
                ]).description)
            } else {
                Output.line("wrote \(url.path): " + tensors.map { "\($0.0) \($0.1.shape)" }.joined(separator: ", ")
                            + ", input_ids [\(tokens.count)]; mean L0 \(formatMetric(l0))")
            }
        }
    }
}
