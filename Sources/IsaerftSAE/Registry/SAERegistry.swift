import Foundation

/// How a release stores its SAEs (SAELens `conversion_func`).
public enum SAEFormat: String, Sendable {
    /// SAELens folder: `cfg.json`, `sae_weights.safetensors`, optional `sparsity.safetensors`.
    case saeLens = "sae_lens"
    /// Gemma Scope (Gemma 2): `params.npz`.
    case gemmaScope = "gemma_2"
    /// Gemma Scope 2 (Gemma 3): `params.safetensors`, optional `config.json`.
    case gemmaScope2 = "gemma_3"
    /// Llama Scope: `hyperparams.json`, `checkpoints/final.safetensors`.
    case llamaScope = "llama_scope"
}

/// One pretrained SAE: where it lives on the hub and what it expects. Downloading is done
/// elsewhere: fetch `files` (and `optionalFiles` when they exist) from `repoID`, keeping their
/// paths, then call `SparseAutoencoder.load(_:from:)` with the local root.
public struct SAERegistryEntry: Sendable, Equatable {
    public var release: String
    public var saeID: String
    /// Hugging Face repository.
    public var repoID: String
    /// Folder of the SAE inside the repository.
    public var path: String
    /// SAELens / TransformerLens model name (`gpt2-small`, `gemma-2-2b`, `google/gemma-3-270m`, …).
    public var modelName: String
    public var format: SAEFormat
    /// Repository paths that must be downloaded.
    public var files: [String]
    /// Repository paths to download when present.
    public var optionalFiles: [String]
    /// The TransformerLens hook the SAE reads, as far as the release's naming tells (nil: read cfg.json).
    public var hookName: String?
    /// `model_from_pretrained_kwargs` the release sets to true (SAELens `config_overrides`).
    public var modelFromPretrainedKwargs: [String]
    /// The release was trained on residuals of a model loaded with `center_writing_weights`
    /// (`gpt2-small-res-jb`): load the model with `GPT2Model.centeringWritingWeights()`.
    public var expectsCenteredWritingWeights: Bool { modelFromPretrainedKwargs.contains("center_writing_weights") }
    /// `norm_scaling_factor` to fold for `expected_average_only_in` SAEs (Llama Scope).
    public var normScalingFactor: Double?
    public var neuronpediaID: String?
    /// The release's reported average L0, when given.
    public var l0: Double?
}

/// The pretrained SAEs this library knows, generated from SAELens' `pretrained_saes.yaml`
/// (`SAERegistryData.swift`): gpt2-small-res-jb (and its feature-splitting release), Gemma Scope
/// 2B residual releases (`gemma-scope-2b-pt-res`, `-canonical`), the Gemma Scope 2 releases for
/// gemma-3-270m (pt and it; res, mlp, att; with and without `-all`), and Llama Scope (LXR, LXA,
/// LXM; 8x and 32x).
public enum SAERegistry {
    struct Release: Sendable {
        var name, repoID, model: String
        var format: SAEFormat
        var kwargs: [String]
        var saes: [(id: String, path: String, l0: Double?, norm: Double?, neuronpedia: String?)]
    }

