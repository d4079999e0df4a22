import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// Llama-3-, Qwen2- and Gemma-style tokenizers trained on tiny Shakespeare with HF `tokenizers`
/// (`fixtures/tokenizer/{llama3,qwen2,gemma}_style/`), against HF's ids and decodes in
/// `trained_goldens.json`. Exact comparison.
@Suite("Llama 3 / Qwen2 / Gemma-style tokenizer.json vs Hugging Face")
struct TrainedGoldenTests {
    static let skip: Comment = "fixtures/tokenizer/trained_goldens.json is missing (run scripts/make_tokenizer_fixtures_2.py)"

    @Test("Tokenizers.load(directory:) picks the class and matches every golden case",
          .enabled(if: Fixtures2.trainedAvailable, skip),
          arguments: [("llama3_style", true), ("qwen2_style", false), ("gemma_style", true)])
    func folder(name: String, addsBOS: Bool) throws {
        let family = try Fixtures2.load(Fixtures2.Trained.self, "trained_goldens.json").family(name)
        let tokenizer = try Tokenizers.load(directory: Fixtures2.folder(name))
        #expect((tokenizer is SentencePieceBPETokenizer) == (name == "gemma_style"))
        #expect((tokenizer is ByteLevelBPETokenizer) == (name != "gemma_style"))
        #expect(tokenizer.vocabularySize == family.vocabSize)
        #expect(tokenizer.addsBOS == addsBOS)
        #expect(family.cases.count >= 60)
        for c in family.cases { try expectGolden(tokenizer, c, name) }
        for c in family.decodeCases {
            #expect(Array(try tokenizer.decode(c.ids).utf8) == Array(c.decoded.utf8), "\(name) decode \(c.ids)")
        }
    }

    @Test("the explicit initializers give the same ids as the folder loader", .enabled(if: Fixtures2.trainedAvailable, skip))
    func explicitInitializers() throws {
        let goldens = try Fixtures2.load(Fixtures2.Trained.self, "trained_goldens.json")
        let url = { (name: String) in Fixtures2.folder(name).appendingPathComponent("tokenizer.json") }
        let llama3 = try ByteLevelBPETokenizer(tokenizerJSON: url("llama3_style"))
        let qwen2 = try ByteLevelBPETokenizer(tokenizerJSON: url("qwen2_style"))
        let gemma = try SentencePieceBPETokenizer(tokenizerJSON: url("gemma_style"))
        for (t, family) in [(llama3 as any TextTokenizer, goldens.llama3), (qwen2, goldens.qwen2), (gemma, goldens.gemma)] {
            for c in family.cases { try expectGolden(t, c, "\(type(of: t))") }
        }
        // Without tokenizer_config.json, Llama 3's BOS is the template's token.
        #expect(llama3.bosTokenID == 1000 && llama3.tokenID(forContent: "<|begin_of_text|>") == 1000)
        #expect(qwen2.bosTokenID == 1000 && qwen2.eosTokenID == 1000 && !qwen2.addsBOS)   // <|endoftext|>
        #expect(gemma.bosTokenID == 2 && gemma.eosTokenID == 1 && gemma.padTokenID == 0 && gemma.unknownTokenID == 3)
    }

