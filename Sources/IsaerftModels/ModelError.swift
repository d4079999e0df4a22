/// Errors from building or running a model; each `description` is one line for the CLI.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unknownHook(String, available: String)
    case hookOutOfRange(String, layerCount: Int)
    case missingTensors([String], source: String)
    case unusedTensors([String], source: String)
    case shapeMismatch(String, expected: [Int], found: [Int])
    case invalidConfig(String)
    case tokenOutOfRange(Int, vocabularySize: Int)
    case sequenceTooLong(Int, maximum: Int)
    case emptyInput
    case raggedBatch
    case hookShapeChanged(String, expected: [Int], found: [Int])
    /// A pass resumed at `start` was asked to capture, edit or differentiate a hook that runs before it.
    case hookBeforeStart(String, start: String)
    /// `ForwardOptions.start` does not fit the model or the batch.
    case invalidStart(String)
    /// A gradient-aware edit sits at a hook through which `backward` cannot pass a gradient.
    case gradientEditUnsupported(String)

    public var description: String {
        switch self {
        case let .unknownHook(name, available):
            "unknown hook name '\(name)' (hook names look like \(available))"
        case let .hookOutOfRange(name, n): "hook '\(name)' names a block the model does not have (it has \(n) blocks)"
        case let .missingTensors(keys, source): "\(source): missing tensors: \(Self.list(keys))"
        case let .unusedTensors(keys, source): "\(source): unexpected tensors the model does not use: \(Self.list(keys))"
        case let .shapeMismatch(key, e, f): "tensor \(key): expected shape \(e), found \(f)"
        case let .invalidConfig(why): "invalid model config: \(why)"
        case let .tokenOutOfRange(id, v): "token id \(id) is outside the vocabulary (0..<\(v))"
        case let .sequenceTooLong(n, m): "input of \(n) tokens is longer than the model's context of \(m)"
        case .emptyInput: "the input has no tokens"
        case .raggedBatch: "every row of a batch must have the same length (pad it and pass an attention mask)"
        case let .hookShapeChanged(name, e, f): "an edit of hook \(name) changed its shape from \(e) to \(f)"
        case let .hookBeforeStart(name, start): "hook \(name) runs before \(start), where this pass starts"
        case let .invalidStart(why): "invalid residual start: \(why)"
        case let .gradientEditUnsupported(name): "a gradient-aware edit at \(name) cannot be differentiated (backward has no gradient there)"
        }
    }

    static func list(_ keys: [String]) -> String {
        keys.count <= 8 ? keys.joined(separator: ", ") : keys.prefix(8).joined(separator: ", ") + " and \(keys.count - 8) more"
    }
}
