/// The GPT-2 pre-tokenisation regex, hand-written as a scanner over UTF-8:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// (openai/gpt-2 `encoder.py`; HF `tokenizers` `pre_tokenizers/byte_level.rs`, run by Oniguruma.)
/// Alternatives are tried left to right at each position (leftmost-first, not longest); every
/// position matches some alternative, so the pieces tile the text. Classes, per Unicode scalar:
/// `\p{L}` = general category L*, `\p{N}` = N*, `\s` = the White_Space property (U+0009–U+000D,
/// U+0020, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000; not
/// U+001C–U+001F), as in Oniguruma and Python `regex`. Checked against HF on the llama.cpp cases
/// and `fixtures/tokenizer/gpt2_goldens.json` (tokenizers.md §1.3, §6.3).
package enum GPT2PreTokenizer {
    package enum CharClass: UInt8 { case letter, number, space, other }

    /// ASCII classes, indexed by byte.
    private static let asciiClass: [CharClass] = (0..<128).map { b in
        let s = Unicode.Scalar(UInt8(b))
        return classify(s)
    }

    /// The class of one scalar (slow path; ASCII goes through `asciiClass`).
    package static func classify(_ s: Unicode.Scalar) -> CharClass {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return s.properties.isWhitespace ? .space : .other
        }
    }

    /// Calls `emit` with the byte range of each piece of `text`, in order.
    package static func split(_ text: UnsafeBufferPointer<UInt8>, _ emit: (Range<Int>) -> Void) {
        let n = text.count
        // Class and byte length of the scalar starting at byte i (text is valid UTF-8).
        @inline(__always) func scalar(at i: Int) -> (CharClass, Int) {
            let b0 = text[i]
            if b0 < 0x80 { return (asciiClass[Int(b0)], 1) }
            var v: UInt32, len: Int
            if b0 < 0xE0 { v = UInt32(b0 & 0x1F); len = 2 }
            else if b0 < 0xF0 { v = UInt32(b0 & 0x0F); len = 3 }
            else { v = UInt32(b0 & 0x07); len = 4 }
            len = min(len, n - i)   // never read past the end, even on invalid input
            for k in 1..<max(len, 1) { v = v << 6 | UInt32(text[i + k] & 0x3F) }
            return (classify(Unicode.Scalar(v) ?? "\u{FFFD}"), len)
        }
        // End of the run of scalars of class `c` starting at i.
        @inline(__always) func run(from i: Int, _ c: CharClass) -> Int {
            var j = i
            while j < n {
                let (cj, len) = scalar(at: j)
                if cj != c { break }
                j += len
            }
            return j
        }

        var i = 0
        while i < n {
            let b = text[i]
            // 's|'t|'re|'ve|'m|'ll|'d  (case-sensitive, ASCII apostrophe only)
            if b == UInt8(ascii: "'"), i + 1 < n {
                let c1 = text[i + 1]
                if c1 == UInt8(ascii: "s") || c1 == UInt8(ascii: "t") || c1 == UInt8(ascii: "m") || c1 == UInt8(ascii: "d") {
                    emit(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < n {
                    let c2 = text[i + 2]
                    if (c1 == UInt8(ascii: "r") && c2 == UInt8(ascii: "e")) || (c1 == UInt8(ascii: "v") && c2 == UInt8(ascii: "e"))
                        || (c1 == UInt8(ascii: "l") && c2 == UInt8(ascii: "l")) {
                        emit(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+   (the optional space is U+0020 only)
            let body = b == 0x20 && i + 1 < n ? i + 1 : i
            let (cls, _) = scalar(at: body)
            if cls != .space {
                let end = run(from: body, cls)
                emit(i..<end); i = end; continue
            }
            // \s+(?!\S) | \s+ : a whitespace run, minus its last scalar when a non-space follows
            // and the run has more than one scalar.
            var j = i, lastStart = i, count = 0
            while j < n {
                let (cj, len) = scalar(at: j)
                if cj != .space { break }
                lastStart = j; j += len; count += 1
            }
            let end = j < n && count > 1 ? lastStart : j
            emit(i..<end); i = end
        }
    }
}
