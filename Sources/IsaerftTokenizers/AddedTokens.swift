/// Splits added (special) tokens out of the raw text before pre-tokenisation, as HF `tokenizers`
/// `tokenizer/added_vocabulary.rs` (`find_matches`, `extract_and_normalize`) does:
///
/// - two passes: tokens with `normalized: false` on the raw text, then tokens with
///   `normalized: true` inside the remaining gaps after normalisation (`EncodingPipeline`);
/// - in each pass, non-overlapping leftmost-longest matches (HF uses Aho-Corasick
///   `MatchKind::LeftmostLongest`) over bytes; after a match, even a rejected one, the search
///   resumes at its end;
/// - a special token is matched but skipped when `parseSpecial` is false (HF
///   `encode_special_tokens = true`); a `single_word` token is skipped when a word character
///   (`\w`: Alphabetic, marks, Nd, Pc, Join_Control) touches it inside the current fragment;
/// - `lstrip` swallows the whitespace run before the token (not past the previous match),
///   `rstrip` the run after it; whitespace = Unicode White_Space (Rust `regex` `\s`).
package struct AddedTokenMatcher: Sendable {
    package struct Entry: Sendable {
        package var id: Int
        package var content: [UInt8]
        package var singleWord = false, lstrip = false, rstrip = false, normalized = true, special = false

        package init(id: Int, content: [UInt8], singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                     normalized: Bool = true, special: Bool = false) {
            self.id = id; self.content = content; self.singleWord = singleWord; self.lstrip = lstrip
            self.rstrip = rstrip; self.normalized = normalized; self.special = special
        }
    }

    package enum Segment: Equatable, Sendable {
        case token(Int)
        case text(Range<Int>)
    }

    /// One pass's tokens, indexed by first byte, longest first.
    private struct Pass: Sendable {
        var entries: [Entry] = []
        var byFirstByte: [[Int]] = Array(repeating: [], count: 256)
        var isEmpty: Bool { entries.isEmpty }

        init(_ list: [Entry]) {
            entries = list.filter { !$0.content.isEmpty }
            for (k, e) in entries.enumerated() { byFirstByte[Int(e.content[0])].append(k) }
            for b in 0..<256 { byFirstByte[b].sort { entries[$0].content.count > entries[$1].content.count } }
        }
    }

    private let raw: Pass
    private let normalizedPass: Pass
    package var isEmpty: Bool { raw.isEmpty && normalizedPass.isEmpty }

    /// Later entries with the same content replace earlier ones.
    package init(_ entries: [Entry]) {
        var unique: [[UInt8]: Entry] = [:]
        var order: [[UInt8]] = []
        for e in entries {
            if unique[e.content] == nil { order.append(e.content) }
            unique[e.content] = e
        }
        let list = order.map { unique[$0]! }
        raw = Pass(list.filter { !$0.normalized })
        normalizedPass = Pass(list.filter { $0.normalized })
    }

    /// Pass 1 alone: tokens with `normalized: false`, matched on the raw text.
    package func splitRaw(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Segment] {
        if text.isEmpty { return [] }
        return Self.find(raw, in: text, 0..<text.count, parseSpecial: parseSpecial)
    }

    /// Pass 2 alone: tokens with `normalized: true` (whose content the caller has normalised),
    /// matched inside `range` of the normalised text.
    package func splitNormalized(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, parseSpecial: Bool) -> [Segment] {
        Self.find(normalizedPass, in: text, range, parseSpecial: parseSpecial)
    }

    /// The text split into added tokens and the (non-empty) text between them (both passes on the
    /// raw text: right when there is no normalizer).
    package func split(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Segment] {
        if text.isEmpty { return [] }
        if isEmpty { return [.text(0..<text.count)] }
        var out: [Segment] = []
        for segment in Self.find(raw, in: text, 0..<text.count, parseSpecial: parseSpecial) {
            guard case .text(let range) = segment else { out.append(segment); continue }
            out += Self.find(normalizedPass, in: text, range, parseSpecial: parseSpecial)
        }
        return out
    }

    private static func find(_ pass: Pass, in text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                             parseSpecial: Bool) -> [Segment] {
        if pass.isEmpty { return range.isEmpty ? [] : [.text(range)] }
        var out: [Segment] = []
        var startOffset = range.lowerBound
        var p = range.lowerBound
        while p < range.upperBound {
            let candidates = pass.byFirstByte[Int(text[p])]
            guard let k = candidates.first(where: { matches(pass.entries[$0].content, text, at: p, limit: range.upperBound) })
            else { p += 1; continue }
            let entry = pass.entries[k]
            var start = p, stop = p + entry.content.count
            p = stop
            if entry.special && !parseSpecial { continue }
            if entry.singleWord {
                let wordBefore = start > range.lowerBound && isWordChar(scalarBefore(start, text))
                let wordAfter = stop < range.upperBound && isWordChar(scalarAt(stop, text))
                if wordBefore || wordAfter { continue }
            }
            if entry.lstrip {
                while start > startOffset {
                    let before = previousScalarStart(start, text)
                    guard scalarAt(before, text).properties.isWhitespace else { break }
                    start = before
                }
            }
            if entry.rstrip {
                while stop < range.upperBound, scalarAt(stop, text).properties.isWhitespace {
                    stop = min(stop + scalarLength(text[stop]), range.upperBound)
                }
            }
            start = max(start, startOffset)
            if startOffset < start { out.append(.text(startOffset..<start)) }
            out.append(.token(entry.id))
            startOffset = stop
            p = max(p, stop)
        }
        if startOffset < range.upperBound { out.append(.text(startOffset..<range.upperBound)) }
        return out
    }

    private static func matches(_ content: [UInt8], _ text: UnsafeBufferPointer<UInt8>, at p: Int, limit: Int) -> Bool {
        guard p + content.count <= limit else { return false }
        for k in 0..<content.count where text[p + k] != content[k] { return false }
        return true
    }

    /// Rust `regex` Unicode `\w`.
    private static func isWordChar(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    private static func scalarLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }

    private static func scalarAt(_ i: Int, _ text: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
        let len = min(scalarLength(text[i]), text.count - i)
        if len == 1 { return Unicode.Scalar(text[i]) }
        var v = UInt32(text[i]) & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07)
        for k in 1..<len { v = v << 6 | UInt32(text[i + k] & 0x3F) }
        return Unicode.Scalar(v) ?? "\u{FFFD}"
    }

    private static func previousScalarStart(_ i: Int, _ text: UnsafeBufferPointer<UInt8>) -> Int {
        var j = i - 1
        while j > 0, text[j] & 0xC0 == 0x80 { j -= 1 }
        return j
    }

    private static func scalarBefore(_ i: Int, _ text: UnsafeBufferPointer<UInt8>) -> Unicode.Scalar {
        scalarAt(previousScalarStart(i, text), text)
    }
}
