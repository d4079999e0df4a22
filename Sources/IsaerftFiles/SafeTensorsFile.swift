import Foundation
import IsaerftCore

/// A safetensors file opened read-only and memory-mapped; tensors are converted on demand.
///
/// The header is parsed and fully validated when the file is opened (see `SafeTensorsHeader`), so
/// every later read stays inside the file. Format: `u64` little-endian header length `N`, `N` bytes
/// of JSON, then the data section; offsets are relative to byte `8 + N`; data is row-major and
/// little-endian (huggingface/safetensors, README "Format").
///
/// ```swift
/// let file = try SafeTensorsFile(url: url)
/// let w = try file.tensor("h.0.attn.c_attn.weight")   // any float dtype → fp32
/// ```
public struct SafeTensorsFile: Sendable {
    /// Where the file was read from (a symlink in an HF cache snapshot is read through).
    public let url: URL
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// Tensor names, sorted byte-wise.
    public let names: [String]
    private let entries: [String: TensorInfo]
    private let bytes: Data
    private let dataStart: Int

    /// Opens and validates `url`. The file is memory-mapped, not copied.
    public init(url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw FileFormatError.unreadable(file: url.path, reason: Self.reason(error))
        }
        try self.init(data: data, url: url)
    }

    /// Reads a safetensors image already in memory; `url` only names it in errors.
    public init(data: Data, url: URL) throws {
        let parsed = try data.withUnsafeBytes { try SafeTensorsHeader.parse($0, file: url.path) }
        self.url = url
        self.bytes = data
        self.dataStart = 8 + parsed.headerLength
        self.metadata = parsed.metadata
        self.entries = Dictionary(uniqueKeysWithValues: parsed.entries.map { ($0.name, $0) })
        self.names = parsed.entries.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The entry for `name`, or nil when the file has no such tensor.
    public func info(_ name: String) -> TensorInfo? { entries[name] }

    /// All entries in data order (by start offset, then name).
    public var infos: [TensorInfo] {
        entries.values.sorted { ($0.byteRange.lowerBound, $0.name) < ($1.byteRange.lowerBound, $1.name) }
    }

    /// The tensor `name` converted to fp32. F16 and BF16 widen exactly; F64 rounds to nearest;
    /// integer and BOOL values convert as `Float(value)`. F8 types throw `unsupportedConversion`.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try require(name)
        guard info.dtype.convertsToFloat else {
            throw FileFormatError.unsupportedConversion(file: url.path, tensor: name,
                                                        dtype: info.dtype.rawValue, target: "F32")
        }
        let n = info.count
        let start = dataStart + info.byteRange.lowerBound
        let values = bytes.withUnsafeBytes { raw -> [Float] in
            let src = UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.byteRange.count)])
            return [Float](unsafeUninitializedCapacity: n) { out, initialised in
                Self.convertToFloat(src, dtype: info.dtype, into: out)
                initialised = n
            }
        }
        return Tensor(shape: info.shape, scalars: values)
    }

    /// The integer tensor `name` as Int64 values (from I64, I32, I16, I8, U64, U32, U16, U8, BOOL).
    /// Float dtypes throw `unsupportedConversion`; a U64 value above `Int64.max` throws.
    public func int64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let info = try require(name)
        guard info.dtype.isInteger else {
            throw FileFormatError.unsupportedConversion(file: url.path, tensor: name,
                                                        dtype: info.dtype.rawValue, target: "I64")
        }
        let n = info.count
        let start = dataStart + info.byteRange.lowerBound
        let values = bytes.withUnsafeBytes { raw -> [Int64] in
            let src = UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.byteRange.count)])
            return (0..<n).map { i in Self.loadInteger(src, i, dtype: info.dtype) }
        }
        if info.dtype == .u64, let bad = values.firstIndex(where: { $0 < 0 }) {
            throw FileFormatError.valueOutOfRange(file: url.path, tensor: name,
                reason: "U64 element \(bad) is above Int64.max")
        }
        return (info.shape, values)
    }

    /// Calls `body` with the raw little-endian bytes of tensor `name` (valid only inside `body`).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try require(name)
        let start = dataStart + info.byteRange.lowerBound
        return try bytes.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.byteRange.count)]))
        }
    }

    private func require(_ name: String) throws -> TensorInfo {
        guard let info = entries[name] else {
            throw FileFormatError.missingTensor(file: url.path, tensor: name)
        }
        return info
    }

    private static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }

    // MARK: - Conversions (pointers only inside the caller's scoped closures)

    private static func convertToFloat(_ src: UnsafeRawBufferPointer, dtype: SafeTensorsDType,
                                       into out: UnsafeMutableBufferPointer<Float>) {
        let n = out.count
        func u16(_ i: Int) -> UInt16 { UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        func u32(_ i: Int) -> UInt32 { UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        func u64(_ i: Int) -> UInt64 { UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        switch dtype {
        case .f32:
            #if _endian(little)
            if n > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: src) }
            #else
            for i in 0..<n { out[i] = Float(bitPattern: u32(i)) }
            #endif
        case .f16: for i in 0..<n { out[i] = HalfPrecision.float(fromF16: u16(i)) }
        case .bf16: for i in 0..<n { out[i] = HalfPrecision.float(fromBF16: u16(i)) }
        case .f64: for i in 0..<n { out[i] = Float(Double(bitPattern: u64(i))) }
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64:
            for i in 0..<n { out[i] = Float(loadInteger(src, i, dtype: dtype)) }
        case .u64: for i in 0..<n { out[i] = Float(u64(i)) }
        case .f8e5m2, .f8e4m3: preconditionFailure("F8 conversion is rejected before this point")
        }
    }

    /// Element `i` of an integer-typed buffer as Int64 (U64 reinterpreted; the caller checks sign).
    private static func loadInteger(_ src: UnsafeRawBufferPointer, _ i: Int, dtype: SafeTensorsDType) -> Int64 {
        switch dtype {
        case .bool, .u8: Int64(src[i])
        case .i8: Int64(Int8(bitPattern: src[i]))
        case .i16: Int64(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        case .u16: Int64(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        case .i32: Int64(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        case .u32: Int64(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .i64: Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
        case .u64: Int64(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        default: preconditionFailure("loadInteger: \(dtype) is not an integer type")
        }
    }
}
