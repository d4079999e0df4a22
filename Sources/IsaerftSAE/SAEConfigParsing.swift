import Foundation

// MARK: - Reading cfg.json (v6 and the pre-6 flat layout)

extension SAEConfig {
    /// SAELens `LLM_METADATA_KEYS`: the flat-layout keys that move into `metadata`.
    static let metadataKeys: Set<String> = [
        "model_name", "hook_name", "model_class_name", "hook_head_index", "model_from_pretrained_kwargs",
        "prepend_bos", "exclude_special_tokens", "neuronpedia_id", "context_size", "seqpos_slice", "dataset_path",
        "sae_lens_version", "sae_lens_training_version", "hook_name_out", "hook_head_index_out", "hf_hook_name",
        "hf_hook_name_out",
    ]

    /// Parses a `cfg.json`. Like SAELens `handle_config_defaulting`: a file whose `sae_lens_version`
    /// (top level or in `metadata`) is absent or below 6 is converted from the flat layout
    /// (`handle_pre_6_0_config`); otherwise it is read as v6 `SAEConfig.to_dict()`.
    /// `file` names the source in errors.
    public static func parse(_ data: Data, file: String) throws -> SAEConfig {
        let json: JSONValue
        do { json = try JSONValue.parse(data) } catch {
            throw SAEError.badConfig(file: file, field: "(json)", reason: "is not valid JSON: \(error)")
        }
        guard json.objectPairs != nil else { throw SAEError.badConfig(file: file, field: "(json)", reason: "is not a JSON object") }
        let version = json["sae_lens_version"]?.stringValue ?? json["metadata"]?["sae_lens_version"]?.stringValue
        if let version, majorVersion(version).map({ $0 >= 6 }) ?? false {
            return try fromV6(json, file: file)
        }
        return try fromV6(convertingLegacy(json), file: file, layout: .legacy)
    }

    /// The leading integer of a version string ("6.54.12" → 6, "3.0.0-rc.1" → 3).
    static func majorVersion(_ v: String) -> Int? { Int(v.prefix { $0.isNumber }) }

    /// SAELens `handle_pre_6_0_config`: renames, defaults, topk from `activation_fn`, bool
    /// `normalize_activations`, and moves model/hook/dataset keys into `metadata` (file order).
    static func convertingLegacy(_ json: JSONValue) -> JSONValue {
        let renames = ["hook_point": "hook_name", "hook_point_head_index": "hook_head_index", "activation_fn_str": "activation_fn"]
        var cfg = JSONValue.object([])
        for (k, v) in json.objectPairs ?? [] { cfg.set(renames[k] ?? k, v) }
        func setDefault(_ k: String, _ v: JSONValue) { if cfg[k] == nil { cfg.set(k, v) } }
        setDefault("prepend_bos", .bool(true))
        setDefault("apply_b_dec_to_input", .bool(true))
        setDefault("finetuning_scaling_factor", .bool(false))
        setDefault("sae_lens_training_version", .null)
        setDefault("activation_fn", .string("relu"))
        setDefault("architecture", .string("standard"))
        setDefault("neuronpedia_id", .null)
        setDefault("reshape_activations", .string((cfg["hook_name"]?.stringValue ?? "").contains("hook_z") ? "hook_z" : "none"))
        if cfg["activation_fn"]?.stringValue == "topk", let k = cfg["activation_fn_kwargs"]?["k"], !k.isNull {
            cfg.set("architecture", .string("topk"))
            cfg.set("k", k)
        }
        if let b = cfg["normalize_activations"]?.boolValue {
            cfg.set("normalize_activations", .string(b ? "expected_average_only_in" : "none"))
        }
        if cfg["normalize_activations"]?.isNull ?? true { cfg.set("normalize_activations", .string("none")) }
        setDefault("device", .string("cpu"))
        // A nested `metadata` object in an unversioned file is kept (SAELens would drop it), then
        // the flat keys are added in file order.
        var metadata = cfg["metadata"]?.objectPairs != nil ? cfg["metadata"]! : .object([])
        for (k, v) in cfg.objectPairs ?? [] where metadataKeys.contains(k) { metadata.set(k, v) }
        var out = JSONValue.object((cfg.objectPairs ?? []).filter { !metadataKeys.contains($0.0) && $0.0 != "metadata" })
        out.set("metadata", metadata)
        return out
    }

