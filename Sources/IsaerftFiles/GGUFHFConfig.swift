/// Hyper-parameters read from `{arch}.*` metadata (`hooks-and-models.md` §5.3; llama.cpp
/// `llama_model::load_hparams`).
struct GGUFHyperparameters {
    var architecture: String
    var vocabSize, hiddenSize, intermediateSize, layerCount, headCount, kvHeadCount, headDim, contextLength: Int
    var rmsNormEps: Float
    /// `{arch}.rope.freq_base`; llama.cpp's default 10000 when absent.
    var ropeBase: Float
    /// No `output.weight`: the head is the embedding matrix.
    var tied: Bool

    init(file: GGUFFile, architecture a: String) throws {
        architecture = a
        layerCount = try file.requireInt("\(a).block_count")
        hiddenSize = try file.requireInt("\(a).embedding_length")
        intermediateSize = try file.requireInt("\(a).feed_forward_length")
        headCount = try file.requireInt("\(a).attention.head_count")
        kvHeadCount = file.int("\(a).attention.head_count_kv") ?? headCount
        contextLength = try file.requireInt("\(a).context_length")
        rmsNormEps = try file.requireFloat("\(a).attention.layer_norm_rms_epsilon")
        ropeBase = file.float("\(a).rope.freq_base") ?? 10_000
        guard headCount > 0, kvHeadCount > 0, headCount % kvHeadCount == 0, layerCount > 0, hiddenSize > 0 else {
            throw GGUFError.badHyperparameters(file: file.url.path,
                reason: "\(headCount) heads, \(kvHeadCount) KV heads, \(layerCount) layers, width \(hiddenSize)")
        }
        headDim = file.int("\(a).attention.key_length") ?? hiddenSize / headCount
        tied = file.info("output.weight") == nil
        if let v = file.int("\(a).vocab_size") {
            vocabSize = v
        } else if let e = file.info("token_embd.weight"), e.dimensions.count == 2 {
            vocabSize = e.dimensions[1]
        } else {
            throw GGUFError.missingTensor(file: file.url.path, tensor: "token_embd.weight")
        }
    }
}

/// The HF `config.json` a transformers model of the same architecture would have.
enum GGUFHFConfig {
    typealias J = GGUFConfigJSON

    static func config(file: GGUFFile, hp: GGUFHyperparameters) throws -> J {
        let a = hp.architecture
        var pairs: [(String, J)] = [
            ("architectures", .array([.string(className(a))])),
            ("model_type", .string(a == "gemma3" ? "gemma3_text" : a)),
            ("vocab_size", .int(hp.vocabSize)), ("hidden_size", .int(hp.hiddenSize)),
            ("intermediate_size", .int(hp.intermediateSize)), ("num_hidden_layers", .int(hp.layerCount)),
            ("num_attention_heads", .int(hp.headCount)), ("num_key_value_heads", .int(hp.kvHeadCount)),
            ("head_dim", .int(hp.headDim)), ("rms_norm_eps", .float(hp.rmsNormEps)),
            ("max_position_embeddings", .int(hp.contextLength)), ("rope_theta", .float(hp.ropeBase)),
        ]
        switch a {
        case "gemma3": pairs += try gemma3(file, hp)
        case "gemma2": pairs += ropeKeys(file, hp) + gemma2(file, hp)
        case "qwen2", "qwen3":
            let full = J.array(Array(repeating: .string("full_attention"), count: hp.layerCount))
            pairs += ropeKeys(file, hp) + [
                ("hidden_act", .string("silu")), ("attention_bias", .bool(a == "qwen2")),
                ("use_sliding_window", .bool(false)), ("sliding_window", .null),
                ("max_window_layers", .int(hp.layerCount)), ("layer_types", full),
            ]
        default:   // llama
            pairs += ropeKeys(file, hp) + [("hidden_act", .string("silu")), ("attention_bias", .bool(false)),
                                           ("mlp_bias", .bool(false))]
        }
        pairs += [
            ("tie_word_embeddings", .bool(hp.tied)),
            ("bos_token_id", .optionalInt(file.int("tokenizer.ggml.bos_token_id"))),
            ("eos_token_id", .optionalInt(file.int("tokenizer.ggml.eos_token_id"))),
            ("pad_token_id", .optionalInt(file.int("tokenizer.ggml.padding_token_id"))),
            ("torch_dtype", .string("float32")),
        ]
        return .object(pairs)
    }

    static func className(_ arch: String) -> String {
        switch arch {
        case "gemma3": "Gemma3ForCausalLM"
        case "gemma2": "Gemma2ForCausalLM"
        case "qwen2": "Qwen2ForCausalLM"
        case "qwen3": "Qwen3ForCausalLM"
        default: "LlamaForCausalLM"
        }
    }

