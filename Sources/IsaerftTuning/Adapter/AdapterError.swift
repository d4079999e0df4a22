import Foundation

/// Errors reading, writing or merging adapter folders; one line each, naming the file.
public enum AdapterError: Error, CustomStringConvertible, Equatable, Sendable {
    case missingFile(String)
    case unreadable(file: String, reason: String)
    case unknownPeftType(file: String, found: String)
    case invalidConfig(String)
    case missingTensor(file: String, name: String)
    case unexpectedTensor(file: String, name: String)
    case shapeMismatch(file: String, name: String, expected: [Int], found: [Int])
    case notMergeable(String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): "\(path): no such file"
        case let .unreadable(file, reason): "\(file): \(reason)"
        case let .unknownPeftType(file, found): "\(file): peft_type is \"\(found)\", expected \"\(AdapterConfig.peftTypeName)\" (not an isaerft adapter)"
        case let .invalidConfig(why): "adapter config: \(why)"
        case let .missingTensor(file, name): "\(file): tensor \(name) is missing"
        case let .unexpectedTensor(file, name): "\(file): tensor \(name) belongs to no component in adapter_config.json"
        case let .shapeMismatch(file, name, e, f): "\(file): tensor \(name) has shape \(f), expected \(e)"
        case let .notMergeable(why): why
        case let .writeFailed(file, reason): "\(file): \(reason)"
        }
    }
}