    /// Reads the v6 layout strictly: required keys present with the right types, enums known.
    static func fromV6(_ json: JSONValue, file: String, layout: SAEConfigLayout = .v6) throws -> SAEConfig {
        func bad(_ field: String, _ why: String) -> SAEError { .badConfig(file: file, field: field, reason: why) }
        func positiveInt(_ key: String) throws -> Int {
            guard let v = json[key] else { throw bad(key, "is missing") }
            guard let i = v.intValue, i > 0 else { throw bad(key, "must be a positive integer, found \(v)") }
            return i
        }
        func string(_ key: String, default d: String) throws -> String {
            guard let v = json[key], !v.isNull else { return d }
            guard let s = v.stringValue else { throw bad(key, "must be a string, found \(v)") }
            return s
        }
        func bool(_ key: String, default d: Bool) throws -> Bool {
            guard let v = json[key], !v.isNull else { return d }
            guard let b = v.boolValue else { throw bad(key, "must be true or false, found \(v)") }
            return b
        }
        let dIn = try positiveInt("d_in"), dSAE = try positiveInt("d_sae")
        guard let archValue = json["architecture"] else { throw bad("architecture", "is missing") }
        guard let archName = archValue.stringValue else { throw bad("architecture", "must be a string, found \(archValue)") }
        guard let architecture = SAEArchitecture(rawValue: archName) else { throw SAEError.unknownArchitecture(file: file, archName) }
        let normName = try string("normalize_activations", default: "none")
        guard let norm = SAENormalization(rawValue: normName) else {
            throw bad("normalize_activations", "is '\(normName)', not one of \(SAENormalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let reshapeName = try string("reshape_activations", default: "none")
        guard let reshape = SAEReshape(rawValue: reshapeName) else { throw bad("reshape_activations", "is '\(reshapeName)', not none or hook_z") }
        var k: Int? = nil
        if architecture == .topk || architecture == .abstopk {
            k = 100   // TopKSAEConfig.k default
            if let v = json["k"], !v.isNull {
                guard let i = v.intValue, i > 0, i <= dSAE else { throw bad("k", "must be an integer in 1...d_sae (\(dSAE)), found \(v)") }
                k = i
            }
        }
        let rescale = (architecture == .topk || architecture == .abstopk) ? try bool("rescale_acts_by_decoder_norm", default: false) : false
        let metadata = json["metadata"] ?? .object([])
        guard metadata.objectPairs != nil else { throw bad("metadata", "must be an object, found \(metadata)") }
        if let h = metadata["hook_name"], !h.isNull, h.stringValue == nil { throw bad("metadata.hook_name", "must be a string, found \(h)") }
        if let h = metadata["hook_head_index"], !h.isNull, h.intValue == nil { throw bad("metadata.hook_head_index", "must be an integer or null, found \(h)") }
        return SAEConfig(architecture: architecture, dIn: dIn, dSAE: dSAE, dtype: try string("dtype", default: "float32"),
                         device: try string("device", default: "cpu"),
                         applyBDecToInput: try bool("apply_b_dec_to_input", default: true), normalizeActivations: norm,
                         reshapeActivations: reshape, k: k, rescaleActsByDecoderNorm: rescale, metadata: metadata, layout: layout)
    }
}

// MARK: - Writing cfg.json (v6)

extension SAEConfig {
    /// The SAELens version whose layout `jsonValue` writes.
    public static let writtenSAELensVersion = "6.54.12"

    /// `SAEConfig.to_dict()` of SAELens 6.54.12: `d_in, d_sae, dtype, device, apply_b_dec_to_input,
    /// normalize_activations, reshape_activations, metadata`, then `k, rescale_acts_by_decoder_norm`
    /// (topk / abstopk), then `architecture`. Weights are written as fp32, so `dtype` is `"float32"`.
    /// `metadata` starts with `sae_lens_version` and `sae_lens_training_version` (as `SAEMetadata`
    /// orders them); a missing or pre-6 `sae_lens_version` becomes 6.54.12 so SAELens reads the
    /// file as the v6 layout it is.
    public var jsonValue: JSONValue {
        var meta = JSONValue.object([])
        let version = saeLensVersion.flatMap { Self.majorVersion($0).map { $0 >= 6 } } == true ? saeLensVersion! : Self.writtenSAELensVersion
        meta.set("sae_lens_version", .string(version))
        meta.set("sae_lens_training_version", metadata["sae_lens_training_version"] ?? .string(Self.writtenSAELensVersion))
        for (k, v) in metadata.objectPairs ?? [] where k != "sae_lens_version" && k != "sae_lens_training_version" { meta.set(k, v) }
        var o: [(String, JSONValue)] = [
            ("d_in", .int(dIn)), ("d_sae", .int(dSAE)), ("dtype", .string("float32")), ("device", .string(device)),
            ("apply_b_dec_to_input", .bool(applyBDecToInput)), ("normalize_activations", .string(normalizeActivations.rawValue)),
            ("reshape_activations", .string(reshapeActivations.rawValue)), ("metadata", meta),
        ]
        if architecture == .topk || architecture == .abstopk {
            o += [("k", .int(k ?? 100)), ("rescale_acts_by_decoder_norm", .bool(rescaleActsByDecoderNorm))]
        }
        o.append(("architecture", .string(architecture.rawValue)))
        return .object(o)
    }
}
