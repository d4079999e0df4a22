import Foundation

/// Building `SentencePieceBPETokenizer` from a GGUF vocabulary or a `tokenizer.json`.
extension SentencePieceBPETokenizer {
    /// GGUF token types (`tokenizer.ggml.token_type`, llama.cpp `llama_token_type`).
    public enum TokenType: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// A tokenizer from the arrays of a GGUF file's `tokenizer.ggml.*` metadata (model `llama` =
    /// SentencePiece): `tokens` (raw bytes of each piece), `scores`, `tokenTypes` (1 normal,
    /// 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), the special ids, `add_bos_token` and
    /// `add_space_prefix` (Gemma: false; Llama 2: true, which also strips one leading space on
    /// decode). Encoding is llama.cpp's (tokenizers.md §3); no EOS is added.
    /// Throws `TokenizerError.invalidVocabulary` when the arrays disagree in length, an id is out of
    /// range, a type is unknown, or a byte token is not `<0xXX>`.
    public convenience init(tokens: [[UInt8]], scores: [Float], tokenTypes: [Int32],
                            bosID: Int?, eosID: Int?, unkID: Int?, padID: Int?,
                            addBOS: Bool, addSpacePrefix: Bool) throws {
        let source = "GGUF vocabulary"
        guard !tokens.isEmpty else { throw TokenizerError.invalidVocabulary(source: source, reason: "no tokens") }
        guard scores.count == tokens.count, tokenTypes.count == tokens.count else {
            throw TokenizerError.invalidVocabulary(source: source, reason:
                "tokens has \(tokens.count) entries, scores \(scores.count), token_type \(tokenTypes.count)")
        }
        for (name, id) in [("bos", bosID), ("eos", eosID), ("unknown", unkID), ("padding", padID)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerError.invalidVocabulary(source: source,
                    reason: "\(name) token id \(id) is outside 0..<\(tokens.count)")
            }
        }
        var idOf: [[UInt8]: Int32] = [:]
        idOf.reserveCapacity(tokens.count)
        var isSpecial = [Bool](repeating: false, count: tokens.count)
        var added: [AddedTokenMatcher.Entry] = []
        for (i, piece) in tokens.enumerated() {
            guard let type = TokenType(rawValue: tokenTypes[i]) else {
                throw TokenizerError.invalidVocabulary(source: source, reason: "token \(i) has unknown type \(tokenTypes[i])")
            }
            idOf[piece] = Int32(i)
            switch type {
            case .control, .unknown:
                isSpecial[i] = true
                added.append(.init(id: i, content: piece, normalized: false, special: true))
            case .userDefined:
                added.append(.init(id: i, content: piece, normalized: false, special: false))
            case .unused:
                isSpecial[i] = true
            case .byte:
                guard TokenDecoderChain.byteValue(piece) != nil else {
                    throw TokenizerError.invalidVocabulary(source: source,
                        reason: "byte token \(i) is \(TokenizerError.quoted(String(decoding: piece, as: UTF8.self))), not <0xXX>")
                }
            case .normal, .undefined:
                break
            }
        }
        // llama.cpp byte_to_token: the id of the text "<0xXX>" (upper-case hex).
        let byteIDs: [Int32] = (0..<256).map { b in idOf[Array(String(format: "<0x%02X>", b).utf8)] ?? -1 }
        let space = TokenDecoderChain.metaspaceSymbol
        var normalizer: [TextNormalizer] = [.replace(pattern: [0x20], content: space)]
        var decoder = TokenDecoderChain.gemma
        if addSpacePrefix {
            normalizer.append(.prepend(space))
            decoder.steps.append(.strip(content: [0x20], start: 1, stop: 0))
        }
        let state = State(
            pipeline: EncodingPipeline(added: added, normalizer: .sequence(normalizer), preTokenizer: PreTokenizer([])),
            model: .scores(ScoreBPE(idOf: idOf, scores: scores, byteIDs: byteIDs, unkID: unkID.map { Int32($0) })),
            decoder: decoder, pieces: tokens, isSpecial: isSpecial,
            idOfContent: idOf.mapValues { Int($0) })
        let template = addBOS ? PostTemplate(prefix: bosID.map { [$0] } ?? []) : .none
        self.init(state: state, bos: bosID, eos: eosID, pad: padID, unk: unkID, template: template)
    }

    /// A tokenizer from a SentencePiece-style `tokenizer.json` (BPE model without ByteLevel; Gemma's
    /// layout, or Llama 2's `Prepend`/`Metaspace` variants).
    public convenience init(tokenizerJSON: URL) throws {
        try self.init(document: try TokenizerJSONDocument(data: try readFile(tokenizerJSON), fileName: tokenizerJSON.lastPathComponent))
    }

    /// The same from the bytes of a `tokenizer.json`; `fileName` names it in errors.
    public convenience init(tokenizerJSONData data: Data, fileName: String = "tokenizer.json") throws {
        try self.init(document: try TokenizerJSONDocument(data: data, fileName: fileName))
    }

    /// BOS defaults to the template's first token, else `<bos>`/`<s>`; EOS to `<eos>`/`</s>`; PAD to `<pad>`.
    convenience init(document: TokenizerJSONDocument) throws {
        let config = document.config, file = document.fileName
        var idOf: [[UInt8]: Int32] = [:]
        var maxID = -1
        for (token, id) in document.vocabulary {
            guard id >= 0, id < Int(Int32.max) else {
                throw TokenizerError.malformedJSON(file: file, field: "model.vocab[\(TokenizerError.quoted(String(decoding: token, as: UTF8.self)))]",
                                                   reason: "token id \(id) is negative or too large")
            }
            idOf[token] = Int32(id)
            maxID = max(maxID, id)
        }
        let added = document.addedEntries
        for entry in added { maxID = max(maxID, entry.id) }
        var pieces = [[UInt8]?](repeating: nil, count: maxID + 1)
        for (token, id) in document.vocabulary { pieces[id] = token }
        var isSpecial = [Bool](repeating: false, count: maxID + 1)
        var idOfContent = idOf.mapValues { Int($0) }
        for entry in added {
            pieces[entry.id] = entry.content
            isSpecial[entry.id] = entry.special
            idOfContent[entry.content] = entry.id
        }

        var merges = BPEMerges()
        for (rank, merge) in document.merges.enumerated() {
            func id(_ token: [UInt8]) throws -> Int {
                guard let id = idOf[token] else {
                    throw TokenizerError.tokenNotInVocabulary(file: file, field: "model.merges[\(merge.index)]",
                                                              token: String(decoding: token, as: UTF8.self))
                }
                return Int(id)
            }
            merges.add(left: try id(merge.left), right: try id(merge.right), merged: try id(merge.left + merge.right), rank: rank)
        }
        var unkID: Int32?
        if let unk = config.model.unkToken {
            guard let id = idOf[Array(unk.utf8)] else {
                throw TokenizerError.tokenNotInVocabulary(file: file, field: "model.unk_token", token: unk)
            }
            unkID = id
        }
        let steps = try ComponentBuilder.preTokenizerSteps(config.preTokenizer, file: file)
        for (step, field) in steps {
            if case .byteLevel = step {
                throw TokenizerError.unsupportedComponent(file: file, field: field + ".type",
                                                          detail: "type \"ByteLevel\" in a SentencePiece-style (non byte-level) tokenizer")
            }
        }
        let byteIDs: [Int32] = (0..<256).map { b in idOf[Array(String(format: "<0x%02X>", b).utf8)] ?? -1 }
        let model = CharMergeBPE(idOf: idOf, merges: merges, byteFallback: config.model.byteFallback, byteIDs: byteIDs,
                                 unkID: unkID, fuseUnk: config.model.fuseUnk, ignoreMerges: config.model.ignoreMerges)
        let state = State(
            pipeline: EncodingPipeline(added: added, normalizer: try ComponentBuilder.normalizer(config.normalizer, file: file),
                                       preTokenizer: PreTokenizer(steps.map(\.0))),
            model: .merges(model), decoder: TokenDecoderChain(try ComponentBuilder.decoderSteps(config.decoder, file: file)),
            pieces: pieces, isSpecial: isSpecial, idOfContent: idOfContent)
        let template = try ComponentBuilder.template(config.postProcessor, file: file, vocabularySize: maxID + 1)
        func named(_ names: String...) -> Int? { names.lazy.compactMap { idOfContent[Array($0.utf8)] }.first }
        self.init(state: state, bos: template.prefix.first ?? named("<bos>", "<s>"), eos: named("<eos>", "</s>"),
                  pad: named("<pad>"), unk: unkID.map { Int($0) }, template: template)
    }
}
