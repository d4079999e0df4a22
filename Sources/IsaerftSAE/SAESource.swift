import Foundation

/// What an SAE spec names: a local folder in one of the supported layouts, or a registry entry whose
/// files must be fetched from the hub (downloading lives in the CLI; this module does no networking).
public enum SAESpec: Sendable, Equatable {
    /// A local folder and its layout; `repoID` / `path` as far as the location tells (Hugging Face
    /// cache snapshots name their repository), for converters that read them (Gemma Scope).
    case folder(URL, format: SAEFormat, repoID: String?, path: String)
    /// A pretrained release (`SAERegistry`) or a raw hub repository of SAELens folders.
    case registry(SAERegistryEntry)
}

/// Errors resolving an SAE spec; each `description` is one line.
public enum SAESourceError: Error, CustomStringConvertible, Sendable, Equatable {
    case notFound(String, releases: [String])
    case notAnSAEFolder(String)
    case needsID(release: String, examples: [String])
    case conflictingOptions(String)
    case modelMismatch(saeModel: String, model: String)

    public var description: String {
        switch self {
        case let .notFound(s, releases):
            "SAE '\(s)' not found: not a folder, and not release/sae_id of a known release (\(releases.prefix(4).joined(separator: ", ")), …) or org/repo/folder on the hub"
        case let .notAnSAEFolder(f):
            "\(f): not an SAE folder (expected cfg.json + sae_weights.safetensors, params.npz, params.safetensors, or hyperparams.json + checkpoints/final.safetensors)"
        case let .needsID(r, ex):
            "release '\(r)' needs an SAE id: \(r)/<id> or --sae-id (e.g. \(ex.prefix(3).joined(separator: ", ")))"
        case let .conflictingOptions(why): why
        case let .modelMismatch(s, m):
            "SAE was trained on model '\(s)', but the model is '\(m)' (pass --ignore-model-name if they are the same model)"
        }
    }
}

