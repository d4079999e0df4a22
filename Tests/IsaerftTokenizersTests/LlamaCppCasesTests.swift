import IsaerftTokenizers
import Testing

/// Reference: llama.cpp `models/ggml-vocab-gpt-2.gguf.inp/.out` (= HF GPT-2 ids without specials),
/// copied as `../shared/data/gpt2-tokenizer/cases.inp/.out`. Comparison: exact ids.
@Suite("GPT-2 llama.cpp vectors")
struct LlamaCppCasesTests {
    @Test("46 llama.cpp cases: exact ids", .enabled(if: GPT2Files.available, GPT2Files.skipNote),
          arguments: GPT2Files.Loader.allCases)
    func exactIDs(loader: GPT2Files.Loader) throws {
        let tokenizer = try loader.load()
        let cases = try GPT2Files.llamaCppCases()
        #expect(cases.count == 46)
        for (index, c) in cases.enumerated() {
            let ids = try tokenizer.encode(c.text, parseSpecial: false)
            #expect(ids == c.ids, "case \(index) \(String(reflecting: c.text))")
        }
    }

    @Test("46 llama.cpp cases: decode(encode(s)) == s byte for byte",
          .enabled(if: GPT2Files.available, GPT2Files.skipNote), arguments: GPT2Files.Loader.allCases)
    func roundTrip(loader: GPT2Files.Loader) throws {
        let tokenizer = try loader.load()
        for (index, c) in try GPT2Files.llamaCppCases().enumerated() {
            let decoded = try tokenizer.decode(c.ids, skipSpecial: false)
            #expect(Array(decoded.utf8) == Array(c.text.utf8), "case \(index)")
            #expect(c.ids.flatMap { try! tokenizer.tokenBytes($0) } == Array(c.text.utf8), "case \(index) token bytes")
        }
    }
}
