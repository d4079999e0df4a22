import Foundation

// ComponentKind, ScaleProcessor and ComponentPositions are the components' own types (Components/ComponentSpec.swift).

/// The SAE a component acts on: a latent index means nothing without it.
public struct AdapterSAE: Sendable, Equatable, Codable {
    public var release: String?
    public var saeID: String?
    /// Local folder (cfg.json + sae_weights.safetensors) it was loaded from, when it was one.
    public var path: String?
    /// SHA-256 (hex) of `sae_weights.safetensors`.
    public var sha256: String?
    public var neuronpediaID: String?
    public var dIn: Int
    public var dSAE: Int

    public init(release: String? = nil, saeID: String? = nil, path: String? = nil, sha256: String? = nil,
                neuronpediaID: String? = nil, dIn: Int, dSAE: Int) {
        self.release = release; self.saeID = saeID; self.path = path; self.sha256 = sha256
        self.neuronpediaID = neuronpediaID; self.dIn = dIn; self.dSAE = dSAE
    }

    enum CodingKeys: String, CodingKey {
        case release, saeID = "sae_id", path, sha256, neuronpediaID = "neuronpedia_id", dIn = "d_in", dSAE = "d_sae"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(release, forKey: .release); try c.encode(saeID, forKey: .saeID); try c.encode(path, forKey: .path)
        try c.encode(sha256, forKey: .sha256); try c.encode(neuronpediaID, forKey: .neuronpediaID)
        try c.encode(dIn, forKey: .dIn); try c.encode(dSAE, forKey: .dSAE)
    }
}

/// One trained component (`training-objectives.md` §7 `components[]`).
public struct AdapterComponent: Sendable, Equatable, Codable {
    /// TransformerLens hook name, e.g. `blocks.20.hook_resid_post`.
    public var hookName: String
    public var kind: ComponentKind
    /// mlp: number of hidden layers k (0 = one linear layer `W f + c`); nil otherwise.
    public var depth: Int?
    /// mlp with depth ≥ 1: hidden width h; nil otherwise.
    public var hiddenSize: Int?
    public var scaleProcessor: ScaleProcessor
    public var positions: ComponentPositions
    /// bias: added only where the latent is active.
    public var activeOnly: Bool
    public var sae: AdapterSAE

    public init(hookName: String, kind: ComponentKind, depth: Int? = nil, hiddenSize: Int? = nil,
                scaleProcessor: ScaleProcessor = .identity, positions: ComponentPositions = .all, activeOnly: Bool = false,
                sae: AdapterSAE) {
        self.hookName = hookName; self.kind = kind; self.depth = depth; self.hiddenSize = hiddenSize
        self.scaleProcessor = scaleProcessor; self.positions = positions; self.activeOnly = activeOnly; self.sae = sae
    }

    enum CodingKeys: String, CodingKey {
        case hookName = "hook_name", kind, depth, hiddenSize = "hidden_size", scaleProcessor = "scale_processor", positions
        case activeOnly = "active_only", sae
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hookName = try c.decode(String.self, forKey: .hookName)
        kind = try c.decode(ComponentKind.self, forKey: .kind)
        depth = try c.decodeIfPresent(Int.self, forKey: .depth)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize)
        scaleProcessor = try c.decodeIfPresent(ScaleProcessor.self, forKey: .scaleProcessor) ?? .identity
        positions = try c.decodeIfPresent(ComponentPositions.self, forKey: .positions) ?? .all
        activeOnly = try c.decodeIfPresent(Bool.self, forKey: .activeOnly) ?? false
        sae = try c.decode(AdapterSAE.self, forKey: .sae)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hookName, forKey: .hookName); try c.encode(kind, forKey: .kind)
        try c.encode(depth, forKey: .depth); try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(scaleProcessor, forKey: .scaleProcessor); try c.encode(positions, forKey: .positions)
        try c.encode(activeOnly, forKey: .activeOnly)
        try c.encode(sae, forKey: .sae)
    }

    /// The tensors this component stores, with their shapes (`d = d_sae`, `h = hidden_size`):
    /// scale `"<hook>.scale"` `[d]`; bias `"<hook>.bias"` `[d]`; mlp layer i of depth k:
    /// `"<hook>.mlp.<i>.weight"` `[out_i, in_i]` (nn.Linear layout) and `.bias` `[out_i]`, with
    /// `in_0 = d`, `out_k = d`, every other size h (depth 0: one `[d, d]` layer).
    public func tensorShapes() throws -> [(String, [Int])] {
        let d = sae.dSAE
        switch kind {
        case .scale: return [("\(hookName).scale", [d])]
        case .bias: return [("\(hookName).bias", [d])]
        case .mlp:
            guard let k = depth, k >= 0 else { throw AdapterError.invalidConfig("component \(hookName): mlp needs depth ≥ 0") }
            let h = hiddenSize ?? 0
            if k >= 1 && h < 1 { throw AdapterError.invalidConfig("component \(hookName): mlp of depth \(k) needs hidden_size ≥ 1") }
            return (0...k).flatMap { i -> [(String, [Int])] in
                let inSize = i == 0 ? d : h, outSize = i == k ? d : h
                return [("\(hookName).mlp.\(i).weight", [outSize, inSize]), ("\(hookName).mlp.\(i).bias", [outSize])]
            }
        }
    }
}

