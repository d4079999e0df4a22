import Foundation

/// A `tokenizer.json` normalizer, applied to each fragment of text between added tokens (HF
/// `normalizers/*.rs`). Works on UTF-8 bytes; input and output are valid UTF-8.
///
/// Unicode forms use Foundation (`precomposedStringWithCanonicalMapping` = NFC, …), whose ICU tables
/// may differ from Rust's `unicode-normalization` crate for characters newer than either.
package indirect enum TextNormalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    /// Per-character full lowercase mapping (Rust `char::to_lowercase`, no context rules).
    case lowercase
    /// Removes White_Space characters at the start and/or end.
    case strip(left: Bool, right: Bool)
    /// Every occurrence of a literal byte string (Gemma: `" "` → `"▁"`).
    case replace(pattern: [UInt8], content: [UInt8])
    /// Every match of a regular expression.
    case replaceRegex(RegexPattern, content: [UInt8])
    /// Prepends a string to non-empty text (Llama 2: `"▁"`).
    case prepend([UInt8])
    case sequence([TextNormalizer])

    package func apply(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc, .nfd, .nfkc, .nfkd:
            if text.allSatisfy({ $0 < 0x80 }) { return text }   // ASCII is invariant under all four forms
            let s = String(decoding: text, as: UTF8.self)
            let out: String
            switch self {
            case .nfc: out = s.precomposedStringWithCanonicalMapping
            case .nfd: out = s.decomposedStringWithCanonicalMapping
            case .nfkc: out = s.precomposedStringWithCompatibilityMapping
            default: out = s.decomposedStringWithCompatibilityMapping
            }
            return Array(out.utf8)
        case .lowercase:
            var out: [UInt8] = []
            out.reserveCapacity(text.count)
            text.withUnsafeBufferPointer { buf in
                UTF8Scalars.forEach(buf) { start, length, scalar in
                    if scalar.value < 0x80 {
                        let b = buf[start]
                        out.append(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
                    } else {
                        out += Array(scalar.properties.lowercaseMapping.utf8)
                    }
                }
            }
            return out
        case let .strip(left, right):
            var start = 0, end = text.count
            text.withUnsafeBufferPointer { buf in
                var spans: [(Int, Int, Bool)] = []
                UTF8Scalars.forEach(buf) { s, n, scalar in spans.append((s, n, scalar.properties.isWhitespace)) }
                if left, let firstKept = spans.firstIndex(where: { !$0.2 }) { start = spans[firstKept].0 }
                else if left { start = end }
                if right, let lastKept = spans.lastIndex(where: { !$0.2 }) { end = spans[lastKept].0 + spans[lastKept].1 }
                else if right { end = start }
            }
            return start < end ? Array(text[start..<end]) : []
        case let .replace(pattern, content):
            let ranges = text.withUnsafeBufferPointer { SplitPattern.literal(pattern).matches(in: $0) }
            return Self.replacing(ranges, in: text, with: content)
        case let .replaceRegex(regex, content):
            let ranges = text.withUnsafeBufferPointer { regex.matches(in: $0) }
            return Self.replacing(ranges, in: text, with: content)
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .sequence(let parts):
            return parts.reduce(text) { $1.apply($0) }
        }
    }

    private static func replacing(_ ranges: [Range<Int>], in text: [UInt8], with content: [UInt8]) -> [UInt8] {
        if ranges.isEmpty { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count + ranges.count * content.count)
        var previous = 0
        for r in ranges {
            out += text[previous..<r.lowerBound]
            out += content
            previous = r.upperBound
        }
        out += text[previous...]
        return out
    }
}
