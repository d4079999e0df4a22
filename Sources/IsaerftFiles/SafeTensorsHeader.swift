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
/// The header is decoded with `JSONDecoder` in one pass (`HeaderJSON`); sizes and offsets must
/// decode as `UInt64`, so negative, fractional and boolean values are refused.
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
        let decoder = JSONDecoder()
        decoder.userInfo[HeaderJSON.fileKey] = file
        let json: HeaderJSON
        do {
            json = try decoder.decode(HeaderJSON.self, from: Data(text.utf8))
        } catch let error as FileFormatError {
            throw error
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw FileFormatError.badHeader(file: file, reason: "header is not a JSON object")
        } catch {
            throw FileFormatError.badHeader(file: file, reason: "header is not valid JSON")
        }
        let dataBytes = size - 8 - n
        let entries = try json.entries.map { try validate($0, dataBytes: dataBytes, file: file) }
        try checkOverlaps(entries, file: file)
        return Parsed(headerLength: Int(n), entries: entries, metadata: json.metadata)
    }

    /// Checks one entry's dtype, offsets and bounds.
    private static func validate(_ raw: HeaderJSON.Entry, dataBytes: UInt64, file: String) throws -> TensorInfo {
        let name = raw.name
        guard let dtype = SafeTensorsDType(rawValue: raw.dtype) else {
            throw FileFormatError.badDType(file: file, tensor: name, dtype: raw.dtype)
        }
        guard raw.shape.allSatisfy({ $0 <= UInt64(Int.max) }) else {
            throw FileFormatError.badEntry(file: file, tensor: name, reason: "shape \(raw.shape) is too large")
        }
        let shape = raw.shape.map { Int($0) }
        let (begin, end) = (raw.begin, raw.end)
        // product(shape) × size, with overflow reported as a mismatch rather than a trap.
        var expected: UInt64? = UInt64(dtype.size)
        for d in raw.shape {
            guard let e = expected else { break }
            let (p, overflow) = e.multipliedReportingOverflow(by: d)
            expected = overflow ? nil : p
        }
        guard let expectedBytes = expected, end >= begin, end - begin == expectedBytes else {
            throw FileFormatError.offsetMismatch(file: file, tensor: name, dtype: raw.dtype, shape: shape,
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

/// The header decoded in one pass: `__metadata__` as a string map, every other key as an entry.
/// Malformed parts throw `FileFormatError` naming the tensor (the file name comes via `userInfo`).
/// Integers decode as `UInt64`, so negative, fractional or boolean sizes and offsets are refused.
struct HeaderJSON: Decodable {
    static let fileKey = CodingUserInfoKey(rawValue: "isaerft.file")!

    struct Entry { var name: String, dtype: String, shape: [UInt64], begin: UInt64, end: UInt64 }

    var metadata: [String: String] = [:]
    var entries: [Entry] = []

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private enum EntryKey: String, CodingKey { case dtype, shape, data_offsets }

    init(from decoder: any Decoder) throws {
        let file = decoder.userInfo[Self.fileKey] as? String ?? "<memory>"
        let c = try decoder.container(keyedBy: Key.self)
        entries.reserveCapacity(c.allKeys.count)
        for key in c.allKeys {
            let name = key.stringValue
            if name == "__metadata__" {
                guard let m = try? c.decode([String: String].self, forKey: key) else {
                    throw FileFormatError.badHeader(file: file, reason: "__metadata__ must be a JSON object of strings")
                }
                metadata = m
                continue
            }
            func bad(_ reason: String) -> FileFormatError { .badEntry(file: file, tensor: name, reason: reason) }
            guard let e = try? c.nestedContainer(keyedBy: EntryKey.self, forKey: key) else {
                throw bad("entry is not a JSON object")
            }
            guard let dtype = try? e.decode(String.self, forKey: .dtype) else { throw bad("missing or non-string \"dtype\"") }
            guard let shape = try? e.decode([UInt64].self, forKey: .shape) else {
                throw bad("\"shape\" must be an array of non-negative integers")
            }
            guard let offsets = try? e.decode([UInt64].self, forKey: .data_offsets), offsets.count == 2 else {
                throw bad("\"data_offsets\" must be two non-negative integers")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1]))
        }
    }
}
