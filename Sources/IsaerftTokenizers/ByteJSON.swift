/// A small JSON reader over raw bytes, used only for vocabularies (`vocab.json`, and `model.vocab`
/// inside `tokenizer.json`).
///
/// Why not `JSONDecoder` into `[String: Int]`: Swift `String` equality and hashing are canonical
/// equivalence, so a `String`-keyed dictionary silently merges distinct tokens such as `"\u{E9}"`
/// and `"e\u{301}"` (tokenizers.md §6.1). Here object keys come back as their exact UTF-8 bytes,
/// in file order. Strict RFC 8259 strings: escapes `\" \\ \/ \b \f \n \r \t \uXXXX` (surrogate
/// pairs combined; a lone surrogate is an error, as in serde_json, which HF `tokenizers` uses).
package struct ByteJSON {
    package struct ParseError: Error { package let offset: Int; package let reason: String }

    private let bytes: [UInt8]
    private var pos = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses a top-level object `{ "token": id, … }` into (token bytes, id) pairs, in file order.
    package static func stringToIntObject(_ bytes: [UInt8]) throws(ParseError) -> [([UInt8], Int)] {
        var reader = ByteJSON(bytes)
        let entries = try reader.readStringIntObject()
        try reader.expectEnd()
        return entries
    }

    /// Finds the value at `path` (object keys from the top level, e.g. `["model", "vocab"]`) and
    /// parses it as an object of string → integer. Returns nil when some key on the path is absent.
    package static func stringToIntObject(_ bytes: [UInt8], at path: [String]) throws(ParseError) -> [([UInt8], Int)]? {
        var reader = ByteJSON(bytes)
        for key in path {
            guard try reader.seekMember(Array(key.utf8)) else { return nil }
        }
        return try reader.readStringIntObject()
    }

    /// The first syntax error in a JSON document, or nil when it is well formed (used to say where
    /// `JSONDecoder`'s "not valid JSON" is).
    package static func syntaxError(in bytes: [UInt8]) -> ParseError? {
        var reader = ByteJSON(bytes)
        do {
            try reader.skipValue()
            try reader.expectEnd()
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Navigation

    /// At an object: advances to the value of member `key` (the first one if the key repeats).
    /// Returns false, at the end of the object, if absent.
    private mutating func seekMember(_ key: [UInt8]) throws(ParseError) -> Bool {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { pos += 1; return false }
        while true {
            skipWhitespace()
            let name = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            if name == key { return true }
            try skipValue()
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { pos += 1; continue }
            try expect(UInt8(ascii: "}"))
            return false
        }
    }

    private mutating func readStringIntObject() throws(ParseError) -> [([UInt8], Int)] {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        var out: [([UInt8], Int)] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { pos += 1; return out }
        while true {
            skipWhitespace()
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            out.append((key, try readInt()))
            skipWhitespace()
            if peek() == UInt8(ascii: ",") { pos += 1; continue }
            try expect(UInt8(ascii: "}"))
            return out
        }
    }

    // MARK: - Values

    private mutating func skipValue() throws(ParseError) {
        skipWhitespace()
        guard let c = peek() else { throw fail("unexpected end of data") }
        switch c {
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            pos += 1
            skipWhitespace()
            if peek() == close { pos += 1; return }
            while true {
                skipWhitespace()
                if close == UInt8(ascii: "}") {
                    _ = try readString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"))
                }
                try skipValue()
                skipWhitespace()
                if peek() == UInt8(ascii: ",") { pos += 1; continue }
                try expect(close)
                return
            }
        case UInt8(ascii: "t"): try expectWord("true")
        case UInt8(ascii: "f"): try expectWord("false")
        case UInt8(ascii: "n"): try expectWord("null")
        default:
            let start = pos
            while let d = peek(), d == UInt8(ascii: "-") || d == UInt8(ascii: "+") || d == UInt8(ascii: ".")
                    || d == UInt8(ascii: "e") || d == UInt8(ascii: "E") || (48...57).contains(d) { pos += 1 }
            if pos == start { throw fail("unexpected character \(TokenizerError.quoted(String(UnicodeScalar(c))))") }
        }
    }

    private mutating func readInt() throws(ParseError) -> Int {
        var negative = false
        if peek() == UInt8(ascii: "-") { negative = true; pos += 1 }
        var value = 0, digits = 0
        while let d = peek(), (48...57).contains(d) {
            guard value < Int.max / 10 - 10 else { throw fail("integer too large") }
            value = value * 10 + Int(d - 48)
            digits += 1
            pos += 1
        }
        guard digits > 0 else { throw fail("expected an integer token id") }
        if let d = peek(), d == UInt8(ascii: ".") || d == UInt8(ascii: "e") || d == UInt8(ascii: "E") {
            throw fail("expected an integer token id, found a fraction or exponent")
        }
        return negative ? -value : value
    }

    /// Reads a JSON string and returns its exact UTF-8 bytes.
    private mutating func readString() throws(ParseError) -> [UInt8] {
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while true {
            guard let c = peek() else { throw fail("unterminated string") }
            pos += 1
            switch c {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw fail("unterminated escape") }
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard peek() == UInt8(ascii: "\\") else { throw fail("lone leading surrogate in \\u escape") }
                        pos += 1
                        guard peek() == UInt8(ascii: "u") else { throw fail("lone leading surrogate in \\u escape") }
                        pos += 1
                        let low = try readHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair in \\u escape") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw fail("lone trailing surrogate in \\u escape")
                    }
                    out += Array(String(Unicode.Scalar(scalar)!).utf8)
                default:
                    throw fail("invalid escape \\\(String(UnicodeScalar(e)))")
                }
            default:
                guard c >= 0x20 else { throw fail("control character in string") }
                out.append(c)
            }
        }
    }

    private mutating func readHex4() throws(ParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let digit: UInt32
            switch c {
            case 48...57: digit = UInt32(c - 48)
            case 65...70: digit = UInt32(c - 55)
            case 97...102: digit = UInt32(c - 87)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v * 16 + digit
            pos += 1
        }
        return v
    }

    // MARK: - Lexing helpers

    private func peek() -> UInt8? { pos < bytes.count ? bytes[pos] : nil }

    private mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
            pos += 1
        }
    }

    private mutating func expect(_ c: UInt8) throws(ParseError) {
        guard let got = peek() else { throw fail("unexpected end of data, expected '\(Character(UnicodeScalar(c)))'") }
        guard got == c else {
            throw fail("expected '\(Character(UnicodeScalar(c)))', found '\(Character(UnicodeScalar(got)))'")
        }
        pos += 1
    }

    private mutating func expectWord(_ word: String) throws(ParseError) {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, bytes[pos..<(pos + w.count)].elementsEqual(w) else {
            throw fail("invalid literal")
        }
        pos += w.count
    }

    private mutating func expectEnd() throws(ParseError) {
        skipWhitespace()
        if pos != bytes.count { throw fail("unexpected data after the top-level value") }
    }

    private func fail(_ reason: String) -> ParseError { ParseError(offset: pos, reason: reason) }
}
