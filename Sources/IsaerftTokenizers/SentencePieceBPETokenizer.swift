/// SentencePiece-style BPE with byte fallback (Gemma 1/2/3, Llama 2): spaces become `▁` (U+2581),
/// symbols are UTF-8 characters, characters missing from the vocabulary become `<0xXX>` byte tokens
/// (tokenizers.md §3). Two sources, two merge algorithms:
///
/// - a GGUF vocabulary (`init(tokens:scores:tokenTypes:…)`): llama.cpp's SPM algorithm over scores;
///   user-defined tokens (type 4: Gemma's runs of `\n`, tabs and spaces, HTML tags) are always split
///   out of the raw text first, control/unknown tokens (types 3, 2) only when `parseSpecial`;
/// - a `tokenizer.json` (`init(tokenizerJSON:)`): HF's BPE with merges over characters, with its
///   normalizer (`Replace(" ", "▁")`, `Prepend`), pre-tokenizer (`Split`, `Metaspace`), added
///   tokens and decoder.
///
/// `addsBOS` is true for Gemma (GGUF `add_bos_token`; `TemplateProcessing` `<bos> $A` in
/// `tokenizer.json`). Decoding follows the decoder chain (Gemma: `▁` → space, byte fallback, fuse);
/// `skipSpecial` drops control/special tokens. The vocabulary is keyed by bytes.
public final class SentencePieceBPETokenizer: TextTokenizer {
    struct State: Sendable {
        var pipeline: EncodingPipeline
        var model: SentencePieceModel
        var decoder: TokenDecoderChain
        /// id → the token's piece (`"▁the"`, `"<0x0A>"`, `"<bos>"`); nil for holes.
        var pieces: [[UInt8]?]
        /// Skipped by `decode(_:skipSpecial: true)`.
        var isSpecial: [Bool]
        /// Piece bytes → id (added tokens win over the model vocabulary), for name lookups.
        var idOfContent: [[UInt8]: Int]
    }

    let state: State
    let cache: PieceCache

    public var vocabularySize: Int { state.pieces.count }
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let padTokenID: Int?
    public let unknownTokenID: Int?
    /// Tokens put around the text when special tokens are added.
    package let template: PostTemplate
    /// Whether `encode(_:parseSpecial:)` puts BOS before the text (Gemma: true).
    public var addsBOS: Bool { !template.prefix.isEmpty }

    init(state: State, bos: Int?, eos: Int?, pad: Int?, unk: Int?, template: PostTemplate, cache: PieceCache = PieceCache()) {
        self.state = state
        self.cache = cache
        self.template = template
        bosTokenID = bos; eosTokenID = eos; padTokenID = pad; unknownTokenID = unk
    }

    /// The id of a token by its exact piece (e.g. `"▁the"`, `"<start_of_turn>"`, `"<0x0A>"`).
    public func tokenID(forContent content: String) -> Int? {
        state.idOfContent[Array(content.utf8)]
    }

    /// The raw piece of a token as stored in the vocabulary (with `▁`, `<0xXX>` unconverted).
    public func piece(_ id: Int) throws -> [UInt8] {
        guard id >= 0, id < state.pieces.count, let piece = state.pieces[id] else {
            throw TokenizerError.idOutOfRange(id: id, vocabularySize: vocabularySize)
        }
        return piece
    }

    /// Whether `id` is a special (control) token, skipped by `decode(_:skipSpecial: true)`.
    public func isSpecialToken(_ id: Int) -> Bool {
        id >= 0 && id < state.isSpecial.count && state.isSpecial[id]
    }

    /// A copy with BOS/EOS/PAD chosen by `names` (`.unset` keeps this instance's choice) and the
    /// template rebuilt when `names` has `add_bos_token`/`add_eos_token`.
    public func withSpecialTokens(_ names: SpecialTokenNames) throws -> SentencePieceBPETokenizer {
        let bos = try names.resolve(names.bos, "bos_token", current: bosTokenID, lookup: tokenID(forContent:))
        let eos = try names.resolve(names.eos, "eos_token", current: eosTokenID, lookup: tokenID(forContent:))
        let pad = try names.resolve(names.pad, "pad_token", current: padTokenID, lookup: tokenID(forContent:))
        return SentencePieceBPETokenizer(state: state, bos: bos, eos: eos, pad: pad, unk: unknownTokenID,
                                         template: names.template(default: template, bos: bos, eos: eos), cache: cache)
    }

    // MARK: - Encoding

    public func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        var text = text
        var ids: [Int] = []
        ids.reserveCapacity(text.utf8.count / 3 + 2)
        text.withUTF8 { buf in
            state.pipeline.run(buf, parseSpecial: parseSpecial, token: { ids.append($0) },
                               piece: { encodePiece($0, into: &ids) })
        }
        return template.apply(ids, addSpecialTokens: addSpecialTokens)
    }

    private func encodePiece(_ piece: UnsafeBufferPointer<UInt8>, into ids: inout [Int]) {
        if piece.isEmpty { return }
        if piece.count <= cache.maxPieceBytes {
            let key = Array(piece)
            let result = cache.get(key) ?? {
                let r = state.model.encode(piece)
                cache.set(key, r)
                return r
            }()
            for id in result { ids.append(Int(id)) }
        } else {
            for id in state.model.encode(piece) { ids.append(Int(id)) }
        }
    }

    // MARK: - Decoding

    public func decode(_ ids: [Int], skipSpecial: Bool) throws -> String {
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(ids.count)
        for id in ids {
            let p = try piece(id)
            if skipSpecial && state.isSpecial[id] { continue }
            pieces.append(p)
        }
        return state.decoder.decode(pieces)
    }

    /// The bytes of one token in running text: `<0xXX>` → that byte, `▁` → space.
    public func tokenBytes(_ id: Int) throws -> [UInt8] {
        state.decoder.bytes(ofPiece: try piece(id))
    }
}
