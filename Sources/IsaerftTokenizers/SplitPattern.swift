import Foundation

/// How the matches of a `Split` pattern become pieces (HF `SplitDelimiterBehavior`).
package enum SplitBehavior: String, Decodable, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"

    /// The pieces of a text of `count` bytes given the byte ranges of the pattern's matches (sorted,
    /// non-overlapping), exactly as HF `NormalizedString::split`: the text is tiled by matches and
    /// the gaps between them, `invert` swaps the two roles, the behaviour merges or drops matches,
    /// and empty pieces are dropped.
    package func pieces(count: Int, matches: [Range<Int>], invert: Bool) -> [Range<Int>] {
        var parts: [(range: Range<Int>, isMatch: Bool)] = []
        if count == 0 {
            parts = [(0..<0, false)]
        } else {
            var previous = 0
            for m in matches {
                if previous != m.lowerBound { parts.append((previous..<m.lowerBound, false)) }
                parts.append((m, true))
                previous = m.upperBound
            }
            if previous != count { parts.append((previous..<count, false)) }
        }
        if invert { parts = parts.map { ($0.range, !$0.isMatch) } }
        var out: [Range<Int>] = []
        var previousMatch = false
        switch self {
        case .removed:
            out = parts.filter { !$0.isMatch }.map(\.range)
        case .isolated:
            out = parts.map(\.range)
        case .mergedWithPrevious:
            for (range, isMatch) in parts {
                if isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    out.append(range)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            for (range, isMatch) in parts.reversed() {
                if isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = range.lowerBound..<last.upperBound
                } else {
                    out.append(range)
                }
                previousMatch = isMatch
            }
            out.reverse()
        case .contiguous:
            for (range, isMatch) in parts {
                if isMatch == previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    out.append(range)
                }
                previousMatch = isMatch
            }
        }
        return out.filter { !$0.isEmpty }
    }
}

/// When Metaspace puts its replacement character before a piece (HF `PrependScheme`).
package enum PrependScheme: String, Decodable, Sendable {
    case always, first, never
}

/// What a `Split` (or `Digits`) pre-tokenizer looks for.
package enum SplitPattern: Sendable {
    /// An exact byte string (HF `{"String": …}`, which HF escapes into a regex).
    case literal([UInt8])
    case regex(RegexPattern)
    /// Every single character of Unicode category N* (Rust `char::is_numeric`; the Digits pre-tokenizer).
    case numericCharacter

    /// Byte ranges of the non-overlapping matches, leftmost first.
    package func matches(in text: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        switch self {
        case .literal(let needle):
            guard !needle.isEmpty, text.count >= needle.count else { return [] }
            var out: [Range<Int>] = []
            var i = 0
            while i + needle.count <= text.count {
                var k = 0
                while k < needle.count && text[i + k] == needle[k] { k += 1 }
                if k == needle.count { out.append(i..<(i + needle.count)); i += needle.count } else { i += 1 }
            }
            return out
        case .regex(let regex):
            return regex.matches(in: text)
        case .numericCharacter:
            var out: [Range<Int>] = []
            UTF8Scalars.forEach(text) { start, length, scalar in
                switch scalar.properties.generalCategory {
                case .decimalNumber, .letterNumber, .otherNumber: out.append(start..<(start + length))
                default: break
                }
            }
            return out
        }
    }
}

/// A compiled regular expression (ICU through Foundation's `NSRegularExpression`, which agrees with
/// Oniguruma on the patterns tokenizers use: `\p{L}`, `\p{N}{1,3}`, `(?i:…)`, `(?!\S)`;
/// tokenizers.md §6.3). Matches are reported as UTF-8 byte ranges. Immutable and thread-safe.
package final class RegexPattern: @unchecked Sendable {
    package let pattern: String
    private let regex: NSRegularExpression

    /// Throws the compiler's message when ICU rejects the pattern.
    package init(_ pattern: String) throws {
        self.pattern = pattern
        regex = try NSRegularExpression(pattern: pattern, options: [])
    }

    /// Byte ranges of the matches in `text` (valid UTF-8), leftmost first, non-overlapping.
    package func matches(in text: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        if text.isEmpty { return [] }
        let string = String(decoding: text, as: UTF8.self)
        let utf16Count = string.utf16.count
        let results = regex.matches(in: string, options: [], range: NSRange(location: 0, length: utf16Count))
        if results.isEmpty { return [] }
        if utf16Count == text.count {   // pure ASCII: UTF-16 offsets are byte offsets
            return results.map { $0.range.location..<($0.range.location + $0.range.length) }
        }
        // UTF-16 offset → UTF-8 offset, for every scalar boundary.
        var byteOffset = [Int](repeating: 0, count: utf16Count + 1)
        var u16 = 0
        UTF8Scalars.forEach(text) { start, length, scalar in
            byteOffset[u16] = start
            u16 += scalar.value > 0xFFFF ? 2 : 1
            if u16 <= utf16Count { byteOffset[u16] = start + length }
        }
        return results.map { byteOffset[$0.range.location]..<byteOffset[$0.range.location + $0.range.length] }
    }
}

/// Walking UTF-8 one scalar at a time.
package enum UTF8Scalars {
    /// Calls `body(start, byteLength, scalar)` for each scalar; invalid bytes count as one U+FFFD each.
    @inline(__always)
    package static func forEach(_ text: UnsafeBufferPointer<UInt8>, _ body: (Int, Int, Unicode.Scalar) -> Void) {
        var i = 0
        let n = text.count
        while i < n {
            let (scalar, length) = decode(text, at: i)
            body(i, length, scalar)
            i += length
        }
    }

    /// The scalar starting at byte `i` and its length (1–4), or (U+FFFD, 1) on invalid input.
    @inline(__always)
    package static func decode(_ text: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int) {
        let b0 = text[i]
        if b0 < 0x80 { return (Unicode.Scalar(b0), 1) }
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1
        guard length > 1, i + length <= text.count else { return ("\u{FFFD}", 1) }
        var v = UInt32(b0) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        for k in 1..<length {
            let b = text[i + k]
            guard b & 0xC0 == 0x80 else { return ("\u{FFFD}", 1) }
            v = v << 6 | UInt32(b & 0x3F)
        }
        return (Unicode.Scalar(v) ?? "\u{FFFD}", length)
    }

    /// Byte length of the UTF-8 sequence that starts with `lead` (llama.cpp `unicode_len_utf8`).
    @inline(__always)
    package static func length(lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }
}
