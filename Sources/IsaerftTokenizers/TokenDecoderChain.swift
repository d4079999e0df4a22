/// One decoder of a SentencePiece-style `tokenizer.json` (HF `decoders/*.rs`), acting on the list
/// of token strings (kept as UTF-8 bytes).
package enum TokenDecoderStep: Sendable, Equatable {
    /// Every occurrence of `pattern` in each token (Gemma: `"▁"` → `" "`).
    case replace(pattern: [UInt8], content: [UInt8])
    /// Runs of `<0xXX>` tokens become their bytes: the run's text when it is valid UTF-8, else one
    /// U+FFFD per byte (HF `ByteFallback`, which differs from a lossy UTF-8 decode).
    case byteFallback
    /// All tokens joined into one.
    case fuse
    /// Up to `start` leading and `stop` trailing `content` characters removed from each token.
    case strip(content: [UInt8], start: Int, stop: Int)
    /// `replacement` → space; in the first token (unless `never`) every replacement is dropped.
    case metaspace(replacement: [UInt8], prependScheme: PrependScheme)
}

/// The decoder chain of a SentencePiece-style tokenizer. The default (`gemma`) is Gemma's
/// `Sequence[Replace("▁", " "), ByteFallback, Fuse]`.
package struct TokenDecoderChain: Sendable, Equatable {
    package var steps: [TokenDecoderStep]

    package init(_ steps: [TokenDecoderStep]) { self.steps = steps }

    package static let metaspaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]   // U+2581 ▁
    package static let gemma = TokenDecoderChain([.replace(pattern: metaspaceSymbol, content: [0x20]), .byteFallback, .fuse])

    /// The text of a list of token pieces. With no steps (a `null` decoder) HF joins tokens with spaces.
    package func decode(_ pieces: [[UInt8]]) -> String {
        if steps.isEmpty { return String(decoding: Array(pieces.joined(separator: [0x20])), as: UTF8.self) }
        var tokens = pieces
        for step in steps {
            switch step {
            case let .replace(pattern, content):
                tokens = tokens.map { Self.replacing(pattern, with: content, in: $0) }
            case .byteFallback:
                tokens = Self.byteFallback(tokens)
            case .fuse:
                tokens = [tokens.flatMap { $0 }]
            case let .strip(content, start, stop):
                tokens = tokens.map { Self.strip(content, start: start, stop: stop, $0) }
            case let .metaspace(replacement, scheme):
                tokens = tokens.enumerated().map { i, token in
                    Self.replacing(replacement, with: i == 0 && scheme != .never ? [] : [0x20], in: token)
                }
            }
        }
        return String(decoding: tokens.flatMap { $0 }, as: UTF8.self)
    }

    /// The bytes one token contributes when decoded on its own in the middle of a text: its byte for
    /// `<0xXX>` (with ByteFallback), else its piece with replacements applied (Fuse/Strip ignored).
    package func bytes(ofPiece piece: [UInt8]) -> [UInt8] {
        var token = piece
        for step in steps {
            switch step {
            case let .replace(pattern, content): token = Self.replacing(pattern, with: content, in: token)
            case .byteFallback: if let b = Self.byteValue(token) { return [b] }
            case let .metaspace(replacement, _): token = Self.replacing(replacement, with: [0x20], in: token)
            case .fuse, .strip: break
            }
        }
        return token
    }

    /// The byte of a `<0xXX>` token (exactly six bytes, two hex digits), else nil.
    package static func byteValue(_ token: [UInt8]) -> UInt8? {
        guard token.count == 6, token[0] == 0x3C, token[1] == 0x30, token[2] == 0x78, token[5] == 0x3E,
              let hi = hexDigit(token[3]), let lo = hexDigit(token[4]) else { return nil }
        return hi << 4 | lo
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x37
        case 0x61...0x66: c - 0x57
        default: nil
        }
    }

    private static func byteFallback(_ tokens: [[UInt8]]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var pending: [UInt8] = []
        func flush() {
            if pending.isEmpty { return }
            if String(decoding: pending, as: UTF8.self).utf8.elementsEqual(pending) {   // valid UTF-8
                out.append(pending)
            } else {
                out += Array(repeating: [0xEF, 0xBF, 0xBD], count: pending.count)   // U+FFFD per byte
            }
            pending.removeAll()
        }
        for token in tokens {
            if let b = byteValue(token) { pending.append(b); continue }
            flush()
            out.append(token)
        }
        flush()
        return out
    }

    private static func replacing(_ pattern: [UInt8], with content: [UInt8], in token: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, token.count >= pattern.count else { return token }
        var out: [UInt8] = []
        out.reserveCapacity(token.count)
        var i = 0
        while i < token.count {
            if i + pattern.count <= token.count, token[i..<(i + pattern.count)].elementsEqual(pattern) {
                out += content
                i += pattern.count
            } else {
                out.append(token[i])
                i += 1
            }
        }
        return out
    }

    private static func strip(_ content: [UInt8], start: Int, stop: Int, _ token: [UInt8]) -> [UInt8] {
        var lo = 0, hi = token.count
        for _ in 0..<start {
            guard hi - lo >= content.count, token[lo..<(lo + content.count)].elementsEqual(content) else { break }
            lo += content.count
        }
        for _ in 0..<stop {
            guard hi - lo >= content.count, token[(hi - content.count)..<hi].elementsEqual(content) else { break }
            hi -= content.count
        }
        return Array(token[lo..<hi])
    }
}
