/// GPT-2 byte-level BPE, matching Hugging Face `tokenizers` (ByteLevel pre-tokenizer + BPE model +
/// ByteLevel decoder) id for id: tokenizers.md §1–2. Pipeline of `encode`:
///
/// 1. split added tokens out of the raw text (`AddedTokenMatcher`);
/// 2. for each remaining fragment: prepend a space if `addPrefixSpace` and the fragment does not
///    start with one (per fragment, as HF), then cut it with the GPT-2 regex (`GPT2PreTokenizer`)
///    unless `useRegex` is false;
/// 3. per piece: its bytes → byte-symbol ids → BPE merges (`BPEMerges`), cached per piece; with
///    `ignoreMerges` a piece that is itself a vocabulary token is emitted directly (Llama 3 style).
///
/// No BOS/EOS is added (GPT-2 adds none; TransformerLens prepends BOS itself). The vocabulary is
/// keyed by bytes, never by `String` (canonically equivalent strings compare equal).
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
        var addPrefixSpace: Bool
        var useRegex: Bool
        var added: AddedTokenMatcher
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

    init(state: State, bos: Int?, eos: Int?, pad: Int?, cache: PieceCache = PieceCache()) {
        self.state = state
        self.cache = cache
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

    /// A copy with BOS/EOS/PAD chosen by `names`; an unset name defaults to `<|endoftext|>` when present.
    public func withSpecialTokens(_ names: SpecialTokenNames) throws -> ByteLevelBPETokenizer {
        func resolve(_ entry: SpecialTokenNames.Entry, _ field: String) throws -> Int? {
            switch entry {
            case .unset: return tokenID(forContent: "<|endoftext|>")
            case .none: return nil
            case .token(let name):
                guard let id = tokenID(forContent: name) else {
                    throw TokenizerError.tokenNotInVocabulary(file: "tokenizer_config.json/special_tokens_map.json",
                                                              field: field, token: name)
                }
                return id
            }
        }
        return ByteLevelBPETokenizer(state: state, bos: try resolve(names.bos, "bos_token"),
                                     eos: try resolve(names.eos, "eos_token"), pad: try resolve(names.pad, "pad_token"),
                                     cache: cache)
    }

    /// The merge table (for tests that compare the two merge loops on real merges).
    package var bpeMerges: BPEMerges { state.merges }

    /// The one-byte symbol ids of `bytes`, before any merge (-1 where the vocabulary lacks a byte).
    package func byteSymbolIDs(_ bytes: some Sequence<UInt8>) -> [Int32] { bytes.map { state.byteToID[Int($0)] } }

    // MARK: - Encoding

    public func encode(_ text: String, parseSpecial: Bool) throws -> [Int] {
        var text = text
        return text.withUTF8 { encode(utf8: $0, parseSpecial: parseSpecial) }
    }

    /// Encodes the bytes of a Swift `String` (valid UTF-8; other input is not crashed on but is not
    /// tokenised meaningfully).
    package func encode(utf8 text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.count / 3 + 1)
        for segment in state.added.split(text, parseSpecial: parseSpecial) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let range):
                let fragment = UnsafeBufferPointer(rebasing: text[range])
                if state.addPrefixSpace && fragment[0] != 0x20 {
                    let prefixed = [0x20] + Array(fragment)
                    prefixed.withUnsafeBufferPointer { encodeFragment($0, into: &ids) }
                } else {
                    encodeFragment(fragment, into: &ids)
                }
            }
        }
        return ids
    }

    private func encodeFragment(_ fragment: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        if state.useRegex {
            GPT2PreTokenizer.split(fragment) { range in
                encodePiece(UnsafeBufferPointer(rebasing: fragment[range]), into: &ids)
            }
        } else {
            encodePiece(fragment, into: &ids)
        }
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
