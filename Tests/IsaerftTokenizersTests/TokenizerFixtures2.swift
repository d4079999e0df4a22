import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// The fixtures written by `scripts/make_tokenizer_fixtures_2.py` (Hugging Face `tokenizers`
/// 0.23.3 / `transformers` 5.23.0; versions inside each file).
enum Fixtures2 {
    /// One text and what HF made of it. `ids`: add_special_tokens=True (HF default); `idsPlain`:
    /// add_special_tokens=False; `idsNoSpecial`: specials in the text not parsed (split_special_tokens).
    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var idsPlain: [Int]
        var idsNoSpecial: [Int]?
        var decoded: String
        var decodedSkip: String
        enum CodingKeys: String, CodingKey {
            case text, ids, idsPlain = "ids_plain", idsNoSpecial = "ids_no_special", decoded, decodedSkip = "decoded_skip"
        }
    }
    struct DecodeCase: Decodable { var ids: [Int]; var decoded: String }
    /// All of tiny Shakespeare: token count, first ids and `hash` = fold of h·1000003 + id + 1 (mod 2⁶⁴).
    struct Summary: Decodable {
        var count: Int, first: [Int], hash: String
        func matches(_ ids: [Int]) -> Bool {
            var h: UInt64 = 0
            for id in ids { h = h &* 1_000_003 &+ UInt64(id + 1) }
            return ids.count == count && Array(ids.prefix(first.count)) == first && String(h) == hash
        }
    }
    struct Family: Decodable {
        var vocabSize: Int
        var cases: [Case]
        var decodeCases: [DecodeCase]
        var shakespeare: Summary
        enum CodingKeys: String, CodingKey { case vocabSize = "vocab_size", cases, decodeCases = "decode_cases", shakespeare }
    }
    /// `trained_goldens.json`: the three trained tokenizers in `fixtures/tokenizer/<name>/`.
    struct Trained: Decodable {
        var llama3: Family, qwen2: Family, gemma: Family
        enum CodingKeys: String, CodingKey { case llama3 = "llama3_style", qwen2 = "qwen2_style", gemma = "gemma_style" }
        func family(_ name: String) -> Family { name == "llama3_style" ? llama3 : name == "qwen2_style" ? qwen2 : gemma }
    }
    /// `component_goldens.json`: small tokenizers assembled from JSON text parts.
    struct Components: Decodable {
        struct Base: Decodable {
            var vocab: String, merges: String, addedTokens: String
            enum CodingKeys: String, CodingKey { case vocab, merges, addedTokens = "added_tokens" }
        }
        struct Variant: Decodable {
            var name: String, base: String
            var normalizer: String, preTokenizer: String, postProcessor: String, decoder: String, modelOptions: String
            var cases: [Case]
            enum CodingKeys: String, CodingKey {
                case name, base, normalizer, preTokenizer = "pre_tokenizer", postProcessor = "post_processor"
                case decoder, modelOptions = "model_options", cases
            }
        }
        var bases: [String: Base]
        var variants: [Variant]

        /// The variant's `tokenizer.json` text, put together exactly as the script did.
        func json(_ v: Variant) -> String {
            let b = bases[v.base]!
            return #"{"version":"1.0","truncation":null,"padding":null,"added_tokens":"# + b.addedTokens
                + #","normalizer":"# + v.normalizer + #","pre_tokenizer":"# + v.preTokenizer
                + #","post_processor":"# + v.postProcessor + #","decoder":"# + v.decoder
                + #","model":"# + v.modelOptions.dropLast() + #","vocab":"# + b.vocab + #","merges":"# + b.merges + "}}"
        }
    }
    /// `llama2c_tok512_cases.json`: ids from a Python transcription of run.c over tok512.bin.
    struct Llama2c: Decodable {
        struct Case: Decodable {
            var text: String, ids: [Int], idsBOS: [Int], idsBOSEOS: [Int], decodedBytes: [UInt8], decodedAfterBOS: String
            enum CodingKeys: String, CodingKey {
                case text, ids, idsBOS = "ids_bos", idsBOSEOS = "ids_bos_eos", decodedBytes = "decoded_bytes"
                case decodedAfterBOS = "decoded_after_bos"
            }
        }
        var maxTokenLength: Int, piece410: String, score511: Float, cases: [Case], referenceFirst40Decoded: String
        enum CodingKeys: String, CodingKey {
            case maxTokenLength = "max_token_length", piece410 = "piece_410", score511 = "score_511", cases
            case referenceFirst40Decoded = "reference_first_40_decoded"
        }
    }
    /// `gemma3_goldens.json`: HF ids over the Gemma 3 270M GGUF vocabulary.
    struct Gemma3: Decodable {
        var vocabSize: Int, bos: Int, eos: Int, ggufBytes: Int
        var cases: [Case]
        var decodeCases: [DecodeCase]
        var shakespeareNoBOS: Summary
        enum CodingKeys: String, CodingKey {
            case vocabSize = "vocab_size", bos, eos, ggufBytes = "gguf_bytes", cases, decodeCases = "decode_cases"
            case shakespeareNoBOS = "shakespeare_no_bos"
        }
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        guard let url = SharedData.fixture("tokenizer/" + name) else {
            throw GPT2Files.MissingSharedFile(message: "fixtures/tokenizer/\(name) is missing (scripts/make_tokenizer_fixtures_2.py)")
        }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }

    static func folder(_ name: String) -> URL { SharedData.fixturesRoot.appendingPathComponent("tokenizer/" + name) }
    static var trainedAvailable: Bool { SharedData.fixture("tokenizer/trained_goldens.json") != nil }
}

/// Compares one golden case: ids with/without special tokens added, with specials not parsed, and
/// both decodes (byte for byte).
func expectGolden(_ tokenizer: any TextTokenizer, _ c: Fixtures2.Case, _ label: String) throws {
    let name = "\(label) \(String(reflecting: String(c.text.prefix(50))))"
    #expect(try tokenizer.encode(c.text) == c.ids, "\(name) ids")
    #expect(try tokenizer.encode(c.text, parseSpecial: true, addSpecialTokens: false) == c.idsPlain, "\(name) without special tokens")
    if let plain = c.idsNoSpecial {
        #expect(try tokenizer.encode(c.text, parseSpecial: false) == plain, "\(name) specials not parsed")
    }
    #expect(Array(try tokenizer.decode(c.ids, skipSpecial: false).utf8) == Array(c.decoded.utf8), "\(name) decode")
    #expect(Array(try tokenizer.decode(c.ids, skipSpecial: true).utf8) == Array(c.decodedSkip.utf8), "\(name) decode skipping specials")
}
