import Foundation
import IsaerftCore

/// The Llama-style decoder families (RMSNorm, rotary positions, gated MLP, grouped-query attention).
public enum DecoderFamily: String, Sendable {
    case llama, qwen2, qwen3, gemma2, gemma3
}

/// Hyper-parameters of a Llama / Qwen2 / Qwen3 / Gemma 2 / Gemma 3 text model, read from an HF
/// `config.json` (transformers 4.x and 5.x key spellings) or built from GGUF / llama2.c metadata.
public struct DecoderConfig: Sendable {
    public var family: DecoderFamily
    public var vocabSize: Int
    public var width: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var mlpWidth: Int
    public var rmsNormEps: Float
    public var contextLength: Int
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry biases (Qwen2, `attention_bias`).
    public var attentionBias: Bool
    /// RoPE tables per layer (Gemma 3 uses two bases; the others one).
    public var ropeTables: [RopeTable]
    /// Sliding window per layer (nil: global attention).
    public var windows: [Int?]
    /// Multiplies q·k (1/√headDim, or query_pre_attn_scalar^(−1/2) for Gemma).
    public var attentionScale: Float
    public var attentionSoftcap: Float?
    public var finalSoftcap: Float?
    public var activation: MLPActivation
    public var bosTokenID: Int?
    public var eosTokenID: Int?

    public enum MLPActivation: String, Sendable { case silu, geluTanh }

    /// Gemma stores norm weights w and scales by 1 + w.
    public var normPlusOne: Bool { family == .gemma2 || family == .gemma3 }
    /// Gemma 2/3: norms after attention and after the MLP, before the residual adds.
    public var postNorms: Bool { family == .gemma2 || family == .gemma3 }
    /// Qwen3 and Gemma 3 normalise q and k per head before RoPE.
    public var qkNorm: Bool { family == .qwen3 || family == .gemma3 }
    /// Gemma multiplies embeddings by √width (in the activation dtype).
    public var embeddingScale: Float? { normPlusOne ? Float(Double(width).squareRoot()) : nil }

