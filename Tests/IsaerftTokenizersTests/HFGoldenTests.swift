import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// Reference: Hugging Face `tokenizers` (and `transformers.PreTrainedTokenizerFast`, which the
/// script checks agree) on the real GPT-2 files; goldens in `fixtures/tokenizer/gpt2_goldens.json`.
/// Comparison: exact ids and exact decoded strings (byte for byte).
@Suite("GPT-2 vs Hugging Face goldens")
struct HFGoldenTests {
    static var enabled: Bool { GPT2Files.available && HFGoldens.available }

    @Test("encode: ids with and without special parsing, decode with and without skipping",
          .enabled(if: enabled, GPT2Files.skipNote), arguments: GPT2Files.Loader.allCases)
    func goldenCases(loader: GPT2Files.Loader) throws {
        let tokenizer = try loader.load()
        let goldens = try HFGoldens.load()
        #expect(goldens.cases.count >= 70)
        for (index, c) in goldens.cases.enumerated() {
            let label = "case \(index) \(String(reflecting: String(c.text.prefix(60))))"
            #expect(try tokenizer.encode(c.text, parseSpecial: true) == c.ids, "\(label) parseSpecial")
            #expect(try tokenizer.encode(c.text, parseSpecial: false) == c.idsNoSpecial, "\(label) no specials")
            #expect(Array(try tokenizer.decode(c.ids, skipSpecial: false).utf8) == Array(c.decoded.utf8), "\(label) decode")
            #expect(Array(try tokenizer.decode(c.ids, skipSpecial: true).utf8) == Array(c.decodedSkip.utf8), "\(label) decode skip")
        }
    }

    @Test("decode: partial and invalid UTF-8 become U+FFFD exactly as Rust from_utf8_lossy",
          .enabled(if: enabled, GPT2Files.skipNote))
    func goldenDecodes() throws {
        let tokenizer = try GPT2Files.fromTokenizerJSON()
        for c in try HFGoldens.load().decodeCases {
            #expect(Array(try tokenizer.decode(c.ids, skipSpecial: false).utf8) == Array(c.decoded.utf8), "ids \(c.ids)")
            if let skip = c.decodedSkip {
                #expect(try tokenizer.decode(c.ids, skipSpecial: true) == skip, "ids \(c.ids) skip")
            }
        }
    }

    @Test("ByteLevel(add_prefix_space: true): both loaders", .enabled(if: enabled, GPT2Files.skipNote))
    func prefixSpace() throws {
        let original = try Data(contentsOf: try GPT2Files.url(GPT2Files.tokenizerPath))
        let patched = try #require(JSONPatch.replacingFirst(
            #""pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false"#,
            with: #""pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true"#, in: original))
        let fromJSON = try ByteLevelBPETokenizer(tokenizerJSONData: patched)
        let fromFiles = try ByteLevelBPETokenizer(vocabJSON: try GPT2Files.url(GPT2Files.vocabPath),
                                                  merges: try GPT2Files.url(GPT2Files.mergesPath), addPrefixSpace: true)
        for c in try HFGoldens.load().prefixSpace {
            #expect(try fromJSON.encode(c.text) == c.ids, "\(String(reflecting: c.text)) tokenizer.json")
            #expect(try fromFiles.encode(c.text) == c.ids, "\(String(reflecting: c.text)) vocab+merges")
        }
    }

    @Test("added tokens with lstrip/rstrip/single_word, special and not", .enabled(if: enabled, GPT2Files.skipNote))
    func addedTokens() throws {
        let goldens = try HFGoldens.load().addedTokens
        let entries = goldens.entriesJSON.dropFirst().dropLast()   // the list's items, without [ ]
        let original = try Data(contentsOf: try GPT2Files.url(GPT2Files.tokenizerPath))
        let patched = try #require(JSONPatch.replacingFirst(#""added_tokens":["#,
                                                            with: #""added_tokens":["# + entries + ",", in: original))
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSONData: patched)
        #expect(tokenizer.vocabularySize == 50264)
        for c in goldens.cases {
            let label = String(reflecting: c.text)
            #expect(try tokenizer.encode(c.text, parseSpecial: true) == c.ids, "\(label)")
            #expect(try tokenizer.encode(c.text, parseSpecial: false) == c.idsNoSpecial, "\(label) no specials")
            #expect(Array(try tokenizer.decode(c.ids, skipSpecial: true).utf8) == Array(c.decodedSkip.utf8), "\(label) decode")
        }
    }

    @Test("ignore_merges false/true on a synthetic byte-level BPE with [A, B] merges",
          .enabled(if: HFGoldens.available, "fixtures/tokenizer/gpt2_goldens.json is missing"))
    func ignoreMerges() throws {
        let variants = try HFGoldens.load().ignoreMerges
        #expect(variants.map(\.ignoreMerges) == [false, true])
        for v in variants {
            let tokenizer = try ByteLevelBPETokenizer(tokenizerJSONData: Data(v.tokenizerJSON.utf8))
            for c in v.cases {
                #expect(try tokenizer.encode(c.text) == c.ids, "ignore_merges \(v.ignoreMerges) \(String(reflecting: c.text))")
            }
        }
    }

    @Test("tokenizer.json with merges as [A, B] pairs built from vocab.json + merges.txt gives the same ids",
          .enabled(if: enabled, GPT2Files.skipNote))
    func mergesAsPairs() throws {
        let vocab = try Data(contentsOf: try GPT2Files.url(GPT2Files.vocabPath))
        let mergesText = try Data(contentsOf: try GPT2Files.url(GPT2Files.mergesPath))
        var json = Array(#"""
        {"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":50256,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},"post_processor":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true},"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":
        """#.utf8)
        json += vocab
        json += Array(#","merges":["#.utf8)
        var first = true
        for line in mergesText.split(separator: 0x0A) where !line.starts(with: Array("#version".utf8)) {
            let parts = line.split(separator: 0x20)
            json += Array((first ? "[" : ",[").utf8) + JSONPatch.stringLiteral(parts[0]) + [0x2C] + JSONPatch.stringLiteral(parts[1]) + [0x5D]
            first = false
        }
        json += Array("]}}".utf8)
        let pairs = try ByteLevelBPETokenizer(tokenizerJSONData: Data(json))
        let reference = try GPT2Files.fromVocabMerges()
        var texts = try GPT2Files.llamaCppCases().map(\.text)
        if HFGoldens.available { texts += try HFGoldens.load().cases.map(\.text) }
        for text in texts {
            #expect(try pairs.encode(text) == reference.encode(text), "\(String(reflecting: String(text.prefix(60))))")
        }
    }
}
