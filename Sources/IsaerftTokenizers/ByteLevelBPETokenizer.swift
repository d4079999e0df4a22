/// Byte-level BPE, matching Hugging Face `tokenizers` id for id (tokenizers.md §1–2): GPT-2 (ByteLevel
/// pre-tokenizer with the GPT-2 regex), Llama 3 (`Split(L3 regex, Isolated)` + `ByteLevel(use_regex:
/// false)`, `ignore_merges`, `TemplateProcessing` BOS) and Qwen2 (`NFC` + `Split(Q2 regex)` + ByteLevel).
/// Pipeline of `encode` (`EncodingPipeline`):
///
/// 1. split added tokens out of the raw text (`AddedTokenMatcher`), normalise the rest (`TextNormalizer`);
/// 2. pre-tokenise each fragment (`PreTokenizer`: Split / Digits / ByteLevel, a space prepended per
///    piece when ByteLevel's `add_prefix_space` is on, the GPT-2 regex when `use_regex`);
/// 3. per piece: its bytes → byte-symbol ids → BPE merges (`BPEMerges`), cached per piece; with
///    `ignoreMerges` a piece that is itself a vocabulary token is emitted directly (Llama 3 style);
/// 4. with `addSpecialTokens` (the default of `encode(_:parseSpecial:)`), the post-processor's
///    template tokens around the ids: `addsBOS` is true for Llama 3 (`<|begin_of_text|>`), false for
///    GPT-2 and Qwen2 (no template; TransformerLens prepends GPT-2's BOS itself).
///
/// The vocabulary is keyed by bytes, never by `String` (canonically equivalent strings compare equal).
public final class ByteLevelBPETokenizer: TextTokenizer {
    /// Immutable model state, shared (copy-on-write) between instances that differ only in
    /// their BOS/EOS/PAD choice.
    struct State: Sendable {
        /// byte → id of its one-byte symbol, or -1 when the vocabulary lacks it.
        var byteToID: [Int32]
        var merges: BPEMerges
        /// Symbol-string bytes → id; kept only when `ignoreMerges` needs whole-piece lookups.
        var symbolVocab: [[UInt8]: Int32]
        var ignoreMerges: Bool
        var unkID: Int32?
        var fuseUnk: Bool
        /// Added tokens, normalizer and pre-tokenizer.
        var pipeline: EncodingPipeline
        /// id → the bytes the ByteLevel decoder produces for it; nil for holes.
        var idToBytes: [[UInt8]?]
        var isSpecial: [Bool]
        /// Content → id of every vocabulary entry and added token, for BOS/EOS name lookups.
        var idOfContent: [[UInt8]: Int]
    }

    let state: State
    let cache: PieceCache

    public var vocabularySize: Int { state.idToBytes.count }
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let padTokenID: Int?
    /// Tokens put around the text when special tokens are added (HF post-processor).
    package let template: PostTemplate
    /// Whether `encode(_:parseSpecial:)` puts a token (BOS) before the text: the post-processor's
    /// template has a prefix (Llama 3 style `tokenizer.json`), or `tokenizer_config.json` says
    /// `add_bos_token: true`. False for GPT-2 and Qwen2.
    public var addsBOS: Bool { !template.prefix.isEmpty }

    init(state: State, bos: Int?, eos: Int?, pad: Int?, template: PostTemplate = .none, cache: PieceCache = PieceCache()) {
        self.state = state
        self.cache = cache
        self.template = template
        bosTokenID = bos; eosTokenID = eos; padTokenID = pad
    }

    /// The id of a vocabulary entry or added token, by its exact content (as written in
    /// `tokenizer.json`/`vocab.json`, e.g. `"Ġthe"` or `"<|endoftext|>"`).
    public func tokenID(forContent content: String) -> Int? {
        state.idOfContent[Array(content.utf8)]
    }

    /// Whether `id` is a special added token (skipped by `decode(_:skipSpecial: true)`).
    public func isSpecialToken(_ id: Int) -> Bool {
        id >= 0 && id < state.isSpecial.count && state.isSpecial[id]
    }