    /// Gemma 3 (`hooks-and-models.md` §2.5, §6.3). Not stored in the GGUF, filled with the Gemma 3
    /// defaults that llama.cpp also assumes (`LLM_ARCH_GEMMA3` in `llama-model.cpp`):
    /// `query_pre_attn_scalar` = head_dim (hidden/heads for the 62-layer 27B), local RoPE base 1e4
    /// (or `{arch}.rope.freq_base_swa`), every 6th layer global (`l % 6 == 5`, or the file's
    /// `attention.sliding_window_pattern`), `gelu_pytorch_tanh`, no soft-caps.
    static func gemma3(_ file: GGUFFile, _ hp: GGUFHyperparameters) throws -> [(String, J)] {
        let a = hp.architecture
        guard let window = file.int("\(a).attention.sliding_window") else {
            throw GGUFError.missingKey(file: file.url.path, key: "\(a).attention.sliding_window", expected: "an integer")
        }
        let local = file.float("\(a).rope.freq_base_swa") ?? 10_000
        var isSliding = (0..<hp.layerCount).map { ($0 + 1) % 6 != 0 }
        var pattern = 6
        if let p = file.int("\(a).attention.sliding_window_pattern"), p > 0 {
            pattern = p
            isSliding = (0..<hp.layerCount).map { ($0 + 1) % p != 0 }
        } else if let flags = file.bools("\(a).attention.sliding_window_pattern"), flags.count == hp.layerCount {
            isSliding = flags
        }
        let scaling = ropeScaling(file, a)
        var full: [(String, J)] = [("rope_theta", .float(hp.ropeBase)), ("rope_type", .string("default"))]
        if case .object(let s) = scaling { full = [("rope_theta", .float(hp.ropeBase))] + s }
        return [
            ("rope_local_base_freq", .float(local)),
            ("rope_scaling", scaling),
            ("rope_parameters", .object([
                ("full_attention", .object(full)),
                ("sliding_attention", .object([("rope_theta", .float(local)), ("rope_type", .string("default"))])),
            ])),
            ("sliding_window", .int(window)),
            ("_sliding_window_pattern", .int(pattern)),
            ("layer_types", .array(isSliding.map { .string($0 ? "sliding_attention" : "full_attention") })),
            ("query_pre_attn_scalar", .int(hp.layerCount == 62 ? hp.hiddenSize / hp.headCount : hp.headDim)),
            ("hidden_activation", .string("gelu_pytorch_tanh")),
            ("attn_logit_softcapping", .null), ("final_logit_softcapping", .null),
            ("attention_bias", .bool(false)),
        ]
    }

    /// Gemma 2 (`hooks-and-models.md` §2.4): soft-caps from `{arch}.attn_logit_softcapping` /
    /// `{arch}.final_logit_softcapping` (50 / 30 when absent), window from
    /// `attention.sliding_window` (4096), even layers sliding (HF `Gemma2Config.layer_types`),
    /// `query_pre_attn_scalar` = head_dim (hidden/heads for the 46-layer 27B, as llama.cpp).
    static func gemma2(_ file: GGUFFile, _ hp: GGUFHyperparameters) -> [(String, J)] {
        let a = hp.architecture
        return [
            ("sliding_window", .int(file.int("\(a).attention.sliding_window") ?? 4096)),
            ("layer_types", .array((0..<hp.layerCount).map { .string($0 % 2 == 0 ? "sliding_attention" : "full_attention") })),
            ("query_pre_attn_scalar", .int(hp.layerCount == 46 ? hp.hiddenSize / hp.headCount : hp.headDim)),
            ("hidden_activation", .string("gelu_pytorch_tanh")), ("hidden_act", .string("gelu_pytorch_tanh")),
            ("attn_logit_softcapping", .float(file.float("\(a).attn_logit_softcapping") ?? 50)),
            ("final_logit_softcapping", .float(file.float("\(a).final_logit_softcapping") ?? 30)),
            ("attention_bias", .bool(false)),
        ]
    }

    /// `rope_scaling` (transformers < 5) and `rope_parameters` (transformers ≥ 5) for one RoPE base.
    static func ropeKeys(_ file: GGUFFile, _ hp: GGUFHyperparameters) -> [(String, J)] {
        let scaling = ropeScaling(file, hp.architecture)
        var parameters: [(String, J)] = [("rope_theta", .float(hp.ropeBase)), ("rope_type", .string("default"))]
        if case .object(let s) = scaling { parameters = [("rope_theta", .float(hp.ropeBase))] + s }
        return [("rope_scaling", scaling), ("rope_parameters", .object(parameters))]
    }

    /// `{arch}.rope.scaling.type` / `.factor` (/ `.original_context_length`) as HF `rope_scaling`,
    /// null when absent or `none`.
    static func ropeScaling(_ file: GGUFFile, _ a: String) -> J {
        guard let type = file.string("\(a).rope.scaling.type"), type != "none",
              let factor = file.float("\(a).rope.scaling.factor") else { return .null }
        var pairs: [(String, J)] = [("rope_type", .string(type)), ("factor", .float(factor))]
        if let orig = file.int("\(a).rope.scaling.original_context_length") {
            pairs.append(("original_max_position_embeddings", .int(orig)))
        }
        return .object(pairs)
    }
}
