/// One pre-tokenizer of a `tokenizer.json` (a `Sequence` is flattened into a list of these).
package enum PreTokenizerStep: Sendable {
    /// HF `Split {pattern, behavior, invert}` (Llama 3 / Qwen2 regexes, Gemma's `" "` split).
    case split(SplitPattern, SplitBehavior, invert: Bool)
    /// HF `Metaspace`: spaces become `replacement`, which is prepended per `prependScheme` and,
    /// with `split`, starts each piece (MergedWithNext).
    case metaspace(replacement: [UInt8], prependScheme: PrependScheme, split: Bool)
    /// HF `ByteLevel`: a space prepended when `addPrefixSpace` and the piece does not start with one,
    /// then the GPT-2 regex when `useRegex`. (The byte → symbol mapping is the byte-level model's job.)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)

    /// Whether the step only cuts its input (no bytes added or replaced).
    var onlyCuts: Bool {
        switch self {
        case .split: true
        case .metaspace: false
        case .byteLevel(let addPrefixSpace, _): !addPrefixSpace
        }
    }
}

/// A chain of pre-tokenizers applied to one fragment of (normalised) text, as HF
/// `PreTokenizedString::split`: each step cuts every current piece further; empty pieces are dropped.
/// `startsText` tells whether the fragment begins at byte 0 of the caller's text (Metaspace's
/// `prepend_scheme: first` only prepends there).
package struct PreTokenizer: Sendable {
    package var steps: [PreTokenizerStep]
    private let cutsOnly: Bool

    package init(_ steps: [PreTokenizerStep]) {
        self.steps = steps
        cutsOnly = steps.allSatisfy(\.onlyCuts)
    }

    /// Calls `emit` with each non-empty piece, in order.
    package func run(_ text: UnsafeBufferPointer<UInt8>, startsText: Bool,
                     _ emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        if text.isEmpty { return }
        if steps.isEmpty { emit(text); return }
        if steps.count == 1, case let .byteLevel(addPrefixSpace, useRegex) = steps[0] {   // GPT-2: no copies
            if addPrefixSpace && text[0] != 0x20 {
                let prefixed = [0x20] + Array(text)
                prefixed.withUnsafeBufferPointer { Self.byteLevel($0, useRegex: useRegex, emit) }
            } else {
                Self.byteLevel(text, useRegex: useRegex, emit)
            }
            return
        }
        if cutsOnly {   // Llama 3 / Qwen2: pieces stay ranges of `text`
            var ranges = [0..<text.count]
            for step in steps {
                var next: [Range<Int>] = []
                next.reserveCapacity(ranges.count * 2)
                for r in ranges {
                    let piece = UnsafeBufferPointer(rebasing: text[r])
                    for sub in Self.cut(piece, step) { next.append((sub.lowerBound + r.lowerBound)..<(sub.upperBound + r.lowerBound)) }
                }
                ranges = next
            }
            for r in ranges { emit(UnsafeBufferPointer(rebasing: text[r])) }
            return
        }
        var pieces: [(bytes: [UInt8], first: Bool)] = [(Array(text), startsText)]
        for step in steps {
            var next: [(bytes: [UInt8], first: Bool)] = []
            for (bytes, first) in pieces {
                next += Self.apply(step, to: bytes, first: first)
            }
            pieces = next
        }
        for (bytes, _) in pieces { bytes.withUnsafeBufferPointer { emit($0) } }
    }

    /// Sub-ranges of `piece` made by a step that only cuts.
    private static func cut(_ piece: UnsafeBufferPointer<UInt8>, _ step: PreTokenizerStep) -> [Range<Int>] {
        switch step {
        case let .split(pattern, behavior, invert):
            return behavior.pieces(count: piece.count, matches: pattern.matches(in: piece), invert: invert)
        case .byteLevel(_, let useRegex):
            if !useRegex { return piece.isEmpty ? [] : [0..<piece.count] }
            var out: [Range<Int>] = []
            GPT2PreTokenizer.split(piece) { out.append($0) }
            return out
        case .metaspace:
            preconditionFailure("Metaspace changes bytes; handled by apply")
        }
    }

    /// A step applied to an owned piece; `first` marks a piece that starts the text.
    private static func apply(_ step: PreTokenizerStep, to bytes: [UInt8],
                              first: Bool) -> [(bytes: [UInt8], first: Bool)] {
        switch step {
        case .split, .byteLevel(false, _):
            return bytes.withUnsafeBufferPointer { buf in
                cut(buf, step).map { (Array(buf[$0]), first && $0.lowerBound == 0) }
            }
        case let .byteLevel(true, useRegex):
            let prefixed = bytes.first == 0x20 ? bytes : [0x20] + bytes
            return apply(.byteLevel(addPrefixSpace: false, useRegex: useRegex), to: prefixed, first: first)
        case let .metaspace(replacement, scheme, split):
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 8)
            for b in bytes { if b == 0x20 { out += replacement } else { out.append(b) } }
            if !out.isEmpty, !out.starts(with: replacement), scheme == .always || (scheme == .first && first) {
                out = replacement + out
            }
            if !split { return out.isEmpty ? [] : [(out, first)] }
            return apply(.split(.literal(replacement), .mergedWithNext, invert: false), to: out, first: first)
        }
    }

    private static func byteLevel(_ text: UnsafeBufferPointer<UInt8>, useRegex: Bool,
                                  _ emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        if useRegex {
            GPT2PreTokenizer.split(text) { emit(UnsafeBufferPointer(rebasing: text[$0])) }
        } else {
            emit(text)
        }
    }
}
