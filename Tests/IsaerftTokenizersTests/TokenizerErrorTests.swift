import Foundation
import IsaerftTokenizers
import Testing

/// Loading failures throw `TokenizerError` with a one-line description naming the file and field
/// (style.md §4 rule 6). Self-contained: uses `SyntheticTokenizer`, not the shared files.
@Suite("Tokenizer errors")
struct TokenizerErrorTests {
    /// The thrown `TokenizerError` (fails the test if something else, or nothing, is thrown).
    func error(_ body: () throws -> Void) throws -> TokenizerError {
        do {
            try body()
        } catch let e as TokenizerError {
            #expect(!e.description.contains("\n"), "description is one line: \(e.description)")
            return e
        } catch {
            Issue.record("expected a TokenizerError, got \(type(of: error)): \(error)")
            throw error
        }
        Issue.record("expected a TokenizerError, nothing was thrown")
        throw CancellationError()
    }

    @Test("the synthetic tokenizer loads and merges (control for the failures below)")
    func syntheticLoads() throws {
        let t = try ByteLevelBPETokenizer(tokenizerJSONData: SyntheticTokenizer().data)
        // "abc" → a b c → ab c → abc; " abd" → Ġ a b d → Ġ ab d (rank 0 "a b" beats rank 3 "Ġ a"); ids of
        // single bytes = byte values here.
        #expect(try t.encode("abc abd<|endoftext|>") == [258, 32, 256, 100, 260])
        #expect(try t.encode(" a") == [259])
        #expect(t.vocabularySize == 261)
        #expect(t.bosTokenID == 260 && t.eosTokenID == 260)
    }

    @Test("missing file names the path")
    func missingFile() throws {
        let path = "/nonexistent-\(UUID().uuidString)/tokenizer.json"
        let e = try error { _ = try ByteLevelBPETokenizer(tokenizerJSON: URL(fileURLWithPath: path)) }
        #expect(e == .missingFile(path: path))
        #expect(e.description.contains(path))
        let m = try error { _ = try ByteLevelBPETokenizer(vocabJSON: URL(fileURLWithPath: "/nonexistent/vocab.json"),
                                                          merges: URL(fileURLWithPath: "/nonexistent/merges.txt")) }
        #expect(m.description.contains("/nonexistent/vocab.json"))
    }

    @Test("truncated tokenizer.json is malformed JSON, naming the file")
    func truncatedJSON() throws {
        let url = try SyntheticTokenizer().write()
        let full = try Data(contentsOf: url)
        try full.prefix(full.count / 2).write(to: url)
        let e = try error { _ = try ByteLevelBPETokenizer(tokenizerJSON: url) }
        guard case .malformedJSON(let file, _, _) = e else { Issue.record("got \(e)"); return }
        #expect(file == "tokenizer.json")
        #expect(e.description.contains("tokenizer.json: malformed JSON"))
        #expect(e.description.contains("not valid JSON: byte \(full.count / 2)"), "\(e)")   // where it stops
    }

    @Test("a field of the wrong type names its dotted path")
    func wrongFieldType() throws {
        var s = SyntheticTokenizer()
        s.preTokenizer = #"{"type":"ByteLevel","add_prefix_space":"no","trim_offsets":true}"#
        let e = try error { _ = try ByteLevelBPETokenizer(tokenizerJSONData: s.data) }
        #expect(e.description.contains("pre_tokenizer.add_prefix_space"), "\(e)")
        var missing = SyntheticTokenizer()
        missing.addedTokens = #"[{"id":260,"special":true}]"#
        let m = try error { _ = try ByteLevelBPETokenizer(tokenizerJSONData: missing.data) }
        #expect(m.description.contains("added_tokens[0].content"), "\(m)")
    }

