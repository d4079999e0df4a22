import Foundation
import IsaerftCore
import IsaerftFiles

/// Reading NumPy `.npy` arrays (format versions 1.0, 2.0, 3.0) as fp32 tensors.
///
/// Layout (numpy `lib.format`): magic `\x93NUMPY`, major and minor version bytes, the header length
/// (u16 little-endian in 1.0, u32 in 2.0/3.0), then a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2304, 16384), }` padded with spaces and a
/// newline, then the raw data. Supported dtypes: float16/32/64, int8/16/32/64, uint8/16/32/64, bool,
/// either byte order; Fortran-ordered arrays are transposed to row-major.
public enum NumPyArray {
    /// Parses one `.npy` image. `file` names it in errors (for an npz member: `archive.npz:W_enc.npy`).
    public static func read(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Tensor {
        func fail(_ why: String) -> SAEError { .badNumPy(file: file, reason: why) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("not a .npy array (bad magic)") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default: throw fail(".npy format version \(major) is not supported (1, 2, 3)")
        }
        guard headerStart + headerLength <= bytes.count else { throw fail("header of \(headerLength) bytes runs past the end") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let (descr, fortran, shape) = try parseHeader(header, fail: fail)
        let dtype = try DType(descr: descr, fail: fail)
        let count = shape.reduce(1, *)
        let dataStart = headerStart + headerLength
        guard dataStart + count * dtype.size <= bytes.count else {
            throw fail("data needs \(count * dtype.size) bytes for shape \(shape) \(descr), \(bytes.count - dataStart) present")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<(dataStart + count * dtype.size)])
        var values = [Float](repeating: 0, count: count)
        #if _endian(little)
        let native = dtype.kind == .float && dtype.size == 4 && !dtype.bigEndian
        #else
        let native = false
        #endif
        if native {
            values.withUnsafeMutableBytes { $0.copyMemory(from: data) }   // little-endian fp32: bytes as stored
        } else {
            for i in 0..<count { values[i] = dtype.load(data, i) }
        }
        if fortran && shape.count > 1 { values = transposeFortran(values, shape: shape) }
        return Tensor(shape: shape, scalars: values)
    }

    /// Parses `descr`, `fortran_order` and `shape` from the dict literal.
    static func parseHeader(_ h: String, fail: (String) -> SAEError) throws -> (String, Bool, [Int]) {
        func value(of key: String) -> Substring? {
            guard let r = h.range(of: "'\(key)'") ?? h.range(of: "\"\(key)\"") else { return nil }
            var rest = h[r.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst().drop { $0 == " " }
            return rest
        }
        guard let d = value(of: "descr"), let q = d.first, q == "'" || q == "\"",
              let end = d.dropFirst().firstIndex(of: q) else { throw fail("header has no 'descr' string: \(h)") }
        let descr = String(d[d.index(after: d.startIndex)..<end])
        guard let f = value(of: "fortran_order") else { throw fail("header has no 'fortran_order'") }
        let fortran: Bool
        if f.hasPrefix("True") { fortran = true } else if f.hasPrefix("False") { fortran = false } else { throw fail("bad fortran_order in \(h)") }
        guard let s = value(of: "shape"), s.first == "(", let close = s.firstIndex(of: ")") else { throw fail("header has no 'shape' tuple") }
        let inner = s[s.index(after: s.startIndex)..<close]
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "L", with: "")
            if t.isEmpty { continue }
            guard let n = Int(t), n >= 0 else { throw fail("bad shape entry '\(t)' in \(h)") }
            shape.append(n)
        }
        return (descr, fortran, shape)
    }

    /// Column-major values of `shape` → row-major.
    static func transposeFortran(_ v: [Float], shape: [Int]) -> [Float] {
        let rank = shape.count
        var out = [Float](repeating: 0, count: v.count)
        var strides = [Int](repeating: 1, count: rank)   // Fortran strides
        for a in 1..<rank { strides[a] = strides[a - 1] * shape[a - 1] }
        var index = [Int](repeating: 0, count: rank)
        for flat in 0..<v.count {
            var src = 0
            for a in 0..<rank { src += index[a] * strides[a] }
            out[flat] = v[src]
            var a = rank - 1
            while a >= 0 { index[a] += 1; if index[a] < shape[a] { break }; index[a] = 0; a -= 1 }
        }
        return out
    }

    /// A NumPy dtype string (`<f4`, `>i8`, `|b1`, …).
    struct DType {
        enum Kind { case float, signed, unsigned, bool }
        var kind: Kind
        var size: Int
        var bigEndian: Bool

        init(descr: String, fail: (String) -> SAEError) throws {
            guard descr.count >= 3, let order = descr.first, let code = descr.dropFirst().first,
                  let n = Int(descr.dropFirst(2)) else { throw fail("dtype '\(descr)' is not supported") }
            bigEndian = order == ">"
            size = n
            switch (code, n) {
            case ("f", 2), ("f", 4), ("f", 8): kind = .float
            case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
            case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
            case ("b", 1): kind = .bool
            default: throw fail("dtype '\(descr)' is not supported (float16/32/64, int, uint, bool)")
            }
        }

        func load(_ p: UnsafeRawBufferPointer, _ i: Int) -> Float {
            var bits: UInt64 = 0
            for b in 0..<size {
                let byte = UInt64(p[i * size + (bigEndian ? size - 1 - b : b)])
                bits |= byte << (8 * UInt64(b))
            }
            switch kind {
            case .bool: return bits == 0 ? 0 : 1
            case .unsigned: return Float(bits)
            case .signed:
                let shift = UInt64(64 - 8 * size)
                return Float(Int64(bitPattern: bits << shift) >> Int64(shift))
            case .float:
                switch size {
                case 2: return HalfPrecision.float(fromF16: UInt16(truncatingIfNeeded: bits))
                case 4: return Float(bitPattern: UInt32(truncatingIfNeeded: bits))
                default: return Float(Double(bitPattern: bits))
                }
            }
        }
    }
}
