/// GPT-2's byte ↔ printable-symbol table (`bytes_to_unicode` in openai/gpt-2 `encoder.py`,
/// `bytes_char` in HF `tokenizers` `pre_tokenizers/byte_level.rs`).
///
/// Bytes 33…126, 161…172 and 174…255 map to the scalar with the same value; the other 68 bytes
/// (0…32, 127…160, 173) map, in increasing byte order, to U+0100, U+0101, …, U+0143.
/// So space → `Ġ` (U+0120), newline → `Ċ` (U+010A), byte 173 → `Ń` (U+0143).
package enum ByteLevelTable {
    /// byte → symbol scalar.
    package static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 0x100
        for byte in 0..<256 {
            if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// byte → UTF-8 encoding of its symbol (1 or 2 bytes), for building symbol strings quickly.
    package static let byteToSymbolUTF8: [[UInt8]] = byteToScalar.map { Array(String($0).utf8) }

    /// symbol scalar value (0…0x143) → byte, or -1 where the scalar is no symbol.
    package static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in byteToScalar.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    /// The raw bytes spelt by a symbol string (a vocabulary entry), or nil when some scalar is not
    /// a byte symbol (e.g. an added token's literal content with characters outside the table).
    package static func bytes(ofSymbols symbolsUTF8: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(symbolsUTF8.count)
        for scalar in String(decoding: symbolsUTF8, as: UTF8.self).unicodeScalars {
            let v = Int(scalar.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }

    /// The symbol string (as UTF-8) that spells `bytes`.
    package static func symbolUTF8(ofBytes bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out += byteToSymbolUTF8[Int(b)] }
        return out
    }
}
