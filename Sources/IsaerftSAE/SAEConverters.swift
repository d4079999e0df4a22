import Foundation
import IsaerftCore
import IsaerftFiles

/// Loaders for SAEs published outside SAELens' folder format, matching SAELens' converters
/// (`sae_lens/loading/pretrained_sae_loaders.py`, 6.54.12): the config is synthesised from the
/// repository id and the folder path, the tensors renamed to SAELens' names.
extension SparseAutoencoder {
    // MARK: - Gemma Scope (Gemma 2): params.npz  (converter `gemma_2`)

    /// Gemma Scope `params.npz` (`W_enc [d_model, d_sae]`, `W_dec`, `b_enc`, `b_dec`, `threshold`; a
    /// `w_` prefix is renamed `W_`) as a JumpReLU SAE with `apply_b_dec_to_input = false`.
    /// Matches `get_gemma_2_config_from_hf` + `gemma_2_sae_huggingface_loader`: hook
    /// `blocks.L.hook_resid_post` (`…-res`; `hook_embed` for `embedding/…` folders, whose `W_enc` is
    /// divided and `W_dec` multiplied by √d_in), `blocks.L.hook_mlp_out` (`…-mlp`),
    /// `blocks.L.attn.hook_z` (`…-att`, flattened heads). `d_in` and `d_sae` come from the arrays (SAELens
    /// takes them from a per-model table and the `width_…` folder name, then loads strictly).
    /// - Parameters:
    ///   - npz: the `params.npz` file.
    ///   - repoID: e.g. `google/gemma-scope-2b-pt-res` (model and hook kind are read from it).
    ///   - folder: the folder in the repository, e.g. `layer_20/width_16k/average_l0_71`.
    public static func loadGemmaScope(npz: URL, repoID: String, folder: String) throws -> SparseAutoencoder {
        let archive = try NumPyArchive(url: npz)
        let source = npz.path
        var names: [String: String] = [:]   // SAELens name → member
        for m in archive.names { names[m.hasPrefix("w_") ? "W_" + m.dropFirst(2) : m] = m }
        guard let wEncName = names["W_enc"] else { throw SAEError.missingTensors(file: source, ["W_enc"]) }
        let wEnc = try archive.tensor(wEncName)
        guard wEnc.rank == 2 else { throw SAEError.shapeMismatch(file: source, tensor: "W_enc", expected: [-1, -1], found: wEnc.shape) }
        let dIn = wEnc.shape[0], dSAE = wEnc.shape[1]
        let embedding = folder.contains("embedding")
        let layer = Self.layerNumber(folder) ?? (embedding ? 0 : nil)
        guard let layer else { throw SAEError.unsupported(file: source, reason: "no layer_N in folder '\(folder)'") }
        let hook: String, reshape: SAEReshape
        if repoID.contains("res") { hook = embedding ? "hook_embed" : "blocks.\(layer).hook_resid_post"; reshape = .none }
        else if repoID.contains("mlp") { hook = "blocks.\(layer).hook_mlp_out"; reshape = .none }
        else if repoID.contains("att") { hook = "blocks.\(layer).attn.hook_z"; reshape = .hookZ }
        else { throw SAEError.unsupported(file: source, reason: "cannot tell the hook from repository '\(repoID)' (res, mlp or att)") }
        let modelName = gemma2Models.first { repoID.contains($0.0) }.map { JSONValue.string($0.1) } ?? .null
        let metadata = JSONValue.object([
            ("model_name", modelName), ("hook_name", .string(hook)), ("hook_head_index", .null),
            ("prepend_bos", .bool(true)), ("dataset_path", .string("monology/pile-uncopyrighted")),
            ("context_size", .int(1024)), ("sae_lens_training_version", .null), ("neuronpedia_id", .null),
        ])
        let config = SAEConfig(architecture: .jumprelu, dIn: dIn, dSAE: dSAE, applyBDecToInput: false,
                               reshapeActivations: reshape, metadata: metadata, layout: .converted)
        var weights = try readWeights(names: Array(names.keys), config: config, source: source) { try archive.tensor(names[$0]!) }
        if embedding {
            let root = Float(Double(dIn).squareRoot())
            weights.wEnc.scalars = weights.wEnc.scalars.map { $0 / root }
            weights.wDec.scalars = weights.wDec.scalars.map { $0 * root }
        }
        return try SparseAutoencoder(config: config, weights: weights, source: source)
    }

