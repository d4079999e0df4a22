import Foundation

/// Everything that can go wrong in IsaerftAnalysis; each `description` is one line naming the file,
/// latent or hook involved.
public enum AnalysisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A latent index outside `0..<d_sae`.
    case latentOutOfRange(Int, dSAE: Int)
    /// No latents were asked for.
    case noLatents
    /// A labels file (Neuronpedia export or CSV) is malformed.
    case badLabels(file: String, line: Int, reason: String)
    /// A labels file or folder cannot be read.
    case unreadable(String, reason: String)
    /// The SAE's hook does not write the residual stream, so `W_dec[i]·W_U` is not a direct path.
    case noDirectLogitPath(hook: String, reason: String)
    /// The model family gives no unembedding this library knows how to read.
    case unsupportedModel(String)
    /// A steering or analysis input that does not fit (empty prompt, width mismatch, …).
    case invalidInput(String)
    /// A Neuronpedia id that is not `{modelId}/{sourceId}`.
    case badNeuronpediaID(String)

    public var description: String {
        switch self {
        case let .latentOutOfRange(i, d): "latent \(i) is outside 0..<\(d) (the SAE's d_sae)"
        case .noLatents: "no latents given"
        case let .badLabels(file, line, reason): "\(file):\(line): \(reason)"
        case let .unreadable(path, reason): "\(path): \(reason)"
        case let .noDirectLogitPath(hook, reason): "logit effects at \(hook): \(reason)"
        case let .unsupportedModel(what): "logit effects: \(what)"
        case let .invalidInput(what): what
        case let .badNeuronpediaID(id): "'\(id)' is not a Neuronpedia id of the form {modelId}/{sourceId} (e.g. gpt2-small/0-res-jb)"
        }
    }
}
