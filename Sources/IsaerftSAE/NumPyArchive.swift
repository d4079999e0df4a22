import Foundation
import IsaerftCore

/// A NumPy `.npz` archive (a zip of `.npy` members, as `np.savez` writes it), memory-mapped.
///
/// Zip structure (PKWARE APPNOTE 6.3): the end-of-central-directory record (`PK\x05\x06`, and the
/// zip64 locator/record when counts or offsets overflow 32 bits) points to the central directory;
/// each central entry (`PK\x01\x02`) gives the method, sizes, name and the offset of a local header
/// (`PK\x03\x04`) whose own name and extra lengths locate the data. `np.savez` stores members
/// uncompressed (method 0, STORED) and forces zip64 local headers; both are read here. Compressed
/// members (`np.savez_compressed`, DEFLATE) are refused with a clear error: there is no zlib binding
/// in this package. CRC-32 values are not checked.
public struct NumPyArchive: Sendable {
    public let url: URL
    /// Member names without the `.npy` suffix (`W_enc`, `b_dec`, …), in archive order.
    public let names: [String]
    private let members: [String: Member]
    private let data: Data

    struct Member: Sendable { var method: UInt16; var compressedSize: Int; var size: Int; var localOffset: Int; var fileName: String }

    public init(url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw SAEError.missingFile(url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, url: url)
    }

    public init(data: Data, url: URL) throws {
        self.url = url
        self.data = data
        let file = url.path
        let entries = try data.withUnsafeBytes { try Self.centralDirectory($0, file: file) }
        var members: [String: Member] = [:], names: [String] = []
        for m in entries {
            let name = m.fileName.hasSuffix(".npy") ? String(m.fileName.dropLast(4)) : m.fileName
            if members[name] == nil { names.append(name) }
            members[name] = m
        }
        self.members = members
        self.names = names
    }

    /// The member `name` (without `.npy`) as an fp32 tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let m = members[name] else { throw SAEError.badNumPy(file: url.path, reason: "no array '\(name)' (has \(names.joined(separator: ", ")))") }
        let label = "\(url.path):\(m.fileName)"
        guard m.method == 0 else {
            throw SAEError.badNumPy(file: label, reason: "member is compressed (zip method \(m.method)\(m.method == 8 ? ", DEFLATE from np.savez_compressed" : "")); only uncompressed np.savez archives are supported — re-save with np.savez")
        }
        return try data.withUnsafeBytes { raw in
            let p = m.localOffset
            guard p + 30 <= raw.count, Self.u32(raw, p) == 0x0403_4B50 else {
                throw SAEError.badNumPy(file: label, reason: "local header at offset \(p) is missing")
            }
            let start = p + 30 + Int(Self.u16(raw, p + 26)) + Int(Self.u16(raw, p + 28))
            guard start + m.size <= raw.count else {
                throw SAEError.badNumPy(file: label, reason: "member data (\(m.size) bytes at \(start)) runs past the end of the file")
            }
            return try NumPyArray.read(UnsafeRawBufferPointer(rebasing: raw[start..<(start + m.size)]), file: label)
        }
    }

    // MARK: - Zip structures

    static func u16(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt16 { UInt16(p[o]) | UInt16(p[o + 1]) << 8 }
    static func u32(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(p[o + $1]) << (8 * UInt32($1)) } }
    static func u64(_ p: UnsafeRawBufferPointer, _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(p[o + $1]) << (8 * UInt64($1)) } }

    static func centralDirectory(_ p: UnsafeRawBufferPointer, file: String) throws -> [Member] {
        func fail(_ why: String) -> SAEError { .badNumPy(file: file, reason: why) }
        // End of central directory: 22 bytes plus a comment of up to 65535 bytes.
        guard p.count >= 22 else { throw fail("not a zip archive (too short)") }
        var eocd = -1
        var o = p.count - 22
        let lowest = max(0, p.count - 22 - 65535)
        while o >= lowest { if u32(p, o) == 0x0605_4B50 { eocd = o; break }; o -= 1 }
        guard eocd >= 0 else { throw fail("not a zip archive (no end-of-central-directory record)") }
        var count = Int(u16(p, eocd + 10))
        var cdSize = Int(u32(p, eocd + 12))
        var cdOffset = Int(u32(p, eocd + 16))
        // Zip64: locator 20 bytes before the EOCD points to the zip64 EOCD record.
        if eocd >= 20, u32(p, eocd - 20) == 0x0706_4B50 {
            let rec = Int(u64(p, eocd - 20 + 8))
            guard rec + 56 <= p.count, u32(p, rec) == 0x0606_4B50 else { throw fail("zip64 end-of-central-directory record is missing") }
            count = Int(u64(p, rec + 32))
            cdSize = Int(u64(p, rec + 40))
            cdOffset = Int(u64(p, rec + 48))
        }
        guard cdOffset + cdSize <= p.count else { throw fail("central directory runs past the end of the file") }
        var members: [Member] = []
        var q = cdOffset
        for _ in 0..<count {
            guard q + 46 <= p.count, u32(p, q) == 0x0201_4B50 else { throw fail("central directory entry at \(q) is malformed") }
            let method = u16(p, q + 10)
            var compressed = Int(u32(p, q + 20)), size = Int(u32(p, q + 24))
            let nameLength = Int(u16(p, q + 28)), extraLength = Int(u16(p, q + 30)), commentLength = Int(u16(p, q + 32))
            var local = Int(u32(p, q + 42))
            guard q + 46 + nameLength + extraLength <= p.count else { throw fail("central directory entry at \(q) is truncated") }
            let name = String(decoding: p[(q + 46)..<(q + 46 + nameLength)], as: UTF8.self)
            // Zip64 extended information (header id 1): the overflowed fields, in order.
            var e = q + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(p, e), len = Int(u16(p, e + 2))
                if id == 1 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF, f + 8 <= e + 4 + len { size = Int(u64(p, f)); f += 8 }
                    if compressed == 0xFFFF_FFFF, f + 8 <= e + 4 + len { compressed = Int(u64(p, f)); f += 8 }
                    if local == 0xFFFF_FFFF, f + 8 <= e + 4 + len { local = Int(u64(p, f)); f += 8 }
                }
                e += 4 + len
            }
            members.append(Member(method: method, compressedSize: compressed, size: size, localOffset: local, fileName: name))
            q += 46 + nameLength + extraLength + commentLength
        }
        return members
    }
}
