import Foundation

/// Errors of the run machinery (checkpoints, records, config files); each `description` is one line.
public enum RunsError: Error, CustomStringConvertible, Equatable {
    case io(String, String)
    case badCheckpoint(String, String)
    case badRecords(String, line: Int, String)
    case badConfig(String, line: Int?, String)
    case unknownConfigKey(String, file: String)

    public var description: String {
        switch self {
        case let .io(path, why): "\(path): \(why)"
        case let .badCheckpoint(path, why): "checkpoint \(path): \(why)"
        case let .badRecords(path, line, why): "\(path):\(line): \(why)"
        case let .badConfig(path, line?, why): "\(path):\(line): \(why)"
        case let .badConfig(path, nil, why): "\(path): \(why)"
        case let .unknownConfigKey(key, file): "\(file): unknown key '\(key)' (no option --\(ConfigFile.optionName(key)))"
        }
    }
}
