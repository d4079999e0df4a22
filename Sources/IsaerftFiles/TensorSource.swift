import Foundation
import IsaerftCore

/// Named fp32 tensors, however they are stored (safetensors shards, a GGUF file, a llama2.c file).
public protocol TensorSource: Sendable {
    /// Every tensor name, sorted.
    var names: [String] { get }
    /// The tensor as fp32 in PyTorch layout (row-major, outermost axis first).
    func tensor(_ name: String) throws -> Tensor
}

extension ShardedCheckpoint: TensorSource {}

/// A checkpoint in another format presented as a Hugging Face model folder would be: the
/// `config.json` a transformers model of the same architecture would have, and tensors under HF
/// parameter names in HF conventions (e.g. Gemma norm weights without the +1, Llama q/k rows in
/// rotate-half order), so one loader serves every format.
public struct ConvertedCheckpoint: Sendable {
    /// `config.json` contents (UTF-8 JSON object).
    public var configJSON: Data
    public var tensors: any TensorSource
    /// Where it came from, for error messages.
    public var source: String

    public init(configJSON: Data, tensors: any TensorSource, source: String) {
        self.configJSON = configJSON; self.tensors = tensors; self.source = source
    }
}
