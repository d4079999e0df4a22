/// The SAE architectures this library runs at inference (SAELens 6.54.12 `register_sae_class` names).
/// BatchTopK and Matryoshka-BatchTopK SAEs are saved by SAELens as `jumprelu` (one shared threshold).
public enum SAEArchitecture: String, Sendable, CaseIterable {
    case standard, gated, topk, abstopk, jumprelu

    /// Tensor names of the SAELens state dict, in the order SAELens registers them.
    public var tensorNames: [String] {
        switch self {
        case .standard, .topk, .abstopk: ["b_dec", "W_dec", "W_enc", "b_enc"]
        case .jumprelu: ["b_dec", "W_dec", "W_enc", "threshold", "b_enc"]
        case .gated: ["b_dec", "W_dec", "W_enc", "b_gate", "r_mag", "b_mag"]
        }
    }
}

/// `normalize_activations` (SAELens `SAEConfig.__post_init__` accepts exactly these).
public enum SAENormalization: String, Sendable, CaseIterable {
    case none
    /// Training-time `x·s` with `s = √d_in / E‖x‖`; identity at run time in SAELens until `s` is folded
    /// into the weights (`fold_activation_norm_scaling_factor`), see `SparseAutoencoder.foldingNormScalingFactor`.
    case expectedAverageOnlyIn = "expected_average_only_in"
    /// Per token `c = √d_in / ‖x‖`, `x ← c·x`; the output is divided by `c`.
    case constantNormRescale = "constant_norm_rescale"
    /// Per token `(x − μ) / (σ + 1e-5)` with the unbiased σ; the output is `y·σ + μ`.
    case layerNorm = "layer_norm"
    /// Training-time whitening; identity at run time in SAELens (folded at the end of training).
    case covarianceWhitening = "covariance_whitening"
}

/// `reshape_activations`: `hook_z` SAEs read `[…, n_heads, d_head]` flattened to `[…, n_heads·d_head]`.
public enum SAEReshape: String, Sendable {
    case none
    case hookZ = "hook_z"
}

/// Which `cfg.json` layout a config was read from.
public enum SAEConfigLayout: String, Sendable {
    /// SAELens ≥ 6: `SAEConfig.to_dict()` with a nested `metadata` object.
    case v6
    /// SAELens < 6 (or no version): a flat dict, converted by `handle_pre_6_0_config`.
    case legacy
    /// Synthesised by a converter (Gemma Scope, Gemma Scope 2, Llama Scope).
    case converted
}

/// An SAE's configuration in SAELens' v6 inference form (`SAEConfig.to_dict()`).
///
/// `metadata` keeps every key of the file (SAELens' `SAEMetadata` is free-form; a missing key reads
/// as null); the typed accessors below cover the keys this library uses.
public struct SAEConfig: Sendable, Equatable {
    public var architecture: SAEArchitecture
    public var dIn: Int
    public var dSAE: Int
    /// The dtype string of the file (`"float32"`, `"torch.bfloat16"`, …). Weights are always held in fp32.
    public var dtype: String
    public var device: String
    /// Subtract `b_dec` from the (normalised) input before encoding.
    public var applyBDecToInput: Bool
    public var normalizeActivations: SAENormalization
    public var reshapeActivations: SAEReshape
    /// `k` of topk / abstopk SAEs (SAELens default 100); nil for other architectures.
    public var k: Int?
    /// topk / abstopk: rank `h ⊙ ‖W_dec[i]‖` and decode `(f ⊘ ‖W_dec[i]‖)·W_dec` (false for others).
    public var rescaleActsByDecoderNorm: Bool
    /// The `metadata` object, keys in file order.
    public var metadata: JSONValue
    /// Where the config came from.
    public var layout: SAEConfigLayout

    public init(architecture: SAEArchitecture, dIn: Int, dSAE: Int, dtype: String = "float32", device: String = "cpu",
                applyBDecToInput: Bool = true, normalizeActivations: SAENormalization = .none,
                reshapeActivations: SAEReshape = .none, k: Int? = nil, rescaleActsByDecoderNorm: Bool = false,
                metadata: JSONValue = .object([]), layout: SAEConfigLayout = .v6) {
        self.architecture = architecture; self.dIn = dIn; self.dSAE = dSAE; self.dtype = dtype; self.device = device
        self.applyBDecToInput = applyBDecToInput; self.normalizeActivations = normalizeActivations
        self.reshapeActivations = reshapeActivations
        self.k = k ?? ((architecture == .topk || architecture == .abstopk) ? 100 : nil)
        self.rescaleActsByDecoderNorm = rescaleActsByDecoderNorm
        self.metadata = metadata; self.layout = layout
    }

    // MARK: Metadata accessors (SAELens `LLM_METADATA_KEYS`)

    public var modelName: String? { metadata["model_name"]?.stringValue }
    public var hookName: String? { metadata["hook_name"]?.stringValue }
    public var hookHeadIndex: Int? { metadata["hook_head_index"]?.intValue }
    public var contextSize: Int? { metadata["context_size"]?.intValue }
    public var prependBOS: Bool? { metadata["prepend_bos"]?.boolValue }
    public var datasetPath: String? { metadata["dataset_path"]?.stringValue }
    public var neuronpediaID: String? { metadata["neuronpedia_id"]?.stringValue }
    public var saeLensVersion: String? { metadata["sae_lens_version"]?.stringValue }
    /// Keyword arguments SAELens passes to `HookedTransformer.from_pretrained_no_processing` (empty when absent).
    public var modelFromPretrainedKwargs: [(String, JSONValue)] { metadata["model_from_pretrained_kwargs"]?.objectPairs ?? [] }

    /// True when the SAE was trained on TransformerLens residuals of a model loaded with
    /// `center_writing_weights=True` (e.g. `gpt2-small-res-jb`, whose cfg carries
    /// `model_from_pretrained_kwargs = {"center_writing_weights": true}`): its inputs are mean-centred
    /// over d_model, so load the model with `GPT2Model.centeringWritingWeights()` before splicing.
    /// SAELens advises `from_pretrained_no_processing(**model_from_pretrained_kwargs)`, so an SAE
    /// without the key expects no processing.
    public var expectsCenteredWritingWeights: Bool {
        modelFromPretrainedKwargs.last { $0.0 == "center_writing_weights" }?.1.boolValue ?? false
    }
}
