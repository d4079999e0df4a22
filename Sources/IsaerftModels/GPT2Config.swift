import IsaerftCore

/// GPT-2 hyper-parameters from an HF `config.json` (`model_type: "gpt2"`).
/// Keys and defaults follow transformers' `GPT2Config`.
public struct GPT2Config: Decodable, Sendable, Equatable {
    public var vocabSize: Int
    public var contextLength: Int
    public var width: Int
    public var layerCount: Int
    public var headCount: Int
    public var mlpWidth: Int
    public var layerNormEps: Float
    public var activation: GELUKind
    public var tieWordEmbeddings: Bool
    public var bosTokenID: Int?
    public var eosTokenID: Int?
    /// `scale_attn_weights` (true: scores / √dh).
    public var scaleAttentionWeights: Bool

    public var headDim: Int { width / headCount }

    private enum Key: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", nPositions = "n_positions", nCtx = "n_ctx"
        case nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head", nInner = "n_inner"
        case eps = "layer_norm_epsilon", act = "activation_function", tie = "tie_word_embeddings"
        case bos = "bos_token_id", eos = "eos_token_id", scaleAttn = "scale_attn_weights"
        case scaleByInverseLayer = "scale_attn_by_inverse_layer_idx", reorder = "reorder_and_upcast_attn"
    }

    public init(vocabSize: Int, contextLength: Int, width: Int, layerCount: Int, headCount: Int,
                mlpWidth: Int? = nil, layerNormEps: Float = 1e-5, activation: GELUKind = .tanh,
                tieWordEmbeddings: Bool = true, bosTokenID: Int? = nil, eosTokenID: Int? = nil) throws {
        self.vocabSize = vocabSize; self.contextLength = contextLength; self.width = width
        self.layerCount = layerCount; self.headCount = headCount; self.mlpWidth = mlpWidth ?? 4 * width
        self.layerNormEps = layerNormEps; self.activation = activation; self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenID = bosTokenID; self.eosTokenID = eosTokenID; self.scaleAttentionWeights = true
        try validate()
    }

    public init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let t = try c.decodeIfPresent(String.self, forKey: .modelType), t != "gpt2" {
            throw ModelError.invalidConfig("model_type is '\(t)', expected 'gpt2'")
        }
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 50257
        contextLength = try c.decodeIfPresent(Int.self, forKey: .nPositions) ?? c.decodeIfPresent(Int.self, forKey: .nCtx) ?? 1024
        width = try c.decodeIfPresent(Int.self, forKey: .nEmbd) ?? 768
        layerCount = try c.decodeIfPresent(Int.self, forKey: .nLayer) ?? 12
        headCount = try c.decodeIfPresent(Int.self, forKey: .nHead) ?? 12
        mlpWidth = try c.decodeIfPresent(Int.self, forKey: .nInner) ?? 4 * width
        layerNormEps = Float(try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-5)
        let act = try c.decodeIfPresent(String.self, forKey: .act) ?? "gelu_new"
        switch act {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": activation = .tanh
        case "gelu": activation = .exact
        default: throw ModelError.invalidConfig("activation_function '\(act)' is not supported (gelu_new, gelu_pytorch_tanh, gelu)")
        }
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tie) ?? true
        bosTokenID = try c.decodeIfPresent(Int.self, forKey: .bos)
        eosTokenID = try c.decodeIfPresent(Int.self, forKey: .eos)
        scaleAttentionWeights = try c.decodeIfPresent(Bool.self, forKey: .scaleAttn) ?? true
        if try c.decodeIfPresent(Bool.self, forKey: .scaleByInverseLayer) == true {
            throw ModelError.invalidConfig("scale_attn_by_inverse_layer_idx is not supported")
        }
        try validate()
    }

    func validate() throws {
        for (name, v) in [("vocab_size", vocabSize), ("n_positions", contextLength), ("n_embd", width),
                          ("n_layer", layerCount), ("n_head", headCount), ("n_inner", mlpWidth)] where v <= 0 {
            throw ModelError.invalidConfig("\(name) must be positive, got \(v)")
        }
        guard width % headCount == 0 else {
            throw ModelError.invalidConfig("n_embd \(width) is not a multiple of n_head \(headCount)")
        }
    }
}
