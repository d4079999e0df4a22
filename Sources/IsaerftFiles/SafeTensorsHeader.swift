import Foundation

/// One tensor entry of a safetensors header, validated.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Sizes per axis, outermost first (`[]` for a scalar).
    public let shape: [Int]
    /// Byte range relative to the start of the data section (`data_offsets`).
    public let byteRange: Range<Int>
    /// Number of elements, `product(shape)`.
    public var count: Int { shape.reduce(1, *) }
}

/// Parsing and validation of the JSON header, following the Rust crate's `SafeTensors::read_metadata`
/// and `Metadata::validate` (safetensors 0.8.0):
/// - the length prefix is a little-endian u64 and the header may be at most 100,000,000 bytes;
/// - the header is UTF-8 text of a JSON object that starts with `{` (trailing spaces are padding);
/// - every key except `__metadata__` maps to `{"dtype", "shape", "data_offsets": [begin, end]}`,
///   `__metadata__` maps strings to strings;
/// - `end − begin == product(shape) × dtype size` and `end ≤` the data section's size;
/// - byte ranges do not overlap.
/// The Rust crate also rejects gaps between tensors and bytes after the last one; this reader
/// tolerates them (they cannot make a tensor read the wrong bytes) so files from other writers open.
enum SafeTensorsHeader {
    /// The reference implementation's limit on the header length.
    static let maxHeaderBytes: UInt64 = 100_000_000

    struct Parsed {
        var headerLength: Int
        var entries: [TensorInfo]
        var metadata: [String: String]
    }

    /// Parses and validates the header of `bytes` (the whole file). `file` names it in errors.
    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Parsed {
        let size = UInt64(bytes.count)
        guard size >= 8 else { throw FileFormatError.truncated(file: file, needed: 8, available: size) }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n <= maxHeaderBytes else {
            throw FileFormatError.badHeader(file: file,
                reason: "header length \(n) exceeds the 100,000,000-byte limit (corrupt length field?)")
        }
        guard 8 + n <= size else {
            throw FileFormatError.truncated(file: file, needed: 8 + n, available: size)
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + Int(n))])
        guard let text = String(bytes: headerBytes, encoding: .utf8) else {
            throw FileFormatError.badHeader(file: file, reason: "header is not valid UTF-8")
        }
        guard text.utf8.first == UInt8(ascii: "{") else {
            throw FileFormatError.badHeader(file: file, reason: "header does not start with '{'")
        }
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw FileFormatError.badHeader(file: file, reason: "header is not valid JSON")
        }
        guard case .object(let object) = json else {
            throw FileFormatError.badHeader(file: file, reason: "header is not a JSON object")
        }
        let dataBytes = size - 8 - n
        var metadata: [String: String] = [:]
        var entries: [TensorInfo] = []
        entries.reserveCapacity(object.count)
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = try parseMetadata(value, file: file)
            } else {
                entries.append(try parseEntry(name, value, dataBytes: dataBytes, file: file))
            }
        }
        try checkOverlaps(entries, file: file)
        return Parsed(headerLength: Int(n), entries: entries, metadata: metadata)
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws -> [String: String] {
        guard case .object(let map) = value else {
            throw FileFormatError.badHeader(file: file, reason: "__metadata__ is not a JSON object")
        }
        var out: [String: String] = [:]
        for (key, v) in map {
            guard case .string(let s) = v else {
                throw FileFormatError.badHeader(file: file, reason: "__metadata__ value for \"\(key)\" is not a string")
            }
            out[key] = s
        }
        return out
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, dataBytes: UInt64,
                                   file: String) throws -> TensorInfo {
        guard case .object(let fields) = value else {
            throw FileFormatError.badEntry(file: file, tensor: name, reason: "entry is not a JSON object")
        }
        guard case .string(let dtypeName)? = fields["dtype"] else {
            throw FileFormatError.badEntry(file: file, tensor: name, reason: "missing or non-string \"dtype\"")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw FileFormatError.badDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard case .array(let shapeValues)? = fields["shape"] else {
            throw FileFormatError.badEntry(file: file, tensor: name, reason: "missing or non-array \"shape\"")
        }
        let shape64 = shapeValues.map(\.nonNegativeInteger)
        guard shape64.allSatisfy({ $0 != nil && $0! <= UInt64(Int.max) }) else {
            throw FileFormatError.badEntry(file: file, tensor: name, reason: "shape must hold non-negative integers")
        }
        guard case .array(let offsetValues)? = fields["data_offsets"], offsetValues.count == 2,
              let begin = offsetValues[0].nonNegativeInteger, let end = offsetValues[1].nonNegativeInteger
        else {
            throw FileFormatError.badEntry(file: file, tensor: name,
                                           reason: "\"data_offsets\" must be two non-negative integers")
        }
        let shape = shape64.map { Int($0!) }
        // product(shape) × size, with overflow reported as a mismatch rather than a trap.
        var expected: UInt64? = UInt64(dtype.size)
        for d in shape64 {
            guard let e = expected else { break }
            let (p, overflow) = e.multipliedReportingOverflow(by: d!)
            expected = overflow ? nil : p
        }
        guard let expectedBytes = expected, end >= begin, end - begin == expectedBytes else {
            throw FileFormatError.offsetMismatch(file: file, tensor: name, dtype: dtypeName, shape: shape,
                                                 expectedBytes: expected ?? UInt64.max, begin: begin, end: end)
        }
        guard end <= dataBytes else {
            throw FileFormatError.outOfBounds(file: file, tensor: name, end: end, dataBytes: dataBytes)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteRange: Int(begin)..<Int(end))
    }

    /// Sorted by start, a non-empty range overlaps an earlier one iff it starts before the largest
    /// end seen so far. Empty tensors occupy no bytes and overlap nothing.
    private static func checkOverlaps(_ entries: [TensorInfo], file: String) throws {
        let sorted = entries.filter { !$0.byteRange.isEmpty }
            .sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
        var furthest: TensorInfo? = nil
        for e in sorted {
            if let f = furthest, e.byteRange.lowerBound < f.byteRange.upperBound {
                throw FileFormatError.overlap(file: file, first: f.name, second: e.name)
            }
            if furthest == nil || e.byteRange.upperBound > furthest!.byteRange.upperBound { furthest = e }
        }
    }
}

/// A minimal JSON value for header parsing: keeps integers exact (u64 offsets) and tells numbers,
/// booleans and strings apart, which `JSONSerialization`'s `NSNumber` does not.
enum JSONValue: Decodable, Sendable {
    case null, bool(Bool), unsigned(UInt64), signed(Int64), double(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let u = try? c.decode(UInt64.self) { self = .unsigned(u) }
        else if let i = try? c.decode(Int64.self) { self = .signed(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// The value as a non-negative integer, or nil (negative, fractional, or not a number).
    var nonNegativeInteger: UInt64? {
        if case .unsigned(let u) = self { return u }
        return nil
    }
}
