/// Everything that can be wrong with a GGUF file or its conversion, as one line naming the file and
/// the problem (style rule 6). Byte counts are `UInt64` so corrupt size fields are reported as read.
public enum GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be opened or mapped.
    case unreadable(file: String, reason: String)
    /// The first four bytes are not `GGUF`.
    case badMagic(file: String, found: [UInt8])
    /// A version other than 2 or 3 (version 1 used 32-bit counts and is refused, as by ggml).
    case unsupportedVersion(file: String, version: UInt32)
    /// The header ends early: reading `what` needs `needed` bytes from the start, the file has `available`.
    case truncatedHeader(file: String, what: String, needed: UInt64, available: UInt64)
    /// A metadata entry is malformed (unknown value type, bad UTF-8 key, duplicate key, …).
    case badMetadata(file: String, key: String, reason: String)
    /// A tensor info is malformed (dimensions, unknown type id, misaligned offset, row not whole blocks).
    case badTensorInfo(file: String, tensor: String, reason: String)
    /// A tensor's bytes end past the end of the file.
    case tensorOutOfFile(file: String, tensor: String, needed: UInt64, available: UInt64)
    /// Two tensors share a name.
    case duplicateTensor(file: String, tensor: String)
    /// The file has no tensor of this name.
    case missingTensor(file: String, tensor: String)
    /// The tensor's ggml type cannot be dequantised by this reader.
    case unsupportedType(file: String, tensor: String, type: String)
    /// A row index or shape request does not fit the tensor.
    case badRequest(file: String, tensor: String, reason: String)
    /// A metadata key the conversion needs is missing or has the wrong type.
    case missingKey(file: String, key: String, expected: String)
    /// `general.architecture` names an architecture the converter does not handle.
    case unknownArchitecture(file: String, architecture: String, supported: [String])
    /// The tensors do not match the architecture (all problems at once, style rule 7).
    case conversionMismatch(file: String, architecture: String, missing: [String], unexpected: [String])
    /// The hyper-parameters are inconsistent (e.g. rows not a multiple of the head count).
    case badHyperparameters(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            "\(file): cannot read: \(reason)"
        case let .badMagic(file, found):
            "\(file): not a GGUF file (magic bytes \(found.map { String($0, radix: 16) }), expected 47 47 55 46 \"GGUF\")"
        case let .unsupportedVersion(file, version):
            version == 1
                ? "\(file): GGUF version 1 is not supported (it predates 64-bit counts; re-convert with a current llama.cpp)"
                : "\(file): GGUF version \(version) is not supported (supported: 2, 3)"
        case let .truncatedHeader(file, what, needed, available):
            "\(file): truncated header: reading \(what) needs \(needed) bytes, file has \(available)"
        case let .badMetadata(file, key, reason):
            "\(file): metadata \(key): \(reason)"
        case let .badTensorInfo(file, tensor, reason):
            "\(file): tensor \(tensor): \(reason)"
        case let .tensorOutOfFile(file, tensor, needed, available):
            "\(file): truncated: tensor \(tensor) needs bytes up to \(needed), file has \(available)"
        case let .duplicateTensor(file, tensor):
            "\(file): tensor \(tensor) appears more than once"
        case let .missingTensor(file, tensor):
            "\(file): missing tensor \(tensor)"
        case let .unsupportedType(file, tensor, type):
            "\(file): tensor \(tensor) has ggml type \(type), which cannot be dequantised "
                + "(supported: \(GGMLType.dequantizable.map(\.name).joined(separator: ", ")))"
        case let .badRequest(file, tensor, reason):
            "\(file): tensor \(tensor): \(reason)"
        case let .missingKey(file, key, expected):
            "\(file): metadata key \(key) is missing or not \(expected)"
        case let .unknownArchitecture(file, architecture, supported):
            "\(file): GGUF architecture '\(architecture)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case let .conversionMismatch(file, architecture, missing, unexpected):
            "\(file): tensors do not match architecture \(architecture): "
                + [missing.isEmpty ? nil : "missing \(Self.list(missing))",
                   unexpected.isEmpty ? nil : "unexpected \(Self.list(unexpected))"]
                    .compactMap { $0 }.joined(separator: "; ")
        case let .badHyperparameters(file, reason):
            "\(file): inconsistent hyper-parameters: \(reason)"
        }
    }

    /// At most ten names, then a count.
    private static func list(_ names: [String]) -> String {
        let head = names.prefix(10).joined(separator: ", ")
        return names.count > 10 ? "\(head) … (\(names.count) in all)" : head
    }
}
