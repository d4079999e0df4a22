import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// Reference: data.md §3 (tiny Shakespeare, GPT-2): 338,025 tokens, first ids 5962 22307 25 198 8421 …;
/// nanoGPT's 90 % / 10 % character split → 301,966 + 36,059 tokens. Exact.
@Suite("GPT-2 on tiny Shakespeare")
struct ShakespeareTests {
    static var enabled: Bool { GPT2Files.available && SharedData.url(GPT2Files.shakespearePath) != nil }
    static var note: Comment { Comment(rawValue: SharedData.missingMessage(GPT2Files.shakespearePath)) }

    @Test("338,025 tokens, first twelve ids, 90/10 split counts, exact round trip",
          .enabled(if: enabled, note), arguments: GPT2Files.Loader.allCases)
    func counts(loader: GPT2Files.Loader) throws {
        let text = try String(contentsOf: try GPT2Files.url(GPT2Files.shakespearePath), encoding: .utf8)
        let tokenizer = try loader.load()
        let clock = ContinuousClock()
        var ids: [Int] = []
        let elapsed = try clock.measure { ids = try tokenizer.encode(text, parseSpecial: true) }
        print("tiny Shakespeare (\(loader.rawValue)): \(ids.count) tokens in \(elapsed) (this build's optimisation level)")
        #expect(ids.count == 338_025)
        #expect(Array(ids.prefix(12)) == [5962, 22307, 25, 198, 8421, 356, 5120, 597, 2252, 11, 3285, 502])
        #expect(try tokenizer.decode(ids, skipSpecial: false) == text)

        let characters = Array(text)          // nanoGPT splits on Python characters (= scalars here: ASCII)
        let cut = Int(Double(characters.count) * 0.9)
        #expect(try tokenizer.encode(String(characters[..<cut])).count == 301_966)
        #expect(try tokenizer.encode(String(characters[cut...])).count == 36_059)
    }

    @Test("concurrent encodes on a shared tokenizer equal serial ones (cache is locked)",
          .enabled(if: enabled, note))
    func concurrentEncode() throws {
        let text = try String(contentsOf: try GPT2Files.url(GPT2Files.shakespearePath), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(8_000).map(String.init)
        let shared = try ByteLevelBPETokenizer(tokenizerJSON: try GPT2Files.url(GPT2Files.tokenizerPath))
        let serial = try GPT2Files.fromVocabMerges()
        let chunks = 8
        let results = ResultBox(count: chunks)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            // Every chunk encodes all lines in a different order, so the threads race on the same cache keys.
            var out: [[Int]] = Array(repeating: [], count: lines.count)
            for k in 0..<lines.count {
                let i = (k * 7 + c * 1_001) % lines.count
                out[i] = (try? shared.encode(lines[i])) ?? [-1]
            }
            results.set(c, out)
        }
        let expected = try lines.map { try serial.encode($0) }
        for c in 0..<chunks { #expect(results.get(c) == expected, "chunk \(c)") }
    }
}

/// Per-thread results collected behind a lock.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [[[Int]]]
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [[Int]]) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> [[Int]] { lock.lock(); defer { lock.unlock() }; return values[i] }
}