/// How the adapter was trained (names as TRL's config where one exists).
public struct AdapterTraining: Sendable, Equatable, Codable {
    /// `sigmoid`, `ipo`, `hinge`, `robust`, `orpo`, `simpo`, `sft`, …
    public var lossType: String
    public var beta: Double?
    public var lr: Double
    public var steps: Int
    public var seed: UInt64
    /// `adamw`, `adam`, `sgd`.
    public var optimizer: String
    public var weightDecay: Double?
    public var batchSize: Int?
    public var gradientAccumulationSteps: Int?
    /// `linear`, `cosine`, `constant`, `constant_with_warmup`.
    public var lrScheduler: String?
    public var warmupSteps: Int?
    public var maxGradNorm: Double?
    public var labelSmoothing: Double?
    /// Whatever else the trainer wants recorded (free-form strings).
    public var extra: [String: String]?

    public init(lossType: String, beta: Double? = nil, lr: Double, steps: Int, seed: UInt64, optimizer: String = "adamw",
                weightDecay: Double? = nil, batchSize: Int? = nil, gradientAccumulationSteps: Int? = nil, lrScheduler: String? = nil,
                warmupSteps: Int? = nil, maxGradNorm: Double? = nil, labelSmoothing: Double? = nil, extra: [String: String]? = nil) {
        self.lossType = lossType; self.beta = beta; self.lr = lr; self.steps = steps; self.seed = seed; self.optimizer = optimizer
        self.weightDecay = weightDecay; self.batchSize = batchSize; self.gradientAccumulationSteps = gradientAccumulationSteps
        self.lrScheduler = lrScheduler; self.warmupSteps = warmupSteps; self.maxGradNorm = maxGradNorm
        self.labelSmoothing = labelSmoothing; self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case lossType = "loss_type", beta, lr, steps, seed, optimizer, weightDecay = "weight_decay", batchSize = "batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps", lrScheduler = "lr_scheduler_type"
        case warmupSteps = "warmup_steps", maxGradNorm = "max_grad_norm", labelSmoothing = "label_smoothing", extra
    }
}

/// The data an adapter was trained on.
public struct AdapterData: Sendable, Equatable, Codable {
    public var train: String?
    public var eval: String?
    public var format: PreferenceFormat?
    public var trainExamples: Int?
    public var evalExamples: Int?
    public var evalFraction: Double?
    public var splitSeed: UInt64?
    public var tokenization: TokenizationSettings?

    public init(train: String? = nil, eval: String? = nil, format: PreferenceFormat? = nil, trainExamples: Int? = nil,
                evalExamples: Int? = nil, evalFraction: Double? = nil, splitSeed: UInt64? = nil, tokenization: TokenizationSettings? = nil) {
        self.train = train; self.eval = eval; self.format = format; self.trainExamples = trainExamples
        self.evalExamples = evalExamples; self.evalFraction = evalFraction; self.splitSeed = splitSeed; self.tokenization = tokenization
    }

    enum CodingKeys: String, CodingKey {
        case train, eval, format, trainExamples = "train_examples", evalExamples = "eval_examples"
        case evalFraction = "eval_fraction", splitSeed = "split_seed", tokenization
    }
}

/// `adapter_config.json` of an ISaeRFT adapter folder (`training-objectives.md` §7, PEFT-shaped; PEFT
/// itself cannot load an unregistered `peft_type`, so this is for our loader and for people).
public struct AdapterConfig: Sendable, Equatable, Codable {
    public static let peftTypeName = "ISAERFT"

    public var peftType: String = AdapterConfig.peftTypeName
    public var taskType: String = "CAUSAL_LM"
    public var baseModelNameOrPath: String
    public var revision: String?
    public var inferenceMode = true
    public var components: [AdapterComponent]
    public var training: AdapterTraining?
    public var data: AdapterData?
    /// The isaerft version that wrote the folder.
    public var libraryVersion: String

    public init(baseModelNameOrPath: String, revision: String? = nil, components: [AdapterComponent],
                training: AdapterTraining? = nil, data: AdapterData? = nil, libraryVersion: String = AdapterConfig.currentLibraryVersion) {
        self.baseModelNameOrPath = baseModelNameOrPath; self.revision = revision; self.components = components
        self.training = training; self.data = data; self.libraryVersion = libraryVersion
    }

    public static let currentLibraryVersion = "isaerft 0.1.0"

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path", revision
        case inferenceMode = "inference_mode", components, training, data, libraryVersion = "library_version"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peftType = try c.decode(String.self, forKey: .peftType)
        taskType = try c.decodeIfPresent(String.self, forKey: .taskType) ?? "CAUSAL_LM"
        baseModelNameOrPath = try c.decode(String.self, forKey: .baseModelNameOrPath)
        revision = try c.decodeIfPresent(String.self, forKey: .revision)
        inferenceMode = try c.decodeIfPresent(Bool.self, forKey: .inferenceMode) ?? true
        components = try c.decode([AdapterComponent].self, forKey: .components)
        training = try c.decodeIfPresent(AdapterTraining.self, forKey: .training)
        data = try c.decodeIfPresent(AdapterData.self, forKey: .data)
        libraryVersion = try c.decodeIfPresent(String.self, forKey: .libraryVersion) ?? "unknown"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peftType, forKey: .peftType); try c.encode(taskType, forKey: .taskType)
        try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath); try c.encode(revision, forKey: .revision)
        try c.encode(inferenceMode, forKey: .inferenceMode); try c.encode(components, forKey: .components)
        try c.encodeIfPresent(training, forKey: .training); try c.encodeIfPresent(data, forKey: .data)
        try c.encode(libraryVersion, forKey: .libraryVersion)
    }

    /// Every tensor the components store, with shapes; throws for two components at one hook.
    public func tensorShapes() throws -> [(String, [Int])] {
        var hooks = Set<String>()
        for c in components where !hooks.insert(c.hookName).inserted {
            throw AdapterError.invalidConfig("two components at \(c.hookName) (one per hook)")
        }
        return try components.flatMap { try $0.tensorShapes() }
    }
}
