import Foundation
import IsaerftCore

/// Writing safetensors files, byte for byte like the Python `safetensors` library (0.8.0).
///
/// Layout chosen by the reference `serialize` (Rust `safetensors::tensor::prepare`): tensors are
/// ordered by dtype, largest `Dtype` first (I64, F64, F32, BF16, F16 …), then by name byte-wise;
/// the data section follows that order without gaps; the header is compact JSON
/// (`{"__metadata__":{…},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},…}`) padded
/// with spaces to a multiple of 8 bytes. The one difference: the reference writes `__metadata__`
/// in hash-map order, this writer sorts its keys, so output is identical when there is at most
/// one metadata key.
public enum SafeTensors {
    /// An integer tensor to store as I64.
    public typealias Int64Tensor = (name: String, shape: [Int], values: [Int64])

    /// Writes `tensors` (stored as `floatDType`: F32, F16 or BF16; narrowing rounds to nearest
    /// even) and `int64` tensors (I64) with `metadata` to `url`, atomically: the bytes go to
    /// `<url>.partial` in the same folder, which is then renamed over `url`.
    /// Throws `FileFormatError.invalidInput` for duplicate names, a `__metadata__` tensor name,
    /// a value count that does not match its shape, or an unsupported `floatDType`.
    public static func write(_ tensors: [(String, Tensor)], int64: [Int64Tensor] = [],
                             metadata: [String: String] = [:], floatDType: SafeTensorsDType = .f32,
                             to url: URL) throws {
        let plan = try layout(tensors, int64: int64, floatDType: floatDType, file: url.path)
        let header = headerBytes(plan, metadata: metadata)
        try AtomicFile.write(to: url) { handle in
            var length = UInt64(header.count).littleEndian
            try handle.write(contentsOf: withUnsafeBytes(of: &length) { Data($0) })
            try handle.write(contentsOf: header)
            for item in plan { try handle.write(contentsOf: encode(item)) }
        }
    }

    /// The same bytes `write` would store, in memory (for small files and tests).
    public static func serialize(_ tensors: [(String, Tensor)], int64: [Int64Tensor] = [],
                                 metadata: [String: String] = [:],
                                 floatDType: SafeTensorsDType = .f32) throws -> Data {
        let plan = try layout(tensors, int64: int64, floatDType: floatDType, file: "<memory>")
        let header = headerBytes(plan, metadata: metadata)
        var out = Data()
        var length = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(header)
        for item in plan { out.append(encode(item)) }
        return out
    }

    // MARK: - Layout

    private enum Payload { case floats([Float]), integers([Int64]) }

    private struct Item {
        var name: String, dtype: SafeTensorsDType, shape: [Int], payload: Payload, begin: Int, end: Int
    }

    private static func layout(_ tensors: [(String, Tensor)], int64: [Int64Tensor],
                               floatDType: SafeTensorsDType, file: String) throws -> [Item] {
        guard [.f32, .f16, .bf16].contains(floatDType) else {
            throw FileFormatError.invalidInput(file: file,
                reason: "float tensors can be stored as F32, F16 or BF16, not \(floatDType.rawValue)")
        }
        var items: [Item] = tensors.map {
            Item(name: $0.0, dtype: floatDType, shape: $0.1.shape, payload: .floats($0.1.scalars), begin: 0, end: 0)
        }
        for t in int64 {
            guard t.shape.allSatisfy({ $0 >= 0 }), t.shape.reduce(1, *) == t.values.count else {
                throw FileFormatError.invalidInput(file: file,
                    reason: "tensor \(t.name): shape \(t.shape) does not hold \(t.values.count) values")
            }
            items.append(Item(name: t.name, dtype: .i64, shape: t.shape, payload: .integers(t.values), begin: 0, end: 0))
        }
        var seen = Set<String>()
        for item in items {
            guard item.name != "__metadata__" else {
                throw FileFormatError.invalidInput(file: file, reason: "\"__metadata__\" is reserved, not a tensor name")
            }
            guard seen.insert(item.name).inserted else {
                throw FileFormatError.invalidInput(file: file, reason: "tensor \(item.name) is given twice")
            }
        }
        items.sort { a, b in
            a.dtype != b.dtype ? a.dtype > b.dtype : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var offset = 0
        for i in items.indices {
            items[i].begin = offset
            offset += items[i].shape.reduce(1, *) * items[i].dtype.size
            items[i].end = offset
        }
        return items
    }

    private static func headerBytes(_ items: [Item], metadata: [String: String]) -> Data {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            json += "\"__metadata__\":{" + pairs.joined(separator: ",") + "}"
            first = false
        }
        for item in items {
            if !first { json += "," }
            first = false
            let shape = item.shape.map(String.init).joined(separator: ",")
            json += "\(jsonString(item.name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(item.begin),\(item.end)]}"
        }
        json += "}"
        var data = Data(json.utf8)
        data.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: (8 - data.count % 8) % 8))
        return data
    }

    /// A JSON string literal escaped as serde_json does: `"` `\` and control characters only
    /// (`\n \r \t \b \f`, others as `\u00xx`); everything else, non-ASCII included, is raw UTF-8.
    static func jsonString(_ s: String) -> String { JSONEscaping.quoted(s) }

    // MARK: - Encoding (little-endian)

    private static func encode(_ item: Item) -> Data {
        switch item.payload {
        case .integers(let values):
            return values.map(\.littleEndian).withUnsafeBytes { Data($0) }
        case .floats(let values):
            switch item.dtype {
            case .f16: return values.map { HalfPrecision.f16Bits(from: $0).littleEndian }.withUnsafeBytes { Data($0) }
            case .bf16: return values.map { HalfPrecision.bf16Bits(from: $0).littleEndian }.withUnsafeBytes { Data($0) }
            default: return values.map(\.bitPattern.littleEndian).withUnsafeBytes { Data($0) }
            }
        }
    }
}
