import Foundation

/// Loading `ByteLevelBPETokenizer` from `vocab.json` + `merges.txt` (OpenAI `encoder.json` +
/// `vocab.bpe`) or from a Hugging Face `tokenizer.json` (tokenizers.md §1.1, §2). Both routes give
/// identical ids for GPT-2.
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
            addPrefixSpace: addPrefixSpace, useRegex: true, ignoreMerges: false, unkToken: nil, fuseUnk: false)
        self.init(gpt2Defaults: state)
    }

    /// A tokenizer from a Hugging Face `tokenizer.json` file.
    public convenience init(tokenizerJSON: URL) throws {
        try self.init(tokenizerJSONData: try readFile(tokenizerJSON), fileName: tokenizerJSON.lastPathComponent)
    }

    /// A tokenizer from the bytes of a `tokenizer.json`; `fileName` names it in errors.
    public convenience init(tokenizerJSONData data: Data, fileName: String = "tokenizer.json") throws {
        let config: TokenizerJSONConfig
        do {
            config = try JSONDecoder().decode(TokenizerJSONConfig.self, from: data)
        } catch let p as ComponentTypeProblem {
            throw p.known
                ? TokenizerError.unsupportedComponent(file: fileName, field: fieldPath(p.codingPath), detail: "type \"\(p.type)\"")
                : TokenizerError.unknownComponentType(file: fileName, field: fieldPath(p.codingPath), type: p.type)
        } catch let u as UnsupportedOption {
            throw TokenizerError.unsupportedComponent(file: fileName, field: fieldPath(u.codingPath), detail: u.detail)
        } catch let e as DecodingError {
            if case .dataCorrupted(let context) = e, context.codingPath.isEmpty,
               let syntax = ByteJSON.syntaxError(in: [UInt8](data)) {
                throw TokenizerError.malformedJSON(file: fileName, field: "(top level)",
                                                   reason: "not valid JSON: byte \(syntax.offset): \(syntax.reason)")
            }
            throw Self.describe(e, file: fileName)
        }
        let vocabulary: [([UInt8], Int)]
        do {
            guard let v = try ByteJSON.stringToIntObject([UInt8](data), at: ["model", "vocab"]) else {
                throw TokenizerError.malformedJSON(file: fileName, field: "model.vocab", reason: "missing")
            }
            vocabulary = v
        } catch let e as ByteJSON.ParseError {
            throw TokenizerError.malformedJSON(file: fileName, field: "model.vocab (byte \(e.offset))", reason: e.reason)
        }
        guard let pre = config.preTokenizer else {
            throw TokenizerError.unsupportedComponent(file: fileName, field: "pre_tokenizer",
                                                      detail: "null (byte-level BPE needs a ByteLevel pre-tokenizer)")
        }
        guard config.decoder != nil else {
            throw TokenizerError.unsupportedComponent(file: fileName, field: "decoder",
                                                      detail: "null (byte-level BPE needs a ByteLevel decoder)")
        }
        let (addPrefixSpace, useRegex) = try Self.byteLevelOptions(pre, file: fileName)
        let merges = config.model.merges.enumerated().filter { !$0.element.isHeader }
        let added = config.addedTokens.map {
            AddedTokenMatcher.Entry(id: $0.id, content: Array($0.content.utf8), singleWord: $0.singleWord,
                                    lstrip: $0.lstrip, rstrip: $0.rstrip, normalized: $0.normalized, special: $0.special)
        }
        let state = try Self.buildState(
            vocabulary: vocabulary, vocabFile: fileName,
            merges: merges.map { (Array($0.element.left.utf8), Array($0.element.right.utf8)) },
            mergeField: { (fileName, "model.merges[\(merges[$0].offset)]") }, added: added,
            addPrefixSpace: addPrefixSpace, useRegex: useRegex, ignoreMerges: config.model.ignoreMerges,
            unkToken: config.model.unkToken.map { Array($0.utf8) }, fuseUnk: config.model.fuseUnk)
        self.init(gpt2Defaults: state)
    }

    /// BOS = EOS = PAD = `<|endoftext|>` when the vocabulary has it (GPT-2), else none.
    private convenience init(gpt2Defaults state: State) {
        let eot = state.idOfContent[Array("<|endoftext|>".utf8)]
        self.init(state: state, bos: eot, eos: eot, pad: eot)
    }

    /// `(add_prefix_space, use_regex)` of the ByteLevel pre-tokenizer (alone or the only member of a Sequence).
    private static func byteLevelOptions(_ pre: PreTokenizerConfig, file: String) throws -> (Bool, Bool) {
        switch pre {
        case let .byteLevel(addPrefixSpace, useRegex):
            return (addPrefixSpace, useRegex)
        case let .sequence(members):
            guard members.count == 1 else {
                throw TokenizerError.unsupportedComponent(file: file, field: "pre_tokenizer.pretokenizers",
                                                          detail: "a Sequence of \(members.count) pre-tokenizers")
            }
            return try byteLevelOptions(members[0], file: file)
        }
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

    /// A `DecodingError` as one line naming the field.
    static func describe(_ error: DecodingError, file: String) -> TokenizerError {
        switch error {
        case let .keyNotFound(key, context):
            return .malformedJSON(file: file, field: fieldPath(context.codingPath + [key]), reason: "required key is missing")
        case let .typeMismatch(type, context):
            return .malformedJSON(file: file, field: fieldPath(context.codingPath), reason: "expected \(type): \(context.debugDescription)")
        case let .valueNotFound(type, context):
            return .malformedJSON(file: file, field: fieldPath(context.codingPath), reason: "expected \(type), found null")
        case let .dataCorrupted(context):
            let underlying = context.underlyingError.map { " (\(oneLine($0)))" } ?? ""
            return .malformedJSON(file: file, field: fieldPath(context.codingPath), reason: context.debugDescription + underlying)
        @unknown default:
            return .malformedJSON(file: file, field: "(unknown)", reason: oneLine(error))
        }
    }
}