    /// SAELens' `model_params` table, searched in this order (`2b-it` before `2b`).
    static let gemma2Models: [(String, String)] = [
        ("2b-it", "gemma-2-2b-it"), ("9b-it", "gemma-2-9b-it"), ("27b-it", "gemma-2-27b-it"),
        ("2b", "gemma-2-2b"), ("9b", "gemma-2-9b"), ("27b", "gemma-2-27b"),
    ]

    static func layerNumber(_ folder: String) -> Int? {
        guard let r = folder.range(of: #"layer_(\d+)"#, options: .regularExpression) else { return nil }
        return Int(folder[r].dropFirst("layer_".count))
    }

    // MARK: - Gemma Scope 2 (Gemma 3): params.safetensors  (converter `gemma_3`)

    /// Gemma Scope 2 `params.safetensors` (`w_enc [d_in, d_sae]`, `w_dec`, `b_enc`, `b_dec`,
    /// `threshold`) as a JumpReLU SAE (`apply_b_dec_to_input = false`), matching
    /// `get_gemma_3_config_from_hf` + `gemma_3_sae_huggingface_loader`: folders under `resid_post…`
    /// → `blocks.L.hook_resid_post`, `attn_out…` → `blocks.L.attn.hook_z` (flattened heads),
    /// `mlp_out…` → `blocks.L.hook_mlp_out`. Transcoders and CLTs are not supported.
    /// `model_name` comes from the folder's `config.json` when present, else from the repository
    /// (`google/gemma-scope-2-270m-pt` → `google/gemma-3-270m`).
    public static func loadGemmaScope2(folder url: URL, repoID: String, folder path: String) throws -> SparseAutoencoder {
        let paramsURL = url.appendingPathComponent("params.safetensors")
        guard FileManager.default.fileExists(atPath: paramsURL.path) else { throw SAEError.missingFile(paramsURL.path, reason: "no such file") }
        let source = paramsURL.path
        if path.contains("transcoder") || path.contains("clt") {
            throw SAEError.unsupported(file: source, reason: "Gemma Scope 2 transcoders are not supported (only SAEs on resid_post, attn_out, mlp_out)")
        }
        guard let layer = layerNumber(path) else { throw SAEError.unsupported(file: source, reason: "no layer_N in folder '\(path)'") }
        let hook: String, reshape: SAEReshape
        if path.contains("resid_post") { hook = "blocks.\(layer).hook_resid_post"; reshape = .none }
        else if path.contains("attn_out") { hook = "blocks.\(layer).attn.hook_z"; reshape = .hookZ }
        else if path.contains("mlp_out") { hook = "blocks.\(layer).hook_mlp_out"; reshape = .none }
        else { throw SAEError.unsupported(file: source, reason: "cannot tell the hook from folder '\(path)'") }
        var model = repoID.replacingOccurrences(of: "gemma-scope-2", with: "gemma-3")
        var hfHook: JSONValue = .null
        let cfgURL = url.appendingPathComponent("config.json")
        if FileManager.default.fileExists(atPath: cfgURL.path) {
            let raw: JSONValue
            do { raw = try JSONValue.parse(try readFile(cfgURL)) } catch let e as SAEError { throw e } catch {
                throw SAEError.badConfig(file: cfgURL.path, field: "(json)", reason: "is not valid JSON: \(error)")
            }
            if let a = raw["architecture"]?.stringValue, a != "jump_relu" {
                throw SAEError.badConfig(file: cfgURL.path, field: "architecture", reason: "is '\(a)', expected jump_relu")
            }
            if let m = raw["model_name"]?.stringValue { model = m }
            hfHook = raw["hf_hook_point_in"] ?? .null
        }
        if !model.contains("google") { model = "google/" + model }
        model = model.replacingOccurrences(of: "-v3", with: "-3")
        if model.contains("270m") { model = model.replacingOccurrences(of: "-pt", with: "") }
        let file = try SafeTensorsFile(url: paramsURL)
        guard let info = file.info("w_enc") else { throw SAEError.missingTensors(file: source, ["w_enc"]) }
        guard info.shape.count == 2 else { throw SAEError.shapeMismatch(file: source, tensor: "w_enc", expected: [-1, -1], found: info.shape) }
        let metadata = JSONValue.object([
            ("model_name", .string(model)), ("hook_name", .string(hook)), ("hook_head_index", .null),
            ("prepend_bos", .bool(true)), ("dataset_path", .string("monology/pile-uncopyrighted")),
            ("context_size", .int(1024)), ("sae_lens_training_version", .null), ("hf_hook_name", hfHook),
            ("neuronpedia_id", .null),
        ])
        let config = SAEConfig(architecture: .jumprelu, dIn: info.shape[0], dSAE: info.shape[1], applyBDecToInput: false,
                               reshapeActivations: reshape, metadata: metadata, layout: .converted)
        let names = file.names.filter { $0 != "affine_skip_connection" }.map { $0.hasPrefix("w_") ? "W_" + $0.dropFirst(2) : $0 }
        let weights = try readWeights(names: names, config: config, source: source) { n in
            try file.tensor(n.hasPrefix("W_") ? "w_" + n.dropFirst(2) : n)
        }
        return try SparseAutoencoder(config: config, weights: weights, source: source)
    }

    // MARK: - Llama Scope: hyperparams.json + checkpoints/final.safetensors  (converter `llama_scope`)

    /// A Llama Scope folder as SAELens' `llama_scope` converter reads it: `encoder.weight [d_sae, d_in]`
    /// and `decoder.weight [d_in, d_sae]` transposed to `W_enc`, `W_dec`; a shared threshold
    /// `jump_relu_threshold · √d_in / dataset_average_activation_norm.in`; `apply_b_dec_to_input =
    /// false`; `expected_average_only_in`, folded with `normScalingFactor` (the registry's
    /// `norm_scaling_factor`) when given, as `SAE.from_pretrained` does.
    public static func loadLlamaScope(folder: URL, normScalingFactor: Double?) throws -> SparseAutoencoder {
        let hpURL = folder.appendingPathComponent("hyperparams.json")
        let hp: JSONValue
        do { hp = try JSONValue.parse(try readFile(hpURL)) } catch let e as SAEError { throw e } catch {
            throw SAEError.badConfig(file: hpURL.path, field: "(json)", reason: "is not valid JSON: \(error)")
        }
        func need(_ v: JSONValue?, _ field: String) throws -> Double {
            guard let d = v?.doubleValue, d.isFinite else { throw SAEError.badConfig(file: hpURL.path, field: field, reason: "is missing or not a number") }
            return d
        }
        let dIn = Int(try need(hp["d_model"], "d_model")), dSAE = Int(try need(hp["d_sae"], "d_sae"))
        let avgNorm = try need(hp["dataset_average_activation_norm"]?["in"], "dataset_average_activation_norm.in")
        let theta = try need(hp["jump_relu_threshold"], "jump_relu_threshold") * (Double(dIn).squareRoot() / avgNorm)
        guard let hook = hp["hook_point_in"]?.stringValue else { throw SAEError.badConfig(file: hpURL.path, field: "hook_point_in", reason: "is missing") }
        let metadata = JSONValue.object([
            ("model_name", .string("meta-llama/Llama-3.1-8B")), ("hook_name", .string(hook)), ("hook_head_index", .null),
            ("prepend_bos", .bool(true)), ("dataset_path", .string("cerebras/SlimPajama-627B")),
            ("context_size", .int(1024)), ("sae_lens_training_version", .null), ("neuronpedia_id", .null),
        ])
        let config = SAEConfig(architecture: .jumprelu, dIn: dIn, dSAE: dSAE, applyBDecToInput: false,
                               normalizeActivations: .expectedAverageOnlyIn, metadata: metadata, layout: .converted)
        let wURL = folder.appendingPathComponent("checkpoints/final.safetensors")
        guard FileManager.default.fileExists(atPath: wURL.path) else { throw SAEError.missingFile(wURL.path, reason: "no such file") }
        let file = try SafeTensorsFile(url: wURL)
        let keys = ["encoder.weight", "decoder.weight", "encoder.bias", "decoder.bias"]
        let missing = keys.filter { file.info($0) == nil }
        if !missing.isEmpty { throw SAEError.missingTensors(file: wURL.path, missing) }
        let weights = SAEWeights(
            wEnc: transposed(try file.tensor("encoder.weight")), bEnc: try file.tensor("encoder.bias"),
            wDec: transposed(try file.tensor("decoder.weight")), bDec: try file.tensor("decoder.bias"),
            threshold: Tensor(shape: [dSAE], repeating: Float(theta)))
        let sae = try SparseAutoencoder(config: config, weights: weights, source: wURL.path)
        return try sae.foldingStoredScale(explicit: normScalingFactor, folder: nil)
    }

    static func transposed(_ t: Tensor) -> Tensor {
        let (r, c) = t.matrixShape
        var out = Tensor(shape: [c, r])
        for i in 0..<r { for j in 0..<c { out.scalars[j * r + i] = t.scalars[i * c + j] } }
        return out
    }
}
