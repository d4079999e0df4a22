import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftTokenizers
import IsaerftCheckpoints

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a forward pass and write input_ids, logits and hook activations to a safetensors file.",
        discussion: """
        Tensors are written under their exact TransformerLens hook names as float32, with the batch axis \
        dropped for --text/--ids input ([T, d], [T, H, dh], [H, T, T]) and kept for --input JSONL \
        (rows right-padded; attention_mask is written too). \
        --sae splices SAEs in at their hooks (repeatable; SAELens HookedSAETransformer semantics: the \
        activation is replaced by the reconstruction unless --error-term) and writes each SAE's features \
        as <hook_name>.hook_sae_acts_post; a recorded hook that has an SAE holds the spliced value.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var spliceOptions: SpliceOptions
    @OptionGroup var adapterOptions: AdapterOptions
    @Option(help: "Input text (tokenized with the model's tokenizer).") var text: String?
    @Option(help: "Input token ids, comma-separated.") var ids: String?
    @Option(help: "A JSONL file: one object per line with \"text\" or \"ids\"/\"input_ids\".") var input: String?
    @Option(help: "Comma-separated TransformerLens hook names to record (e.g. blocks.0.hook_resid_post).")
    var hooks: String?
    @Option(help: "Which logits to write: all, last, none, or comma-separated positions.") var logits: String = "all"
    @Flag(name: .customLong("prepend-bos"), help: "Put the model's BOS token before each text (TransformerLens' default).")
    var prependBOS = false
    @Option(help: "Where to write the safetensors file.") var output: String
    @Flag(help: "Print a JSON summary.") var json = false

    func validate() throws {
        let n = [text != nil, ids != nil, input != nil].filter { $0 }.count
        guard n == 1 else { throw ValidationError("give exactly one of --text, --ids or --input") }
    }

    func run() async throws {
        try await reportingErrors {
            let (loaded, saes) = spliceOptions.isEmpty ? (try await modelOptions.load(), []) : try await spliceOptions.load(modelOptions)
            let model = loaded.model
            let (batch, batched) = try readInput(loaded)
            let hookPoints = try model.hookPoints(named: hooks?.split(separator: ",").map(String.init) ?? [])
            let request: LogitsRequest
            switch logits {
            case "all": request = .all
            case "last": request = .lastPosition
            case "none": request = .none
            default: request = .positions(try parseIDList(logits))
            }
            var hookSet = HookSet(capture: Set(hookPoints))
            let spliced = try spliceOptions.splice(saes, into: &hookSet)
            // Every input position counts as prompt for an adapter's prompt/completion choice.
            try await adapterOptions.load(model: model).apply(to: &hookSet, promptLength: batch.length)
            let out = try model.forward(batch, options: ForwardOptions(hooks: hookSet, logits: request))
            var tensors: [(String, Tensor)] = []
            func squeeze(_ t: Tensor) -> Tensor { batched ? t : t.reshaped(Array(t.shape.dropFirst())) }
            if let l = out.logits { tensors.append(("logits", squeeze(l))) }
            for h in hookPoints { tensors.append((h.description, squeeze(out.captured[h]!))) }
            for s in spliced {
                guard let f = s.recorder.concatenatedFeatures() else { continue }
                tensors.append(("\(s.hook).hook_sae_acts_post", squeeze(f)))
            }
            var ints: [SafeTensors.Int64Tensor] = []
            let flatIDs = batch.ids.flatMap { $0 }.map { Int64($0) }
            ints.append((name: "input_ids", shape: batched ? [batch.batch, batch.length] : [batch.length], values: flatIDs))
            if batched, let mask = batch.mask {
                ints.append((name: "attention_mask", shape: [batch.batch, batch.length], values: mask.flatMap { $0 }.map { $0 ? 1 : 0 }))
            }
            let url = URL(fileURLWithPath: output)
            var metadata = ["model": loaded.spec, "generator": "isaerft run"]
            if !spliced.isEmpty {
                metadata["saes"] = spliced.map { "\($0.sae.label)@\($0.hook)" }.joined(separator: ",")
                metadata["sae_error_term"] = spliceOptions.errorTerm ? "true" : "false"
            }
            try SafeTensors.write(tensors, int64: ints, metadata: metadata, to: url)
            if json {
                var shapes: [String: [Int]] = [:]
                for (n, t) in tensors { shapes[n] = t.shape }
                for i in ints { shapes[i.name] = i.shape }
                Output.json(["output": url.path, "tensors": shapes, "tokens": flatIDs.count])
            } else {
                Output.line("wrote \(url.path): " + (tensors.map { "\($0.0) \($0.1.shape)" } + ["input_ids"]).joined(separator: ", "))
            }
        }
    }

    /// The batch to run and whether it keeps its batch axis (JSONL input).
    func readInput(_ loaded: LoadedModel) throws -> (TokenBatch, Bool) {
        let bos = loaded.model.bosTokenID ?? loaded.tokenizer?.bosTokenID
        func withBOS(_ ids: [Int]) throws -> [Int] {
            guard prependBOS else { return ids }
            guard let bos else { throw ValidationError("--prepend-bos: the model has no BOS token") }
            return ids.first == bos ? ids : [bos] + ids
        }
        if let text { return (TokenBatch(try withBOS(try loaded.requireTokenizer().encode(text, parseSpecial: true))), false) }
        if let ids { return (TokenBatch(try withBOS(try parseIDList(ids))), false) }
        let rows = try JSONLInput.read(path: input!, tokenizer: loaded.tokenizer).map(withBOS)
        return (TokenBatch.padded(rows, pad: loaded.model.eosTokenID ?? 0), true)
    }
}

/// Reads `--input` JSONL: each non-empty line an object with "text", or "ids"/"input_ids".
enum JSONLInput {
    struct LineError: Error, CustomStringConvertible {
        let path: String, line: Int, why: String
        var description: String { "\(path):\(line): \(why)" }
    }

    static func read(path: String, tokenizer: (any TextTokenizer)?) throws -> [[Int]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LineError(path: path, line: 0, why: "cannot read the file")
        }
        var rows: [[Int]] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw LineError(path: path, line: i + 1, why: "not a JSON object")
            }
            if let text = obj["text"] as? String {
                guard let tokenizer else { throw LineError(path: path, line: i + 1, why: "\"text\" given but the model has no tokenizer") }
                rows.append(try tokenizer.encode(text, parseSpecial: true))
            } else if let ids = (obj["ids"] ?? obj["input_ids"]) as? [Any] {
                rows.append(try ids.map { v in
                    guard let n = v as? Int else { throw LineError(path: path, line: i + 1, why: "ids must be integers") }
                    return n
                })
            } else {
                throw LineError(path: path, line: i + 1, why: "expected a \"text\" string or an \"ids\" array")
            }
            if rows.last!.isEmpty { throw LineError(path: path, line: i + 1, why: "empty input") }
        }
        guard !rows.isEmpty else { throw LineError(path: path, line: 0, why: "no input lines") }
        return rows
    }
}