    @Test("unknown component types throw, naming field and type", arguments: [
        ("pre_tokenizer", #"{"type":"ByteLevl","add_prefix_space":false,"trim_offsets":true}"#, "pre_tokenizer.type"),
        ("pre_tokenizer", #"{"type":"Sequence","pretokenizers":[{"type":"Nope"}]}"#, "pre_tokenizer.pretokenizers[0].type"),
        ("decoder", #"{"type":"BytLevel"}"#, "decoder.type"),
        ("normalizer", #"{"type":"NFX"}"#, "normalizer.type"),
        ("post_processor", #"{"type":"Template"}"#, "post_processor.type"),
        ("model", #""type":"BPEE","#, "model.type"),
    ])
    func unknownType(component: String, value: String, field: String) throws {
        var s = SyntheticTokenizer()
        switch component {
        case "pre_tokenizer": s.preTokenizer = value
        case "decoder": s.decoder = value
        case "normalizer": s.normalizer = value
        case "post_processor": s.postProcessor = value
        default: s.modelType = value
        }
        let e = try error { _ = try ByteLevelBPETokenizer(tokenizerJSONData: s.data, fileName: "custom.json") }
        guard case .unknownComponentType(let file, let f, _) = e else { Issue.record("got \(e)"); return }
        #expect(file == "custom.json" && f == field)
        #expect(e.description.contains("custom.json") && e.description.contains(field) && e.description.contains("unknown type"))
    }

    @Test("known but unimplemented components are refused, not ignored", arguments: [
        ("pre_tokenizer", #"{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}"#, "pre_tokenizer.type"),
        ("normalizer", #"{"type":"StripAccents"}"#, "normalizer.type"),
        ("normalizer", #"{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Precompiled","precompiled_charsmap":""}]}"#,
         "normalizer.normalizers[1].type"),
        ("post_processor", #"{"type":"BertProcessing","sep":["[SEP]",102],"cls":["[CLS]",101]}"#, "post_processor.type"),
        ("pre_tokenizer", #"{"type":"Whitespace"}"#, "pre_tokenizer.type"),
        ("decoder", #"{"type":"ByteFallback"}"#, "decoder.type"),
        ("decoder", "null", "decoder"),
        ("model", #""type":"WordPiece","#, "model.type"),
        ("options", #""dropout":0.1,"fuse_unk":false"#, "model.dropout"),
        ("options", #""byte_fallback":true"#, "model.byte_fallback"),
        ("options", #""continuing_subword_prefix":"pre""#, "model.continuing_subword_prefix"),
        ("truncation", "", "truncation"),
    ])
    func unsupported(component: String, value: String, field: String) throws {
        var s = SyntheticTokenizer()
        switch component {
        case "pre_tokenizer": s.preTokenizer = value
        case "decoder": s.decoder = value
        case "normalizer": s.normalizer = value
        case "post_processor": s.postProcessor = value
        case "options": s.modelOptions = value
        case "truncation": break
        default: s.modelType = value
        }
        var json = s.json
        if component == "truncation" {
            json = json.replacingOccurrences(of: #""truncation":null"#, with: #""truncation":{"max_length":8}"#)
        }
        let e = try error { _ = try ByteLevelBPETokenizer(tokenizerJSONData: Data(json.utf8)) }
        guard case .unsupportedComponent(_, let f, _) = e else { Issue.record("got \(e)"); return }
        #expect(f == field)
        #expect(e.description.contains("not supported"))
    }

    @Test("merges: a token missing from the vocabulary, and a bad merges.txt line")
    func badMerges() throws {
        var s = SyntheticTokenizer()
        s.merges = #"["a b","x yz"]"#
        let e = try error { _ = try ByteLevelBPETokenizer(tokenizerJSONData: s.data) }
        #expect(e == .tokenNotInVocabulary(file: "tokenizer.json", field: "model.merges[1]", token: "yz"), "\(e)")
        #expect(e.description.contains("model.merges[1]"))

        let dir = try temporaryDirectory()
        let vocab = dir.appendingPathComponent("vocab.json"), merges = dir.appendingPathComponent("merges.txt")
        let symbols = SyntheticTokenizer.byteSymbols + ["ab"]
        let body = symbols.enumerated().map { "\(String(decoding: JSONPatch.stringLiteral(Array($1.utf8)), as: UTF8.self)):\($0)" }
        try Data(("{" + body.joined(separator: ",") + "}").utf8).write(to: vocab)
        try Data("#version: 0.2\na b\na b c\n".utf8).write(to: merges)
        let m = try error { _ = try ByteLevelBPETokenizer(vocabJSON: vocab, merges: merges) }
        #expect(m == .malformedMerges(file: "merges.txt", line: 3, reason: #"expected two tokens separated by one space, found "a b c""#))
        try Data("#version: 0.2\na b\nab q\n".utf8).write(to: merges)
        let q = try error { _ = try ByteLevelBPETokenizer(vocabJSON: vocab, merges: merges) }
        #expect(q.description.contains("merges.txt: line 3 refers to token \"abq\""), "\(q)")
        try Data("{\"a\": 1, \"b\"".utf8).write(to: vocab)
        let v = try error { _ = try ByteLevelBPETokenizer(vocabJSON: vocab, merges: merges) }
        #expect(v.description.contains("vocab.json: malformed JSON"), "\(v)")
    }

    @Test("ids out of range throw on decode and tokenBytes")
    func idOutOfRange() throws {
        let t = try ByteLevelBPETokenizer(tokenizerJSONData: SyntheticTokenizer().data)
        for id in [261, -1, 1_000_000] {
            let e = try error { _ = try t.decode([97, id], skipSpecial: false) }
            #expect(e == .idOutOfRange(id: id, vocabularySize: 261))
            #expect(e.description.contains("\(id)"))
            #expect(throws: TokenizerError.idOutOfRange(id: id, vocabularySize: 261)) { try t.tokenBytes(id) }
        }
    }

    @Test("a folder without tokenizer files")
    func emptyFolder() throws {
        let dir = try temporaryDirectory()
        let e = try error { _ = try Tokenizers.load(directory: dir) }
        #expect(e == .noTokenizerFiles(directory: dir.path))
        #expect(e.description.contains(dir.path))
    }
}