    @Test("special tokens: tokenizer_config.json names and add_bos_token", .enabled(if: Fixtures2.trainedAvailable, skip))
    func specialTokens() throws {
        let llama3 = try Tokenizers.load(directory: Fixtures2.folder("llama3_style"))
        #expect(llama3.bosTokenID == 1000 && llama3.eosTokenID == 1001)   // from tokenizer_config.json
        #expect(try llama3.encode("Hi") == [1000, 39, 72])
        #expect(try llama3.encode("Hi", parseSpecial: true, addSpecialTokens: false) == [39, 72])

        // add_bos_token false removes the template's BOS; add_eos_token true adds EOS (transformers 5).
        let dir = try temporaryDirectory()
        try FileManager.default.copyItem(at: Fixtures2.folder("gemma_style").appendingPathComponent("tokenizer.json"),
                                         to: dir.appendingPathComponent("tokenizer.json"))
        let config = dir.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"add_bos_token": false, "bos_token": "<bos>", "eos_token": "<eos>"}"#.utf8).write(to: config)
        let noBOS = try Tokenizers.load(directory: dir)
        #expect(!noBOS.addsBOS && noBOS.bosTokenID == 2)
        #expect(try noBOS.encode("Hi") == noBOS.encode("Hi", parseSpecial: true, addSpecialTokens: false))
        try Data(#"{"add_bos_token": true, "add_eos_token": true, "eos_token": "<end_of_turn>"}"#.utf8).write(to: config)
        let both = try Tokenizers.load(directory: dir)
        let plain = try both.encode("Hi", parseSpecial: true, addSpecialTokens: false)
        #expect(try both.encode("Hi") == [2] + plain + [6])
        try Data(#"{"bos_token": "<nope>"}"#.utf8).write(to: config)
        #expect(throws: TokenizerError.tokenNotInVocabulary(file: "tokenizer_config.json/special_tokens_map.json",
                                                            field: "bos_token", token: "<nope>")) {
            try Tokenizers.load(directory: dir)
        }
        try Data(#"{"add_bos_token": "yes"}"#.utf8).write(to: config)
        #expect(throws: TokenizerError.malformedJSON(file: "tokenizer_config.json", field: "add_bos_token",
                                                     reason: "expected true or false")) {
            try Tokenizers.load(directory: dir)
        }
    }

    @Test("ignore_merges is read (Llama 3 style sets it) and a Qwen2-style NFC normalizer unifies NFC/NFD",
          .enabled(if: Fixtures2.trainedAvailable, skip))
    func normalisation() throws {
        let qwen2 = try Tokenizers.load(directory: Fixtures2.folder("qwen2_style"))
        let llama3 = try Tokenizers.load(directory: Fixtures2.folder("llama3_style"))
        #expect(try qwen2.encode("caf\u{E9}") == qwen2.encode("cafe\u{301}"))
        #expect(try llama3.encode("caf\u{E9}") != llama3.encode("cafe\u{301}"))
    }

    @Test("all of tiny Shakespeare: HF's count, first ids and fingerprint; decode round trips",
          .enabled(if: Fixtures2.trainedAvailable && SharedData.url("text/tinyshakespeare.txt") != nil,
                   "needs fixtures and ../shared/data/text/tinyshakespeare.txt"))
    func shakespeare() throws {
        let text = try String(contentsOf: SharedData.url("text/tinyshakespeare.txt")!, encoding: .utf8)
        let goldens = try Fixtures2.load(Fixtures2.Trained.self, "trained_goldens.json")
        let sample = String(text.prefix(20_000))
        for name in ["llama3_style", "qwen2_style", "gemma_style"] {
            let t = try Tokenizers.load(directory: Fixtures2.folder(name))
            let all = try t.encode(text)
            #expect(goldens.family(name).shakespeare.matches(all), "\(name): \(all.count) tokens, first \(all.prefix(16))")
            let ids = try t.encode(sample, parseSpecial: true, addSpecialTokens: false)
            #expect(try t.decode(ids) == sample, "\(name)")
            #expect(ids.count < sample.utf8.count / 2, "\(name): \(ids.count) tokens")
            let streamed = try ids.flatMap { try t.tokenBytes($0) }
            #expect(streamed == Array(sample.utf8), "\(name) tokenBytes")
        }
    }
}

extension TrainedGoldenTests {
    @Test("concurrent encodes through the shared regex (Llama 3 style) and SentencePiece caches equal serial ones",
          .enabled(if: Fixtures2.trainedAvailable && SharedData.url("text/tinyshakespeare.txt") != nil,
                   "needs fixtures and ../shared/data/text/tinyshakespeare.txt"))
    func concurrentEncode() throws {
        let text = try String(contentsOf: SharedData.url("text/tinyshakespeare.txt")!, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(2_000).map(String.init)
        for name in ["llama3_style", "gemma_style"] {
            let shared = try Tokenizers.load(directory: Fixtures2.folder(name))
            let serial = try Tokenizers.load(directory: Fixtures2.folder(name))
            let chunks = 4
            let results = ResultBox(count: chunks)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var out: [[Int]] = Array(repeating: [], count: lines.count)
                for k in 0..<lines.count {
                    let i = (k * 7 + c * 501) % lines.count
                    out[i] = (try? shared.encode(lines[i])) ?? [-1]
                }
                results.set(c, out)
            }
            let expected = try lines.map { try serial.encode($0) }
            for c in 0..<chunks { #expect(results.get(c) == expected, "\(name) chunk \(c)") }
        }
    }
}

/// ~30 small `tokenizer.json` variants that swap one component (component_goldens.json).
@Suite("tokenizer.json components vs Hugging Face")
struct ComponentGoldenTests {
    static var available: Bool { SharedData.fixture("tokenizer/component_goldens.json") != nil }

    @Test("each variant: ids with and without special tokens, decodes",
          .enabled(if: available, "fixtures/tokenizer/component_goldens.json is missing"))
    func variants() throws {
        let goldens = try Fixtures2.load(Fixtures2.Components.self, "component_goldens.json")
        #expect(goldens.variants.count >= 25)
        for v in goldens.variants {
            let tokenizer: any TextTokenizer
            do {
                tokenizer = try Tokenizers.load(tokenizerJSONData: Data(goldens.json(v).utf8), fileName: v.name)
            } catch {
                Issue.record("\(v.name): \(error)")
                continue
            }
            #expect((tokenizer is ByteLevelBPETokenizer) == (v.base == "byte"), "\(v.name)")
            for c in v.cases { try expectGolden(tokenizer, c, v.name) }
        }
    }
}
