import Foundation
import IsaerftCore
import IsaerftFiles

/// File names of an SAELens SAE folder (`sae_lens.constants`).
public enum SAEFiles {
    public static let config = "cfg.json"
    public static let weights = "sae_weights.safetensors"
    public static let sparsity = "sparsity.safetensors"
    /// Training checkpoints: `{"scaling_factor": s}` for `expected_average_only_in`.
    public static let activationScaler = "activation_scaler.json"
}

extension SparseAutoencoder {
    // MARK: - Loading an SAELens folder

    /// Loads an SAELens folder: `cfg.json` (v6 or the pre-6 flat layout), `sae_weights.safetensors`
    /// (strict: every tensor the architecture needs, with SAELens' shapes, and nothing else), and
    /// `sparsity.safetensors` when present. Mirrors `SAE.load_from_disk` plus the
    /// `norm_scaling_factor` folding of `from_pretrained`.
    ///
    /// - Parameter normScalingFactor: for `expected_average_only_in` SAEs, the factor to fold into the
    ///   weights (the registry's `norm_scaling_factor`). When nil, a folder's `activation_scaler.json`
    ///   is used; with neither, the SAE stays unfolded and, as in SAELens, the normalisation is the
    ///   identity at run time (`needsNormScalingFactor` is then true).
    public static func load(folder: URL, normScalingFactor: Double? = nil) throws -> SparseAutoencoder {
        let cfgURL = folder.appendingPathComponent(SAEFiles.config)
        let config = try SAEConfig.parse(try readFile(cfgURL), file: cfgURL.path)
        let weightsURL = folder.appendingPathComponent(SAEFiles.weights)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw SAEError.missingFile(weightsURL.path, reason: "no such file")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let weights = try readWeights(names: file.names, config: config, source: weightsURL.path) { try file.tensor($0) }
        var sparsity: Tensor? = nil
        let sparsityURL = folder.appendingPathComponent(SAEFiles.sparsity)
        if FileManager.default.fileExists(atPath: sparsityURL.path) {
            let s = try SafeTensorsFile(url: sparsityURL)
            guard s.info("sparsity") != nil else { throw SAEError.missingTensors(file: sparsityURL.path, ["sparsity"]) }
            sparsity = try s.tensor("sparsity")
            if sparsity!.shape != [config.dSAE] {
                throw SAEError.shapeMismatch(file: sparsityURL.path, tensor: "sparsity", expected: [config.dSAE], found: sparsity!.shape)
            }
        }
        let sae = try SparseAutoencoder(config: config, weights: weights, logSparsity: sparsity, source: weightsURL.path)
        return try sae.foldingStoredScale(explicit: normScalingFactor, folder: folder)
    }

    /// Folds `expected_average_only_in` scaling when a factor is known (argument, else `activation_scaler.json`).
    func foldingStoredScale(explicit: Double?, folder: URL?) throws -> SparseAutoencoder {
        guard config.normalizeActivations == .expectedAverageOnlyIn else { return self }
        if let s = explicit { return try foldingNormScalingFactor(s) }
        if let folder {
            let url = folder.appendingPathComponent(SAEFiles.activationScaler)
            if FileManager.default.fileExists(atPath: url.path) {
                let json: JSONValue
                do { json = try JSONValue.parse(try Self.readFile(url)) } catch let e as SAEError { throw e } catch {
                    throw SAEError.badConfig(file: url.path, field: "(json)", reason: "is not valid JSON: \(error)")
                }
                guard let v = json["scaling_factor"] else { throw SAEError.badConfig(file: url.path, field: "scaling_factor", reason: "is missing") }
                if v.isNull { return self }
                guard let s = v.doubleValue, s > 0, s.isFinite else {
                    throw SAEError.badConfig(file: url.path, field: "scaling_factor", reason: "must be a positive number, found \(v)")
                }
                return try foldingNormScalingFactor(s)
            }
        }
        return self
    }

    /// True for an `expected_average_only_in` SAE whose scaling factor was never folded: its
    /// encoder expects `s·x` but, like SAELens, receives `x` (pass the factor to `load`).
    public var needsNormScalingFactor: Bool { config.normalizeActivations == .expectedAverageOnlyIn }

    /// Reads the architecture's tensors from a state dict, strictly (SAELens `load_state_dict`).
    /// Handles SAELens' legacy conversions: a `scaling_factor` of all ones is dropped (any other
    /// value was a v5 finetuning scale, which SAELens 6 rejects too), `log_threshold` becomes
    /// `threshold = exp(log_threshold)` (old JumpReLU checkpoints).
    static func readWeights(names: [String], config: SAEConfig, source: String,
                            tensor: (String) throws -> Tensor) throws -> SAEWeights {
        var available = Set(names)
        var renamed: [String: String] = [:]
        if available.contains("scaling_factor") {
            let s = try tensor("scaling_factor")
            guard s.scalars.allSatisfy({ abs($0 - 1) <= 1e-5 }) else {
                throw SAEError.unsupported(file: source, reason: "tensor scaling_factor is not all ones (a SAELens 5 finetuning scale, which SAELens 6 does not load)")
            }
            available.remove("scaling_factor")
        }
        if config.architecture == .jumprelu, available.contains("log_threshold"), !available.contains("threshold") {
            available.remove("log_threshold"); available.insert("threshold"); renamed["threshold"] = "log_threshold"
        }
        let wanted = config.architecture.tensorNames
        let missing = wanted.filter { !available.contains($0) }
        if !missing.isEmpty { throw SAEError.missingTensors(file: source, missing) }
        let unexpected = available.subtracting(wanted).sorted()
        if !unexpected.isEmpty { throw SAEError.unexpectedTensors(file: source, unexpected) }
        var w = SAEWeights.empty
        for (name, path) in SAEWeights.checkpointKeys where wanted.contains(name) {
            var t = try tensor(renamed[name] ?? name)
            if renamed[name] != nil { t.scalars = t.scalars.map { Foundation.exp($0) } }
            let want = SAEWeights.expectedShape(name, dIn: config.dIn, dSAE: config.dSAE)
            guard t.shape == want else { throw SAEError.shapeMismatch(file: source, tensor: name, expected: want, found: t.shape) }
            w[keyPath: path] = t
        }
        return w
    }

    static func readFile(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else { throw SAEError.missingFile(url.path, reason: "no such file") }
        do { return try Data(contentsOf: url) } catch {
            throw SAEError.missingFile(url.path, reason: (error as NSError).localizedDescription)
        }
    }

    // MARK: - Saving in the SAELens v6 layout

    /// Writes `cfg.json` (`SAEConfig.jsonValue`, SAELens 6 `to_dict()` layout) and
    /// `sae_weights.safetensors` (fp32, SAELens' tensor names), plus `sparsity.safetensors` when
    /// `logSparsity` is set: the folder `SAE.save_model` writes. Each file is replaced atomically.
    public func save(folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafeTensors.write(weights.named(config.architecture), to: folder.appendingPathComponent(SAEFiles.weights))
        if let s = logSparsity {
            try SafeTensors.write([("sparsity", s)], to: folder.appendingPathComponent(SAEFiles.sparsity))
        }
        try AtomicFile.write(Data(config.jsonValue.description.utf8), to: folder.appendingPathComponent(SAEFiles.config))
    }
}
