/// One tensor's entry in a GGUF header.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Sizes in ggml order `[ne0, ne1, …]`, `ne0` contiguous (a 2-D weight is `ne1` rows × `ne0`).
    public let dimensions: [Int]
    public let type: GGMLType
    /// Byte offset from the start of the data section (a multiple of the file's alignment).
    public let offset: Int
    /// Bytes the tensor occupies: `ne0 / blockSize × typeSize × ne1 × ne2 × ne3`.
    public let byteCount: Int

    /// The PyTorch shape: `dimensions` reversed (ggml `[ne0, ne1]` → `[ne1, ne0]`, no transpose).
    public var shape: [Int] { dimensions.reversed() }
    /// Number of elements.
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Elements per row (`ne0`).
    public var rowLength: Int { dimensions.first ?? 1 }
    /// Rows: every dimension but `ne0` multiplied.
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
    /// Bytes per row.
    public var rowBytes: Int { rowLength / (type.blockSize ?? 1) * (type.typeSize ?? 0) }
}

/// The parsed header of a GGUF v2/v3 file (layout: `gguf_init_from_file_impl` in ggml's
/// `ggml/src/gguf.cpp`; `GGUFReader` in the `gguf` Python package).
struct GGUFHeader {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var metadataKeys: [String]
    var tensors: [GGUFTensorInfo]
    var alignment: Int
    var dataStart: Int

    /// ggml's `GGML_MAX_DIMS`.
    static let maxDimensions = 4
    /// `GGUF_DEFAULT_ALIGNMENT`.
    static let defaultAlignment = 32

    /// Parses and validates the header in `raw` (the whole file): magic, version, metadata,
    /// tensor infos, alignment, and that every tensor's bytes lie inside the file.
    static func parse(_ raw: UnsafeRawBufferPointer, file: String) throws -> GGUFHeader {
        var c = GGUFCursor(raw: raw, file: file)
        try c.need(4, "the magic")
        let magic = [raw[0], raw[1], raw[2], raw[3]]
        guard magic == Array("GGUF".utf8) else { throw GGUFError.badMagic(file: file, found: magic) }
        c.pos = 4
        let version = try c.u32("the version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(file: file, version: version) }
        let tensorCount = try c.u64("the tensor count")
        let kvCount = try c.u64("the metadata count")
        // Each KV needs ≥ 13 bytes (key length, type, 1-byte value); each tensor info ≥ 28.
        guard kvCount <= UInt64(raw.count / 13), tensorCount <= UInt64(raw.count / 28) else {
            throw GGUFError.truncatedHeader(file: file, what: "\(kvCount) metadata entries and \(tensorCount) tensor infos",
                                            needed: kvCount &* 13 &+ tensorCount &* 28, available: UInt64(raw.count))
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        for i in 0..<Int(kvCount) {
            let keyBytes = try c.bytes("metadata key \(i)")
            guard let key = String(validating: keyBytes, as: UTF8.self) else {
                throw GGUFError.badMetadata(file: file, key: "#\(i)", reason: "key is not valid UTF-8")
            }
            guard metadata[key] == nil else {
                throw GGUFError.badMetadata(file: file, key: key, reason: "key appears more than once")
            }
            let typeID = try c.u32("the type of \(key)")
            guard let type = GGUFValueType(rawValue: typeID) else {
                throw GGUFError.badMetadata(file: file, key: key, reason: "unknown value type \(typeID)")
            }
            metadata[key] = try c.value(type, key: key)
            keys.append(key)
        }

        var alignment = defaultAlignment
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue, v > 0, v & (v - 1) == 0 else {
                throw GGUFError.badMetadata(file: file, key: "general.alignment", reason: "\(a) is not a power of two")
            }
            alignment = v
        }

        var tensors: [GGUFTensorInfo] = []
        var seen = Set<String>()
        for i in 0..<Int(tensorCount) {
            let info = try c.tensorInfo(index: i, alignment: alignment)
            guard seen.insert(info.name).inserted else {
                throw GGUFError.duplicateTensor(file: file, tensor: info.name)
            }
            tensors.append(info)
        }

        let dataStart = (c.pos + alignment - 1) / alignment * alignment
        try validateRanges(tensors, dataStart: dataStart, fileSize: raw.count, file: file)
        return GGUFHeader(version: version, metadata: metadata, metadataKeys: keys, tensors: tensors,
                          alignment: alignment, dataStart: dataStart)
    }

    /// Every tensor ends inside the file, and no two tensors overlap.
    private static func validateRanges(_ tensors: [GGUFTensorInfo], dataStart: Int, fileSize: Int, file: String) throws {
        for t in tensors {
            let (end, overflow) = dataStart.addingReportingOverflow(t.offset)
            let (last, overflow2) = end.addingReportingOverflow(t.byteCount)
            if overflow || overflow2 || last > fileSize {
                throw GGUFError.tensorOutOfFile(file: file, tensor: t.name,
                                                needed: UInt64(dataStart) &+ UInt64(t.offset) &+ UInt64(t.byteCount),
                                                available: UInt64(fileSize))
            }
        }
        let ordered = tensors.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for (a, b) in zip(ordered, ordered.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw GGUFError.badTensorInfo(file: file, tensor: b.name,
                reason: "bytes at data offset \(b.offset) overlap tensor \(a.name) (\(a.offset)..<\(a.offset + a.byteCount))")
        }
    }
}

/// A bounds-checked little-endian reader over the header bytes.
struct GGUFCursor {
    let raw: UnsafeRawBufferPointer
    let file: String
    var pos = 0