/// Resolves and loads SAE specs as the CLI takes them.
///
/// | spec | meaning |
/// |---|---|
/// | `./folder`, `/abs/folder` | a local folder: SAELens (`cfg.json`), Gemma Scope (`params.npz`), Gemma Scope 2 (`params.safetensors`), Llama Scope (`hyperparams.json`) |
/// | `release/sae_id` | a release of SAELens' `pretrained_saes.yaml` (`gpt2-small-res-jb/blocks.8.hook_resid_pre`) |
/// | `org/repo/folder…` | a hub repository of SAELens folders (SAELens treats an unknown release containing `/` so) |
public enum SAESource {
    /// Resolves `--sae S`, or `--sae-release R --sae-id I`.
    public static func resolve(spec: String?, release: String? = nil, id: String? = nil) throws -> SAESpec {
        if let release {
            if spec != nil { throw SAESourceError.conflictingOptions("give either --sae or --sae-release/--sae-id, not both") }
            guard let id else { throw SAESourceError.needsID(release: release, examples: (try? SAERegistry.ids(release: release)) ?? []) }
            return .registry(try SAERegistry.lookup(release: release, id: id))
        }
        if id != nil { throw SAESourceError.conflictingOptions("--sae-id needs --sae-release") }
        guard let spec, !spec.isEmpty else { throw SAESourceError.conflictingOptions("give --sae (a folder or release/sae_id) or --sae-release and --sae-id") }
        let path = (spec as NSString).expandingTildeInPath
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            var folder = URL(fileURLWithPath: path).standardizedFileURL
            if !isDir.boolValue {
                guard ["cfg.json", "params.npz", "params.safetensors", "hyperparams.json", "sae_weights.safetensors"]
                    .contains(folder.lastPathComponent) else { throw SAESourceError.notAnSAEFolder(path) }
                folder = folder.deletingLastPathComponent()
            }
            guard let format = format(ofFolder: folder) else { throw SAESourceError.notAnSAEFolder(folder.path) }
            let (repo, inner) = hubLocation(of: folder)
            return .folder(folder, format: format, repoID: repo, path: inner)
        }
        if spec.hasPrefix("/") || spec.hasPrefix(".") || spec.hasPrefix("~") {
            throw SAEError.missingFile(path, reason: "no such file or folder")
        }
        let releases = SAERegistry.releases
        if releases.contains(spec) { throw SAESourceError.needsID(release: spec, examples: (try? SAERegistry.ids(release: spec)) ?? []) }
        // The longest known release that prefixes the spec (ids contain '/').
        if let r = releases.filter({ spec.hasPrefix($0 + "/") }).max(by: { $0.count < $1.count }) {
            return .registry(try SAERegistry.lookup(release: r, id: String(spec.dropFirst(r.count + 1))))
        }
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count >= 3, !parts.contains(where: \.isEmpty) {
            return .registry(try SAERegistry.lookup(release: parts[0...1].joined(separator: "/"), id: parts[2...].joined(separator: "/")))
        }
        throw SAESourceError.notFound(spec, releases: releases)
    }

    /// The layout of a local folder, by the files it holds (nil: none of them).
    public static func format(ofFolder folder: URL) -> SAEFormat? {
        func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) }
        if has("cfg.json") { return .saeLens }
        if has("params.npz") { return .gemmaScope }
        if has("params.safetensors") { return .gemmaScope2 }
        if has("hyperparams.json") { return .llamaScope }
        return nil
    }

    /// For a folder inside a Hugging Face cache snapshot (`…/models--org--name/snapshots/<commit>/a/b`):
    /// the repository (`org/name`) and the folder inside it (`a/b`). Elsewhere, a path component naming a
    /// Gemma Scope repository (`…/gemma-scope-2b-pt-res/layer_20/…`) plays that part; otherwise nil and
    /// the whole path.
    static func hubLocation(of folder: URL) -> (String?, String) {
        let c = folder.pathComponents
        if let i = c.lastIndex(where: { $0.hasPrefix("models--") }), i + 2 < c.count, c[i + 1] == "snapshots" {
            let repo = c[i].dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
            return (repo, c[(i + 3)...].joined(separator: "/"))
        }
        if let i = c.lastIndex(where: { $0.contains("gemma-scope") }), i + 1 < c.count {
            return (c[i], c[(i + 1)...].joined(separator: "/"))
        }
        return (nil, folder.path)
    }

    /// Loads a local folder of any supported layout. Gemma Scope folders need the repository id to
    /// name the hook (`…-res`, `…-mlp`, `…-att`); outside the HF cache the folder path is used, so it
    /// should contain the repository name (e.g. `gemma-scope-2b-pt-res/layer_20/width_16k/average_l0_71`).
    public static func load(_ spec: SAESpec, downloadedTo root: URL? = nil) throws -> SparseAutoencoder {
        switch spec {
        case let .registry(entry):
            guard let root else { preconditionFailure("SAESource.load: registry entries need the downloaded root") }
            return try SparseAutoencoder.load(entry, from: root)
        case let .folder(url, format, repoID, path):
            switch format {
            case .saeLens: return try SparseAutoencoder.load(folder: url)
            case .gemmaScope:
                return try SparseAutoencoder.loadGemmaScope(npz: url.appendingPathComponent("params.npz"), repoID: repoID ?? url.path, folder: path)
            case .gemmaScope2:
                return try SparseAutoencoder.loadGemmaScope2(folder: url, repoID: repoID ?? url.path, folder: path)
            case .llamaScope:
                // The release's norm_scaling_factor, found by the folder name (Llama3_1-8B-Base-L15R-8x).
                let norm = SAERegistry.parsed.lazy.filter { $0.format == .llamaScope }
                    .compactMap { r in r.saes.first { $0.path == url.lastPathComponent }?.norm }.first
                return try SparseAutoencoder.loadLlamaScope(folder: url, normScalingFactor: norm)
            }
        }
    }

    /// The SAE's config without reading its weights, where the layout allows (SAELens `cfg.json`);
    /// nil for converted layouts, whose config is synthesised from the weights.
    public static func config(ofFolder folder: URL) throws -> SAEConfig? {
        guard format(ofFolder: folder) == .saeLens else { return nil }
        let url = folder.appendingPathComponent(SAEFiles.config)
        return try SAEConfig.parse(try SparseAutoencoder.readFile(url), file: url.path)
    }

    // MARK: - Model names

    /// Whether an SAE's `model_name` and the model the user gave name the same model, loosely: case,
    /// an organisation prefix, a `@revision`, a file extension and punctuation are ignored,
    /// TransformerLens aliases map to hub names (`gpt2-small` = `gpt2`), and one name may extend the
    /// other (`gemma-3-270m` fits a `gemma-3-270m-it-…gguf` file). Widths are checked separately.
    public static func modelNamesMatch(_ saeModel: String, _ model: String) -> Bool {
        let a = normalisedModelName(saeModel), b = normalisedModelName(model)
        guard !a.isEmpty, !b.isEmpty else { return true }
        return a.hasPrefix(b) || b.hasPrefix(a)
    }

    static func normalisedModelName(_ name: String) -> String {
        var n = name.lowercased()
        if let at = n.firstIndex(of: "@") { n = String(n[..<at]) }
        while n.hasSuffix("/") { n.removeLast() }
        if let slash = n.lastIndex(of: "/") { n = String(n[n.index(after: slash)...]) }
        for ext in [".gguf", ".bin", ".safetensors"] where n.hasSuffix(ext) { n.removeLast(ext.count) }
        if n == "gpt2-small" { n = "gpt2" }
        return String(n.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }

    /// Throws `SAESourceError.modelMismatch` when the SAE names a model that is not `model`.
    public static func checkModelName(_ sae: SparseAutoencoder, model: String) throws {
        if let m = sae.config.modelName, !modelNamesMatch(m, model) {
            throw SAESourceError.modelMismatch(saeModel: m, model: model)
        }
    }
}
