import Foundation
import IsaerftTokenizers
import Testing

/// Malformed or unsupported Split / TemplateProcessing / Metaspace / decoder settings throw a
/// `TokenizerError` whose one-line description names the field.
@Suite("tokenizer.json component errors")
struct ComponentErrorTests {
    func error(_ json: String, sentencePiece: Bool = false) -> TokenizerError? {
        do {
            if sentencePiece {
                _ = try SentencePieceBPETokenizer(tokenizerJSONData: Data(json.utf8))
            } else {
                _ = try ByteLevelBPETokenizer(tokenizerJSONData: Data(json.utf8))
            }
            return nil
        } catch let e as TokenizerError {
            #expect(!e.description.contains("\n"))
            return e
        } catch {
            Issue.record("not a TokenizerError: \(error)")
            return nil
        }
    }

    static let template = #"{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[260],"tokens":["<|endoftext|>"]}}}"#

    @Test("a Split + ByteLevel synthetic tokenizer with a BOS template works (control)")
    func control() throws {
        var s = SyntheticTokenizer()
        s.preTokenizer = #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}"#
        s.postProcessor = Self.template
        s.normalizer = #"{"type":"NFC"}"#
        let t = try ByteLevelBPETokenizer(tokenizerJSONData: s.data)
        #expect(t.addsBOS && t.bosTokenID == 260)
        #expect(try t.encode("abc abd") == [260, 258, 32, 256, 100])   // " " is its own piece: no "Ġa" merge
        #expect(try t.encode("abc", parseSpecial: true, addSpecialTokens: false) == [258])
    }

    @Test("field paths in errors", arguments: [
        ("pre", #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true}]}"#,
         "tokenizer.json: malformed JSON at pre_tokenizer.pretokenizers[0].pattern.Regex: invalid regular expression"),
        ("pre", #"{"type":"Split","pattern":{"String":" "},"behavior":"Sideways","invert":false}"#,
         "tokenizer.json: malformed JSON at pre_tokenizer.behavior"),
        ("pre", #"{"type":"Split","pattern":{"Glob":"*"},"behavior":"Isolated","invert":false}"#,
         "tokenizer.json: malformed JSON at pre_tokenizer.pattern"),
        ("pre", #"{"type":"Sequence","pretokenizers":[{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},{"type":"Split","pattern":{"String":" "},"behavior":"Isolated"}]}"#,
         "tokenizer.json: pre_tokenizer.pretokenizers[0]: a ByteLevel pre-tokenizer that is not the last one is not supported"),
        ("pre", #"{"type":"Split","pattern":{"String":" "},"behavior":"Isolated","invert":false}"#,
         "tokenizer.json: pre_tokenizer: a byte-level BPE whose pre-tokenizers do not end in ByteLevel is not supported"),
        ("pre", #"{"type":"Sequence","pretokenizers":[{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true}]}"#,
         "tokenizer.json: pre_tokenizer.pretokenizers[0].type: type \"Metaspace\" in a byte-level BPE tokenizer is not supported"),
        ("post", #"{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{}}"#,
         "tokenizer.json: malformed JSON at post_processor.special_tokens: no entry for \"<bos>\" used in single"),
        ("post", #"{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<bos>":{"id":"<bos>","ids":[999],"tokens":["<bos>"]}}}"#,
         "tokenizer.json: malformed JSON at post_processor.special_tokens.<bos>.ids: token id 999 is outside the vocabulary (size 261)"),
        ("post", #"{"type":"Sequence","processors":[\#(template),\#(template)]}"#,
         "tokenizer.json: post_processor.processors: a Sequence with 2 TemplateProcessing members is not supported"),
        ("decoder", #"{"type":"Sequence","decoders":[{"type":"ByteLevel"},{"type":"Fuse"}]}"#,
         "tokenizer.json: decoder.decoders[1].type: type \"Fuse\" in a byte-level BPE decoder is not supported"),
        ("normalizer", #"{"type":"Replace","pattern":{"Regex":"[a-"},"content":"x"}"#,
         "tokenizer.json: malformed JSON at normalizer.pattern.Regex: invalid regular expression"),
    ])
    func fieldPaths(slot: String, value: String, prefix: String) {
        var s = SyntheticTokenizer()
        switch slot {
        case "pre": s.preTokenizer = value
        case "post": s.postProcessor = value
        case "normalizer": s.normalizer = value
        default: s.decoder = value
        }
        let e = error(s.json)
        #expect(e?.description.hasPrefix(prefix) == true, "\(String(describing: e))")
    }

    @Test("SentencePiece-style loader refuses byte-level parts; Tokenizers.load dispatches on them")
    func sentencePieceRefusals() throws {
        var s = SyntheticTokenizer()
        s.preTokenizer = "null"
        s.decoder = #"{"type":"ByteLevel"}"#
        #expect(error(s.json, sentencePiece: true)?.description
                == "tokenizer.json: decoder.type: type \"ByteLevel\" in a SentencePiece-style decoder is not supported by IsaerftTokenizers")
        s.decoder = #"{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"Regex":"x"},"content":" "}]}"#
        #expect(error(s.json, sentencePiece: true)?.description
                == "tokenizer.json: decoder.decoders[0].pattern: a Regex pattern in a Replace decoder is not supported by IsaerftTokenizers")
        s.decoder = "null"
        s.modelOptions = #""dropout":null,"unk_token":"<nope>","fuse_unk":false"#
        #expect(error(s.json, sentencePiece: true) == .tokenNotInVocabulary(file: "tokenizer.json", field: "model.unk_token", token: "<nope>"))
        s.modelOptions = #""dropout":null,"unk_token":null,"fuse_unk":false,"byte_fallback":true"#
        let t = try Tokenizers.load(tokenizerJSONData: s.data)
        #expect(t is SentencePieceBPETokenizer)   // no ByteLevel anywhere
        #expect(try t.encode("abc") == [258])     // characters "a" "b" "c" merged as in the byte-level case
        #expect(try t.decode([258, 32]) == "abc \u{120}")   // null decoder: HF joins the raw tokens with spaces
    }
}