    /// A copy with BOS/EOS/PAD chosen by `names` (a name that is `.unset` keeps this instance's
    /// choice) and, when `names` has `add_bos_token`/`add_eos_token`, the template that
    /// `transformers` 5 builds from them (`[bos] $A [eos]`).
    public func withSpecialTokens(_ names: SpecialTokenNames) throws -> ByteLevelBPETokenizer {
        let bos = try names.resolve(names.bos, "bos_token", current: bosTokenID, lookup: tokenID(forContent:))
        let eos = try names.resolve(names.eos, "eos_token", current: eosTokenID, lookup: tokenID(forContent:))
        let pad = try names.resolve(names.pad, "pad_token", current: padTokenID, lookup: tokenID(forContent:))
        return ByteLevelBPETokenizer(state: state, bos: bos, eos: eos, pad: pad,
                                     template: names.template(default: template, bos: bos, eos: eos), cache: cache)
    }

    /// The merge table (for tests that compare the two merge loops on real merges).
    package var bpeMerges: BPEMerges { state.merges }

    /// The one-byte symbol ids of `bytes`, before any merge (-1 where the vocabulary lacks a byte).
    package func byteSymbolIDs(_ bytes: some Sequence<UInt8>) -> [Int32] { bytes.map { state.byteToID[Int($0)] } }

    // MARK: - Encoding

    /// HF `encode(text, add_special_tokens: addSpecialTokens)`; `parseSpecial: false` is HF's
    /// `split_special_tokens` (special added tokens in the text are tokenised as plain text).
    public func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        var text = text
        let ids = text.withUTF8 { encode(utf8: $0, parseSpecial: parseSpecial) }
        return template.apply(ids, addSpecialTokens: addSpecialTokens)
    }

    /// Encodes the bytes of a Swift `String` (valid UTF-8; other input is not crashed on but is not
    /// tokenised meaningfully), without template tokens.
    package func encode(utf8 text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.count / 3 + 1)
        state.pipeline.run(text, parseSpecial: parseSpecial, token: { ids.append($0) },
                           piece: { encodePiece($0, into: &ids) })
        return ids
    }

    private func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        if piece.isEmpty { return }
        if piece.count <= cache.maxPieceBytes {
            let key = Array(piece)
            if let hit = cache.get(key) {
                for id in hit { ids.append(Int(id)) }
                return
            }
            let result = bpe(piece)
            cache.set(key, result)
            for id in result { ids.append(Int(id)) }
        } else {
            for id in bpe(piece) { ids.append(Int(id)) }
        }
    }

    /// BPE of one pre-token (HF `BPE::tokenize` → `merge_word` → `Word::merge_all`).
    func bpe(_ piece: UnsafeBufferPointer<UInt8>) -> [Int32] {
        if state.ignoreMerges, let id = state.symbolVocab[ByteLevelTable.symbolUTF8(ofBytes: piece)] {
            return [id]
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.count)
        var pendingUnk = false
        for b in piece {
            let id = state.byteToID[Int(b)]
            if id >= 0 {
                symbols.append(id)
                pendingUnk = false
            } else if let unk = state.unkID {
                // HF: unknown symbols become unk_token (consecutive ones fused when fuse_unk); without
                // an unk_token they are dropped.
                if !(state.fuseUnk && pendingUnk) { symbols.append(unk) }
                pendingUnk = true
            }
        }
        state.merges.apply(&symbols)
        return symbols
    }

    // MARK: - Decoding

    public func decode(_ ids: [Int], skipSpecial: Bool) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            let tokenBytes = try tokenBytes(id)
            if skipSpecial && state.isSpecial[id] { continue }
            bytes += tokenBytes
        }
        // Maximal invalid subsequences become one U+FFFD each, like Rust's `String::from_utf8_lossy`
        // used by HF's ByteLevel decoder.
        return String(decoding: bytes, as: UTF8.self)
    }

    public func tokenBytes(_ id: Int) throws -> [UInt8] {
        guard id >= 0, id < state.idToBytes.count, let bytes = state.idToBytes[id] else {
            throw TokenizerError.idOutOfRange(id: id, vocabularySize: vocabularySize)
        }
        return bytes
    }
}
