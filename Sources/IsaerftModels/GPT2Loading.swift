import Foundation
import IsaerftCore
import IsaerftFiles

extension GPT2Model {
    /// Loads an HF GPT-2 folder: `config.json` plus `model.safetensors` (or shards with
    /// `model.safetensors.index.json`). Strict: missing, unexpected and mis-shaped tensors are named.
    public static func load(folder: URL) throws -> GPT2Model {
        let config = try GPT2Config.load(folder.appendingPathComponent("config.json"))
        let checkpoint = try ShardedCheckpoint(folder: folder)
        let weights = try GPT2Weights.load(config: config, names: checkpoint.names, source: folder.path,
                                           tensor: { try checkpoint.tensor($0) })
        return GPT2Model(config: config, weights: weights)
    }

    /// Writes the model as `GPT2LMHeadModel.save_pretrained` would (`config.json` + `model.safetensors`).
    public func save(folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try config.jsonData().write(to: folder.appendingPathComponent("config.json"), options: .atomic)
        try SafeTensors.write(weights.namedTensors(config), metadata: ["format": "pt"],
                              to: folder.appendingPathComponent("model.safetensors"))
    }

    /// The model with TransformerLens' `center_writing_weights` applied (see `GPT2Weights.centeringWritingWeights`).
    public func centeringWritingWeights() -> GPT2Model {
        GPT2Model(config: config, weights: weights.centeringWritingWeights(config))
    }
}

extension GPT2Config {
    /// Reads and validates a `config.json`; errors name the file.
    public static func load(_ url: URL) throws -> GPT2Config {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.invalidConfig("\(url.path) cannot be read")
        }
        do { return try JSONDecoder().decode(GPT2Config.self, from: data) }
        catch let e as ModelError { throw ModelError.invalidConfig("\(url.path): \(e.description)") }
        catch { throw ModelError.invalidConfig("\(url.path) is not a valid GPT-2 config.json (\(error))") }
    }

    /// The config as HF writes it (the keys this reader understands).
    public func jsonData() throws -> Data {
        var o: [String: Any] = [
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": vocabSize,
            "n_positions": contextLength, "n_embd": width, "n_layer": layerCount, "n_head": headCount,
            "layer_norm_epsilon": Double(layerNormEps), "activation_function": activation == .tanh ? "gelu_new" : "gelu",
            "tie_word_embeddings": tieWordEmbeddings, "scale_attn_weights": scaleAttentionWeights,
        ]
        if mlpWidth != 4 * width { o["n_inner"] = mlpWidth }
        if let bosTokenID { o["bos_token_id"] = bosTokenID }
        if let eosTokenID { o["eos_token_id"] = eosTokenID }
        return try JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys])
    }
}