    init(raw: UnsafeRawBufferPointer, file: String) { self.raw = raw; self.file = file }

    /// Throws unless `n` more bytes are available.
    func need(_ n: UInt64, _ what: @autoclosure () -> String) throws {
        if UInt64(raw.count - pos) < n {
            throw GGUFError.truncatedHeader(file: file, what: what(), needed: UInt64(pos) &+ n,
                                            available: UInt64(raw.count))
        }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(UInt64(MemoryLayout<T>.size), what())
        defer { pos += MemoryLayout<T>.size }
        return T(littleEndian: raw.loadUnaligned(fromByteOffset: pos, as: T.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what()) }

    /// A GGUF string: `u64` length, then the bytes (no NUL).
    mutating func bytes(_ what: @autoclosure () -> String) throws -> [UInt8] {
        let n = try u64(what())
        try need(n, what())
        defer { pos += Int(n) }
        return [UInt8](UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + Int(n))]))
    }

    /// One metadata value of `type` (arrays recursively; `gguf_reader` accepts nested arrays).
    mutating func value(_ type: GGUFValueType, key: String) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, key))
        case .int8: return .int8(try load(Int8.self, key))
        case .uint16: return .uint16(try load(UInt16.self, key))
        case .int16: return .int16(try load(Int16.self, key))
        case .uint32: return .uint32(try load(UInt32.self, key))
        case .int32: return .int32(try load(Int32.self, key))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, key)))
        case .bool:
            let b = try load(UInt8.self, key)
            guard b <= 1 else { throw GGUFError.badMetadata(file: file, key: key, reason: "bool byte is \(b)") }
            return .bool(b == 1)
        case .string: return .string(try bytes(key))
        case .uint64: return .uint64(try load(UInt64.self, key))
        case .int64: return .int64(try load(Int64.self, key))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, key)))
        case .array:
            let elementID = try u32("the element type of \(key)")
            guard let element = GGUFValueType(rawValue: elementID) else {
                throw GGUFError.badMetadata(file: file, key: key, reason: "unknown array element type \(elementID)")
            }
            let count = try u64("the length of \(key)")
            let minimum = UInt64(element.fixedSize ?? (element == .string ? 8 : 12))
            let (total, overflow) = count.multipliedReportingOverflow(by: minimum)
            if overflow { throw GGUFError.truncatedHeader(file: file, what: key, needed: .max, available: UInt64(raw.count)) }
            try need(total, "\(count) elements of \(key)")
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { items.append(try value(element, key: key)) }
            return .array(element, items)
        }
    }

    /// `string name; u32 n_dims; u64 ne[n_dims]; u32 type; u64 offset`, validated.
    mutating func tensorInfo(index: Int, alignment: Int) throws -> GGUFTensorInfo {
        let nameBytes = try bytes("the name of tensor \(index)")
        let name = String(decoding: nameBytes, as: UTF8.self)
        func bad(_ reason: String) -> GGUFError { .badTensorInfo(file: file, tensor: name, reason: reason) }
        let rank = try u32("the rank of tensor \(name)")
        guard rank <= UInt32(GGUFHeader.maxDimensions) else {
            throw bad("\(rank) dimensions (at most \(GGUFHeader.maxDimensions))")
        }
        var dims: [Int] = []
        var count = 1
        for _ in 0..<Int(rank) {
            let ne = try u64("the dimensions of tensor \(name)")
            guard ne <= UInt64(Int64.max), case let (p, false) = count.multipliedReportingOverflow(by: Int(ne)) else {
                throw bad("dimension \(ne) overflows the element count")
            }
            dims.append(Int(ne)); count = p
        }
        let typeID = try u32("the type of tensor \(name)")
        let type = GGMLType(id: typeID)
        guard let blockSize = type.blockSize, let typeSize = type.typeSize else {
            throw bad("unknown ggml type id \(typeID)")
        }
        let offset = try u64("the offset of tensor \(name)")
        let rowLength = dims.first ?? 1
        guard rowLength % blockSize == 0 else {
            throw bad("row of \(rowLength) elements is not a whole number of \(type.name) blocks (\(blockSize))")
        }
        guard offset <= UInt64(Int64.max), Int(offset) % alignment == 0 else {
            throw bad("data offset \(offset) is not a multiple of the alignment \(alignment)")
        }
        guard case let (bytes, false) = (count / blockSize).multipliedReportingOverflow(by: typeSize) else {
            throw bad("byte size overflows")
        }
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(offset), byteCount: bytes)
    }
}