    /// Parses an HF `config.json`. Gemma 3 multimodal configs use their `text_config`.
    public static func decode(_ data: Data, source: String) throws -> DecoderConfig {
        guard var o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.invalidConfig("\(source) is not a JSON object")
        }
        if let text = o["text_config"] as? [String: Any] { o = text.merging(["model_type": "gemma3_text"]) { a, _ in a } }
        return try DecoderConfig(json: o, source: source)
    }

    init(json o: [String: Any], source: String) throws {
        func int(_ k: String) -> Int? { (o[k] as? NSNumber)?.intValue }
        func dbl(_ k: String) -> Double? { (o[k] as? NSNumber)?.doubleValue }
        func need(_ k: String) throws -> Int {
            guard let v = int(k), v > 0 else { throw ModelError.invalidConfig("\(source): \(k) is missing or not a positive integer") }
            return v
        }
        let type = o["model_type"] as? String ?? ""
        switch type {
        case "llama", "mistral": family = .llama
        case "qwen2": family = .qwen2
        case "qwen3": family = .qwen3
        case "gemma2": family = .gemma2
        case "gemma3_text", "gemma3": family = .gemma3
        default: throw ModelError.invalidConfig("\(source): model_type '\(type)' is not supported (llama, qwen2, qwen3, gemma2, gemma3_text, gpt2)")
        }
        vocabSize = try need("vocab_size"); width = try need("hidden_size"); layerCount = try need("num_hidden_layers")
        headCount = try need("num_attention_heads"); mlpWidth = try need("intermediate_size")
        kvHeadCount = int("num_key_value_heads") ?? headCount
        headDim = int("head_dim") ?? width / headCount
        rmsNormEps = Float(dbl("rms_norm_eps") ?? 1e-6)
        contextLength = int("max_position_embeddings") ?? 2048
        let gemma = family == .gemma2 || family == .gemma3
        tieWordEmbeddings = (o["tie_word_embeddings"] as? Bool) ?? (gemma || family == .qwen2 ? true : false)
        attentionBias = (o["attention_bias"] as? Bool) ?? (family == .qwen2)
        attentionScale = Float(1 / (dbl("query_pre_attn_scalar") ?? Double(headDim)).squareRoot())
        attentionSoftcap = family == .gemma2 ? dbl("attn_logit_softcapping").map(Float.init) : nil
        finalSoftcap = family == .gemma2 ? dbl("final_logit_softcapping").map(Float.init) : nil
        let act = (o["hidden_activation"] as? String) ?? (o["hidden_act"] as? String) ?? (gemma ? "gelu_pytorch_tanh" : "silu")
        switch act {
        case "silu", "swish": activation = .silu
        case "gelu_pytorch_tanh", "gelu_new", "gelu_tanh": activation = .geluTanh
        default: throw ModelError.invalidConfig("\(source): activation '\(act)' is not supported (silu, gelu_pytorch_tanh)")
        }
        bosTokenID = int("bos_token_id"); eosTokenID = int("eos_token_id") ?? ((o["eos_token_id"] as? [NSNumber])?.first?.intValue)
        guard headCount % kvHeadCount == 0 else {
            throw ModelError.invalidConfig("\(source): num_attention_heads \(headCount) is not a multiple of num_key_value_heads \(kvHeadCount)")
        }
        guard headDim % 2 == 0 else { throw ModelError.invalidConfig("\(source): head_dim \(headDim) must be even for RoPE") }

        // Which layers slide, and their windows.
        let window = int("sliding_window")
        var types: [String] = (o["layer_types"] as? [String]) ?? []
        if types.isEmpty {
            switch family {
            case .gemma2: types = (0..<layerCount).map { ($0 + 1) % 2 == 1 ? "sliding_attention" : "full_attention" }
            case .gemma3:
                let pattern = int("sliding_window_pattern") ?? int("_sliding_window_pattern") ?? 6
                types = (0..<layerCount).map { ($0 + 1) % pattern == 0 ? "full_attention" : "sliding_attention" }
            default:
                let slides = (o["use_sliding_window"] as? Bool) ?? false
                types = Array(repeating: slides && window != nil ? "sliding_attention" : "full_attention", count: layerCount)
            }
        }
        guard types.count == layerCount else {
            throw ModelError.invalidConfig("\(source): layer_types has \(types.count) entries for \(layerCount) layers")
        }
        windows = types.map { $0 == "sliding_attention" ? window : nil }

        // RoPE: transformers 5 `rope_parameters` (flat, or per layer type), else rope_theta / rope_scaling / rope_local_base_freq.
        let hd = headDim
        func table(_ p: [String: Any], defaultBase: Double) throws -> RopeTable {
            try Self.ropeTable(p, defaultBase: defaultBase, headDim: hd, source: source)
        }
        let theta = dbl("rope_theta") ?? 10000
        var global: RopeTable, local: RopeTable
        if let rp = o["rope_parameters"] as? [String: Any] {
            if let full = rp["full_attention"] as? [String: Any] {
                global = try table(full, defaultBase: theta)
                local = try table((rp["sliding_attention"] as? [String: Any]) ?? full, defaultBase: dbl("rope_local_base_freq") ?? 10000)
            } else {
                global = try table(rp, defaultBase: theta)
                local = global
            }
        } else {
            var p: [String: Any] = (o["rope_scaling"] as? [String: Any]) ?? [:]
            p["rope_theta"] = theta
            global = try table(p, defaultBase: theta)
            local = family == .gemma3
                ? try table(["rope_theta": dbl("rope_local_base_freq") ?? 10000], defaultBase: 10000) : global
        }
        let isGemma3 = family == .gemma3
        ropeTables = windows.map { $0 != nil && isGemma3 ? local : global }
    }

    /// One RoPE table from a `rope_parameters` / `rope_scaling` dictionary.
    static func ropeTable(_ p: [String: Any], defaultBase: Double, headDim hd: Int, source: String) throws -> RopeTable {
        let base = (p["rope_theta"] as? NSNumber)?.doubleValue ?? defaultBase
        let kind = (p["rope_type"] as? String) ?? (p["type"] as? String) ?? "default"
        var inv = RopeTable.defaultFrequencies(headDim: hd, base: base)
        switch kind {
        case "default": break
        case "linear":
            let f = Float((p["factor"] as? NSNumber)?.doubleValue ?? 1)
            inv = inv.map { $0 / f }
        case "llama3":
            inv = try llama3Frequencies(inv, p, source: source)
        default: throw ModelError.invalidConfig("\(source): rope_type '\(kind)' is not supported (default, linear, llama3)")
        }
        return RopeTable(headDim: hd, inverseFrequencies: inv)
    }

    /// HF `_compute_llama3_parameters`: long wavelengths divided by `factor`, short ones kept, the
    /// band between blended.
    static func llama3Frequencies(_ inv: [Float], _ p: [String: Any], source: String) throws -> [Float] {
        func d(_ k: String) throws -> Float {
            guard let v = (p[k] as? NSNumber)?.floatValue else { throw ModelError.invalidConfig("\(source): llama3 rope_scaling needs \(k)") }
            return v
        }
        let factor = try d("factor"), low = try d("low_freq_factor"), high = try d("high_freq_factor")
        let old = try d("original_max_position_embeddings")
        let lowWave = old / low, highWave = old / high
        return inv.map { f in
            let wave = 2 * Float.pi / f
            var g = wave > lowWave ? f / factor : f
            if !(wave < highWave) && !(wave > lowWave) {
                let smooth = (old / wave - low) / (high - low)
                g = (1 - smooth) * g / factor + smooth * g
            }
            return g
        }
    }
}
