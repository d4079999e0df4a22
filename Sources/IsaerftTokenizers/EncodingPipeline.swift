/// The text side of a Hugging Face tokenizer, up to the model (HF `TokenizerImpl::encode_single_sequence`):
///
/// 1. added tokens with `normalized: false` are split out of the raw text;
/// 2. each remaining fragment is normalised (`normalizer`);
/// 3. added tokens with `normalized: true` are split out of the normalised fragment (their content
///    was normalised with the same normalizer when the pipeline was built);
/// 4. each remaining piece goes through the pre-tokenizer; the model then tokenises each pre-token.
package struct EncodingPipeline: Sendable {
    package var added: AddedTokenMatcher
    package var normalizer: TextNormalizer?
    package var preTokenizer: PreTokenizer

    package init(added: [AddedTokenMatcher.Entry], normalizer: TextNormalizer?, preTokenizer: PreTokenizer) {
        // HF stores a normalized token's content normalised, so it matches normalised text.
        self.added = AddedTokenMatcher(added.map { entry in
            guard entry.normalized, let normalizer else { return entry }
            var e = entry
            e.content = normalizer.apply(entry.content)
            return e
        })
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
    }

    /// Walks `text`: added tokens go to `token`, pre-tokens (non-empty) to `piece`, in text order.
    package func run(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool,
                     token: (Int) -> Void, piece: (UnsafeBufferPointer<UInt8>) -> Void) {
        func normalizedPass(_ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, startsText: Bool) {
            for segment in added.splitNormalized(buf, range, parseSpecial: parseSpecial) {
                switch segment {
                case .token(let id): token(id)
                case .text(let r):
                    preTokenizer.run(UnsafeBufferPointer(rebasing: buf[r]),
                                     startsText: startsText && r.lowerBound == range.lowerBound, piece)
                }
            }
        }
        for segment in added.splitRaw(text, parseSpecial: parseSpecial) {
            switch segment {
            case .token(let id):
                token(id)
            case .text(let r):
                if let normalizer {
                    let normalized = normalizer.apply(Array(text[r]))
                    normalized.withUnsafeBufferPointer { normalizedPass($0, 0..<$0.count, startsText: r.lowerBound == 0) }
                } else {
                    normalizedPass(text, r, startsText: r.lowerBound == 0)
                }
            }
        }
    }
}

/// What the post-processor adds around the ids of one sequence when special tokens are requested
/// (HF `TemplateProcessing` `single`, e.g. `<|begin_of_text|> $A` → prefix [128000]).
package struct PostTemplate: Sendable, Equatable {
    package var prefix: [Int]
    package var suffix: [Int]

    package init(prefix: [Int] = [], suffix: [Int] = []) {
        self.prefix = prefix
        self.suffix = suffix
    }

    package static let none = PostTemplate()

    /// `prefix + ids + suffix` when `addSpecialTokens`, else `ids`.
    package func apply(_ ids: [Int], addSpecialTokens: Bool) -> [Int] {
        guard addSpecialTokens, !(prefix.isEmpty && suffix.isEmpty) else { return ids }
        return prefix + ids + suffix
    }
}
