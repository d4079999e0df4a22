/// Why tuning stopped (one line each).
public enum TuneError: Error, CustomStringConvertible, Equatable {
    case invalidOption(String)
    case nonFiniteLoss(Double)
    case noExamples(String)
    case checkpointMismatch(String)

    public var description: String {
        switch self {
        case .invalidOption(let m): m
        case .nonFiniteLoss(let v): "the loss became \(v); lower the learning rate (the last checkpoint is kept)"
        case .noExamples(let m): "no usable examples: \(m)"
        case .checkpointMismatch(let m): "cannot resume: \(m)"
        }
    }
}
