import Foundation

/// Everything that can be wrong with a checkpoint file, as one line that names the file and the
/// problem (style rule 6: bad input throws a typed error; preconditions are for programmer errors).
///
/// Byte counts are `UInt64` so that a corrupt length field (up to 2⁶⁴ − 1) is reported as read.
public enum FileFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be opened or mapped.
    case unreadable(file: String, reason: String)
    /// The file ends before a part the header promises: `needed` bytes, `available` present.
    case truncated(file: String, needed: UInt64, available: UInt64)
    /// The header is not a UTF-8 JSON object of the safetensors shape (or is too large).
    case badHeader(file: String, reason: String)
    /// A tensor's `dtype` is not one this reader knows.
    case badDType(file: String, tensor: String, dtype: String)
    /// A tensor entry lacks a field or has a malformed one (shape, data_offsets).
    case badEntry(file: String, tensor: String, reason: String)
    /// `end − begin` differs from `product(shape) × dtype size`.
    case offsetMismatch(file: String, tensor: String, dtype: String, shape: [Int], expectedBytes: UInt64,
                        begin: UInt64, end: UInt64)
    /// A tensor's byte range ends past the data section.
    case outOfBounds(file: String, tensor: String, end: UInt64, dataBytes: UInt64)
    /// Two tensors' byte ranges overlap.
    case overlap(file: String, first: String, second: String)
    /// A tensor that was asked for (or that an index names) is not in the file.
    case missingTensor(file: String, tensor: String)
    /// The tensor's dtype cannot be read as the requested type (e.g. F32 as Int64).
    case unsupportedConversion(file: String, tensor: String, dtype: String, target: String)
    /// A stored integer does not fit the requested type (U64 above Int64.max).
    case valueOutOfRange(file: String, tensor: String, reason: String)
    /// A tensor name occurs in more than one shard.
    case duplicateTensor(tensor: String, files: [String])
    /// `model.safetensors.index.json` is malformed or disagrees with its shards.
    case badIndex(file: String, reason: String)
    /// A folder holds no safetensors weights under the expected names.
    case noWeights(folder: String, reason: String)
    /// The caller handed the writer something it cannot store (duplicate names, value counts).
    case invalidInput(file: String, reason: String)
    /// Writing or renaming failed.
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            "\(file): cannot read: \(reason)"
        case let .truncated(file, needed, available):
            "\(file): truncated: needs \(needed) bytes, file has \(available)"
        case let .badHeader(file, reason):
            "\(file): bad header: \(reason)"
        case let .badDType(file, tensor, dtype):
            "\(file): tensor \(tensor) has unknown dtype \"\(dtype)\""
        case let .badEntry(file, tensor, reason):
            "\(file): tensor \(tensor): \(reason)"
        case let .offsetMismatch(file, tensor, dtype, shape, expected, begin, end):
            "\(file): offset mismatch for tensor \(tensor): \(dtype) \(shape) needs \(expected) bytes, "
                + "data_offsets [\(begin), \(end)] hold \(end >= begin ? end - begin : 0)"
        case let .outOfBounds(file, tensor, end, dataBytes):
            "\(file): tensor \(tensor) ends at data byte \(end), past the data section of \(dataBytes) bytes"
        case let .overlap(file, first, second):
            "\(file): byte ranges of tensors \(first) and \(second) overlap"
        case let .missingTensor(file, tensor):
            "\(file): missing tensor \(tensor)"
        case let .unsupportedConversion(file, tensor, dtype, target):
            "\(file): tensor \(tensor) is \(dtype), which cannot be read as \(target)"
        case let .valueOutOfRange(file, tensor, reason):
            "\(file): tensor \(tensor): \(reason)"
        case let .duplicateTensor(tensor, files):
            "tensor \(tensor) appears in more than one shard: \(files.joined(separator: ", "))"
        case let .badIndex(file, reason):
            "\(file): bad shard index: \(reason)"
        case let .noWeights(folder, reason):
            "\(folder): no safetensors weights: \(reason)"
        case let .invalidInput(file, reason):
            "\(file): cannot write: \(reason)"
        case let .writeFailed(file, reason):
            "\(file): write failed: \(reason)"
        }
    }
}
