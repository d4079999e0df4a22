import IsaerftCore
import IsaerftFiles

/// Weights of one Llama/Qwen/Gemma block, nn.Linear layout `[out, in]` (y = x·Wᵀ + b).
/// Norm scales are stored ready to multiply: Gemma's `1 + w` is applied at load time.
public struct DecoderBlockWeights: Sendable {
    public var inputNorm: Tensor              // [d]
    public var q: Tensor, k: Tensor, v: Tensor  // [H·dh, d], [Hkv·dh, d], [Hkv·dh, d]
    public var qBias: Tensor?, kBias: Tensor?, vBias: Tensor?
    public var qNorm: Tensor?, kNorm: Tensor?   // [dh] (Qwen3, Gemma 3)
    public var o: Tensor                      // [d, H·dh]
    public var postAttentionNorm: Tensor?     // [d] Gemma: on the attention output
    public var preMLPNorm: Tensor             // [d] Llama `post_attention_layernorm`, Gemma `pre_feedforward_layernorm`
    public var postMLPNorm: Tensor?           // [d] Gemma `post_feedforward_layernorm`
    public var gate: Tensor, up: Tensor       // [m, d]
    public var down: Tensor                   // [d, m]

    /// HF keys beside the fields they fill (optional fields only when the config uses them), and whether
    /// the tensor is a norm scale (Gemma: +1).
    static func keys(_ l: Int, _ c: DecoderConfig) -> [(String, [Int], WritableKeyPath<DecoderBlockWeights, Tensor?>?, WritableKeyPath<DecoderBlockWeights, Tensor>?, Bool)] {
        let p = "model.layers.\(l).", d = c.width, q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim, m = c.mlpWidth
        var out: [(String, [Int], WritableKeyPath<DecoderBlockWeights, Tensor?>?, WritableKeyPath<DecoderBlockWeights, Tensor>?, Bool)] = [
            (p + "input_layernorm.weight", [d], nil, \.inputNorm, true),
            (p + "self_attn.q_proj.weight", [q, d], nil, \.q, false),
            (p + "self_attn.k_proj.weight", [kv, d], nil, \.k, false),
            (p + "self_attn.v_proj.weight", [kv, d], nil, \.v, false),
            (p + "self_attn.o_proj.weight", [d, q], nil, \.o, false),
            (p + "mlp.gate_proj.weight", [m, d], nil, \.gate, false),
            (p + "mlp.up_proj.weight", [m, d], nil, \.up, false),
            (p + "mlp.down_proj.weight", [d, m], nil, \.down, false),
        ]
        if c.attentionBias {
            out += [(p + "self_attn.q_proj.bias", [q], \.qBias, nil, false), (p + "self_attn.k_proj.bias", [kv], \.kBias, nil, false),
                    (p + "self_attn.v_proj.bias", [kv], \.vBias, nil, false)]
        }
        if c.qkNorm {
            out += [(p + "self_attn.q_norm.weight", [c.headDim], \.qNorm, nil, true), (p + "self_attn.k_norm.weight", [c.headDim], \.kNorm, nil, true)]
        }
        if c.postNorms {
            out += [(p + "post_attention_layernorm.weight", [d], \.postAttentionNorm, nil, true),
                    (p + "pre_feedforward_layernorm.weight", [d], nil, \.preMLPNorm, true),
                    (p + "post_feedforward_layernorm.weight", [d], \.postMLPNorm, nil, true)]
        } else {
            out += [(p + "post_attention_layernorm.weight", [d], nil, \.preMLPNorm, true)]
        }
        return out
    }
}

/// All weights of a decoder model.
public struct DecoderWeights: Sendable {
    public var embedding: Tensor          // [V, d] (unscaled; Gemma multiplies activations by √d)
    public var blocks: [DecoderBlockWeights]
    public var finalNorm: Tensor          // [d]
    public var lmHead: Tensor?            // [V, d]; nil when tied to `embedding`

    /// Loads strictly from HF-named tensors; every missing, unexpected or mis-shaped key is reported.
    /// Skips `rotary_emb.inv_freq` buffers. Gemma norm scales become 1 + w here.
    public static func load(config c: DecoderConfig, from source: any TensorSource, sourceName: String) throws -> DecoderWeights {
        let available = Set(source.names)
        var used = Set<String>(), missing: [String] = []
        func take(_ k: String, _ shape: [Int], norm: Bool) throws -> Tensor? {
            used.insert(k)
            guard available.contains(k) else { missing.append(k); return nil }
            var t = try source.tensor(k)
            guard t.shape == shape else { throw ModelError.shapeMismatch(k, expected: shape, found: t.shape) }
            if norm && c.normPlusOne { for i in 0..<t.count { t.scalars[i] += 1 } }
            return t
        }
        let z = Tensor(shape: [0])
        let embedding = try take("model.embed_tokens.weight", [c.vocabSize, c.width], norm: false)
        let finalNorm = try take("model.norm.weight", [c.width], norm: true)
        var lmHead: Tensor? = nil
        if !c.tieWordEmbeddings { lmHead = try take("lm_head.weight", [c.vocabSize, c.width], norm: false) }
        var blocks: [DecoderBlockWeights] = []
        for l in 0..<c.layerCount {
            var b = DecoderBlockWeights(inputNorm: z, q: z, k: z, v: z, o: z, preMLPNorm: z, gate: z, up: z, down: z)
            for (key, shape, opt, req, norm) in DecoderBlockWeights.keys(l, c) {
                let t = try take(key, shape, norm: norm)
                if let opt { b[keyPath: opt] = t } else if let req, let t { b[keyPath: req] = t }
            }
            blocks.append(b)
        }
        if !missing.isEmpty { throw ModelError.missingTensors(missing, source: sourceName) }
        let unused = available.subtracting(used).filter {
            !$0.hasSuffix("rotary_emb.inv_freq") && !(c.tieWordEmbeddings && $0 == "lm_head.weight")
        }.sorted()
        if !unused.isEmpty { throw ModelError.unusedTensors(unused, source: sourceName) }
        return DecoderWeights(embedding: embedding!, blocks: blocks, finalNorm: finalNorm!, lmHead: lmHead)
    }

    /// Seeded random weights (norm scales around 1), for tests and benchmarks.
    public static func random(_ c: DecoderConfig, std: Float = 0.02, seed: UInt64) -> DecoderWeights {
        var s = seed
        func r(_ shape: [Int], mean: Float = 0) -> Tensor {
            s &+= 1
            var t = Tensor.randomNormal(shape, std: std, seed: s)
            if mean != 0 { for i in 0..<t.count { t.scalars[i] += mean } }
            return t
        }
        let z = Tensor(shape: [0])
        var blocks: [DecoderBlockWeights] = []
        for l in 0..<c.layerCount {
            var b = DecoderBlockWeights(inputNorm: z, q: z, k: z, v: z, o: z, preMLPNorm: z, gate: z, up: z, down: z)
            for (_, shape, opt, req, norm) in DecoderBlockWeights.keys(l, c) {
                let t = r(shape, mean: norm ? 1 : 0)
                if let opt { b[keyPath: opt] = t } else if let req { b[keyPath: req] = t }
            }
            blocks.append(b)
        }
        return DecoderWeights(embedding: r([c.vocabSize, c.width]), blocks: blocks, finalNorm: r([c.width], mean: 1),
                              lmHead: c.tieWordEmbeddings ? nil : r([c.vocabSize, c.width]))
    }
}
