import Foundation

/// Loading `ByteLevelBPETokenizer` from `vocab.json` + `merges.txt` (OpenAI `encoder.json` +
/// `vocab.bpe`) or from a Hugging Face `tokenizer.json` (tokenizers.md §1.1, §2). Both routes give
/// identical ids for GPT-2; Llama 3 and Qwen2 come as `tokenizer.json` only.
extension ByteLevelBPETokenizer {
    /// GPT-2 from `vocab.json` + `merges.txt`, configured as `transformers`' GPT-2 tokenizer:
    /// ByteLevel pre-tokenizer without prefix space, and each of `specialTokens` that is in the
    /// vocabulary registered as a special added token (GPT-2: `<|endoftext|>` = 50256, which is
    /// also BOS, EOS and PAD).
    public convenience init(vocabJSON: URL, merges: URL, specialTokens: [String] = ["<|endoftext|>"],
                            addPrefixSpace: Bool = false) throws {
        let vocabFile = vocabJSON.lastPathComponent
        let vocabulary: [([UInt8], Int)]
        do {
            vocabulary = try ByteJSON.stringToIntObject([UInt8](try readFile(vocabJSON)))
        } catch let e as ByteJSON.ParseError {
            throw TokenizerError.malformedJSON(file: vocabFile, field: "(top level) at byte \(e.offset)", reason: e.reason)
        }
        let mergeList = try Self.readMergesTXT(merges)
        var idOf: [[UInt8]: Int] = [:]
        for (token, id) in vocabulary { idOf[token] = id }
        let added = specialTokens.compactMap { name -> AddedTokenMatcher.Entry? in
            guard let id = idOf[Array(name.utf8)] else { return nil }
            return AddedTokenMatcher.Entry(id: id, content: Array(name.utf8), normalized: false, special: true)
        }
        let state = try Self.buildState(
            vocabulary: vocabulary, vocabFile: vocabFile, merges: mergeList.map { ($0.left, $0.right) },
            mergeField: { (merges.lastPathComponent, "line \(mergeList[$0].line)") }, added: added,
            normalizer: nil, preTokenizer: PreTokenizer([.byteLevel(addPrefixSpace: addPrefixSpace, useRegex: true)]),
            ignoreMerges: false, unkToken: nil, fuseUnk: false)
        self.init(gpt2Defaults: state)
    }

    /// A tokenizer from a Hugging Face `tokenizer.json` file.
    public convenience init(tokenizerJSON: URL) throws {
        try self.init(tokenizerJSONData: try readFile(tokenizerJSON), fileName: tokenizerJSON.lastPathComponent)
    }

    /// A tokenizer from the bytes of a `tokenizer.json`; `fileName` names it in errors.
    public convenience init(tokenizerJSONData data: Data, fileName: String = "tokenizer.json") throws {
        try self.init(document: try TokenizerJSONDocument(data: data, fileName: fileName))
    }

    /// Byte-level BPE from a parsed `tokenizer.json`: the pre-tokenizer must end in one `ByteLevel`
    /// (before it: `Split`/`Digits`), the decoder must be `ByteLevel`, `byte_fallback` must be off.
    /// BOS defaults to `<|endoftext|>` when present, else the template's first token; EOS and PAD to
    /// `<|endoftext|>` when present (`Tokenizers.load` then applies `tokenizer_config.json`).
    convenience init(document: TokenizerJSONDocument) throws {
        let config = document.config, fileName = document.fileName
        if config.model.byteFallback {
            throw TokenizerError.unsupportedComponent(file: fileName, field: "model.byte_fallback",
                                                      detail: "byte_fallback true in a byte-level BPE (a ByteLevel pre-tokenizer)")
        }
        guard config.preTokenizer != nil else {
            throw TokenizerError.unsupportedComponent(file: fileName, field: "pre_tokenizer",
                                                      detail: "null (byte-level BPE needs a ByteLevel pre-tokenizer)")
        }
        try ComponentBuilder.checkByteLevelDecoder(config.decoder, file: fileName)
        let steps = try ComponentBuilder.preTokenizerSteps(config.preTokenizer, file: fileName)
        for (k, (step, field)) in steps.enumerated() {
            switch step {
            case .metaspace:
                throw TokenizerError.unsupportedComponent(file: fileName, field: field + ".type",
                                                          detail: "type \"Metaspace\" in a byte-level BPE tokenizer")
            case .byteLevel where k != steps.count - 1:
                throw TokenizerError.unsupportedComponent(file: fileName, field: field,
                                                          detail: "a ByteLevel pre-tokenizer that is not the last one")
            default: break
            }
        }
        guard case .byteLevel = steps.last?.0 else {
            throw TokenizerError.unsupportedComponent(file: fileName, field: "pre_tokenizer",
                                                      detail: "a byte-level BPE whose pre-tokenizers do not end in ByteLevel")
        }
        let merges = document.merges
        let state = try Self.buildState(
            vocabulary: document.vocabulary, vocabFile: fileName, merges: merges.map { ($0.left, $0.right) },
            mergeField: { (fileName, "model.merges[\(merges[$0].index)]") }, added: document.addedEntries,
            normalizer: try ComponentBuilder.normalizer(config.normalizer, file: fileName),
            preTokenizer: PreTokenizer(steps.map(\.0)), ignoreMerges: config.model.ignoreMerges,
            unkToken: config.model.unkToken.map { Array($0.utf8) }, fuseUnk: config.model.fuseUnk)
        let template = try ComponentBuilder.template(config.postProcessor, file: fileName,
                                                     vocabularySize: state.idToBytes.count)
        let eot = state.idOfContent[Array("<|endoftext|>".utf8)]
        self.init(state: state, bos: eot ?? template.prefix.first, eos: eot, pad: eot, template: template)
    }

    /// BOS = EOS = PAD = `<|endoftext|>` when the vocabulary has it (GPT-2), else none.
    private convenience init(gpt2Defaults state: State) {
        let eot = state.idOfContent[Array("<|endoftext|>".utf8)]
        self.init(state: state, bos: eot, eos: eot, pad: eot)
    }

    /// `merges.txt`: `#version` lines skipped, then one `A B` per line (exactly one space), as HF's
    /// `BPE::read_file`; rank = index among the merge lines.
    static func readMergesTXT(_ url: URL) throws -> [(left: [UInt8], right: [UInt8], line: Int)] {
        let bytes = [UInt8](try readFile(url))
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var out: [(left: [UInt8], right: [UInt8], line: Int)] = []
        out.reserveCapacity(lines.count)
        for (index, rawLine) in lines.enumerated() {
            var line = rawLine
            if line.last == 0x0D { line = line.dropLast() }
            if line.starts(with: "#version".utf8) { continue }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.malformedMerges(file: url.lastPathComponent, line: index + 1,
                    reason: "expected two tokens separated by one space, found \(TokenizerError.quoted(String(decoding: line, as: UTF8.self)))")
            }
            out.append((Array(parts[0]), Array(parts[1]), index + 1))
        }
        return out
    }
}