    /// Parsed once from `table`.
    static let parsed: [Release] = {
        var out: [Release] = []
        for line in table.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if f[0] == "@" {
                precondition(f.count == 6, "SAERegistryData: bad release line \(line)")
                out.append(Release(name: f[1], repoID: f[2], model: f[3], format: SAEFormat(rawValue: f[4]) ?? .saeLens,
                                   kwargs: f[5] == "-" ? [] : f[5].split(separator: ",").map(String.init), saes: []))
            } else {
                precondition(f.count == 5 && !out.isEmpty, "SAERegistryData: bad SAE line \(line)")
                func opt(_ s: String) -> String? { s == "-" ? nil : s }
                out[out.count - 1].saes.append((f[0], f[1] == "=" ? f[0] : f[1], opt(f[2]).flatMap(Double.init),
                                                opt(f[3]).flatMap(Double.init), opt(f[4])))
            }
        }
        return out
    }()

    /// Release names, in table order.
    public static var releases: [String] { parsed.map(\.name) }

    /// SAE ids of `release`.
    public static func ids(release: String) throws -> [String] {
        guard let r = parsed.first(where: { $0.name == release }) else { throw SAEError.unknownRelease(release, known: releases) }
        return r.saes.map(\.id)
    }

    /// The entry for `(release, id)`, as SAELens' `get_repo_id_and_folder_name` resolves it.
    /// A release that is not in the table but contains `/` is taken as a repository id of SAELens
    /// folders, with `id` as the folder (SAELens does the same).
    public static func lookup(release: String, id: String) throws -> SAERegistryEntry {
        guard let r = parsed.first(where: { $0.name == release }) else {
            if release.contains("/") {
                return entry(release: release, repoID: release, model: "", format: .saeLens, kwargs: [],
                             sae: (id, id, nil, nil, nil))
            }
            throw SAEError.unknownRelease(release, known: releases)
        }
        guard let sae = r.saes.first(where: { $0.id == id }) else {
            throw SAEError.unknownSAE(release: release, id: id, examples: r.saes.map(\.id))
        }
        return entry(release: r.name, repoID: r.repoID, model: r.model, format: r.format, kwargs: r.kwargs, sae: sae)
    }

    static func entry(release: String, repoID: String, model: String, format: SAEFormat, kwargs: [String],
                      sae: (id: String, path: String, l0: Double?, norm: Double?, neuronpedia: String?)) -> SAERegistryEntry {
        let p = sae.path
        let files: [String], optional: [String]
        switch format {
        case .saeLens: files = ["\(p)/cfg.json", "\(p)/sae_weights.safetensors"]; optional = ["\(p)/sparsity.safetensors"]
        case .gemmaScope: files = ["\(p)/params.npz"]; optional = []
        case .gemmaScope2: files = ["\(p)/params.safetensors"]; optional = ["\(p)/config.json"]
        case .llamaScope: files = ["\(p)/hyperparams.json", "\(p)/checkpoints/final.safetensors"]; optional = []
        }
        return SAERegistryEntry(release: release, saeID: sae.id, repoID: repoID, path: p, modelName: model, format: format,
                                files: files, optionalFiles: optional, hookName: hookName(format: format, repoID: repoID, path: p, id: sae.id),
                                modelFromPretrainedKwargs: kwargs, normScalingFactor: sae.norm, neuronpediaID: sae.neuronpedia, l0: sae.l0)
    }

    /// The hook the release's naming implies (SAELens converters' rules); nil when only cfg.json says.
    static func hookName(format: SAEFormat, repoID: String, path: String, id: String) -> String? {
        let layer = SparseAutoencoder.layerNumber(path)
        switch format {
        case .saeLens:
            return id.hasPrefix("blocks.") || id.hasPrefix("hook_") ? id : nil
        case .gemmaScope:
            if path.contains("embedding") { return repoID.contains("res") ? "hook_embed" : nil }
            guard let layer else { return nil }
            if repoID.contains("res") { return "blocks.\(layer).hook_resid_post" }
            if repoID.contains("mlp") { return "blocks.\(layer).hook_mlp_out" }
            if repoID.contains("att") { return "blocks.\(layer).attn.hook_z" }
            return nil
        case .gemmaScope2:
            guard let layer else { return nil }
            if path.contains("resid_post") { return "blocks.\(layer).hook_resid_post" }
            if path.contains("attn_out") { return "blocks.\(layer).attn.hook_z" }
            if path.contains("mlp_out") { return "blocks.\(layer).hook_mlp_out" }
            return nil
        case .llamaScope:
            // Folder Llama3_1-8B-Base-L{n}{R,A,M}-{8,32}x.
            guard let r = path.range(of: #"-L(\d+)([RAM])-"#, options: .regularExpression) else { return nil }
            let token = path[r].dropFirst(2).dropLast()
            guard let kind = token.last, let n = Int(token.dropLast()) else { return nil }
            switch kind {
            case "R": return "blocks.\(n).hook_resid_post"
            case "A": return "blocks.\(n).hook_attn_out"
            default: return "blocks.\(n).hook_mlp_out"
            }
        }
    }
}

extension SparseAutoencoder {
    /// Loads a registry entry whose `files` were downloaded under `root` with their repository paths
    /// (`root/<path>/cfg.json`, …), applying the release's settings as `SAE.from_pretrained` does:
    /// `model_from_pretrained_kwargs` and `neuronpedia_id` into `metadata`, and `norm_scaling_factor`
    /// folded for `expected_average_only_in` SAEs.
    public static func load(_ entry: SAERegistryEntry, from root: URL) throws -> SparseAutoencoder {
        let folder = root.appendingPathComponent(entry.path)
        var sae: SparseAutoencoder
        switch entry.format {
        case .saeLens: sae = try load(folder: folder, normScalingFactor: entry.normScalingFactor)
        case .gemmaScope: sae = try loadGemmaScope(npz: folder.appendingPathComponent("params.npz"), repoID: entry.repoID, folder: entry.path)
        case .gemmaScope2: sae = try loadGemmaScope2(folder: folder, repoID: entry.repoID, folder: entry.path)
        case .llamaScope: sae = try loadLlamaScope(folder: folder, normScalingFactor: entry.normScalingFactor)
        }
        if !entry.modelFromPretrainedKwargs.isEmpty {
            var kwargs = sae.config.metadata["model_from_pretrained_kwargs"] ?? .object([])
            if kwargs.objectPairs == nil { kwargs = .object([]) }
            for k in entry.modelFromPretrainedKwargs { kwargs.set(k, .bool(true)) }
            sae.config.metadata.set("model_from_pretrained_kwargs", kwargs)
        }
        if let n = entry.neuronpediaID { sae.config.metadata.set("neuronpedia_id", .string(n)) }
        return sae
    }
}
