import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport
import Testing

@Suite("isaerft command line", .enabled(if: CLI.available, "the isaerft binary is not built (run swift build first)"))
struct CLITests {
    let tinyA = SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a")

    /// A clean failure: status 1, exactly one line on stderr that starts with "isaerft: error:", no trace.
    func expectOneErrorLine(_ r: CLI.Result, mentioning needle: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 1, "status \(r.status); stderr: \(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("isaerft: error: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(needle), "expected '\(needle)' in: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), sourceLocation: sourceLocation)
    }

    @Test("run --ids writes input_ids, logits equal to transformers', and hooks under their names")
    func runIDs() throws {
        let dir = try CLI.temporaryFolder()
        let reference = try SafeTensorsFile(url: tinyA.appendingPathComponent("reference.safetensors"))
        let ids = try reference.int64s("single.input_ids").values.map(String.init).joined(separator: ",")
        let out = dir.appendingPathComponent("out.safetensors")
        let r = try CLI.run(["run", "--model", tinyA.path, "--ids", ids, "--hooks",
                             "blocks.1.hook_resid_post,blocks.0.attn.hook_pattern,blocks.0.attn.hook_z", "--output", out.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let file = try SafeTensorsFile(url: out)
        let logits = try file.tensor("logits")
        let want = try reference.tensor("single.logits")
        #expect(logits.shape == Array(want.shape.dropFirst()))
        let c = compare(logits.scalars, want.scalars, atol: 1e-4, rtol: 0)
        #expect(c.passed, "\(c)")
        let resid = try file.tensor("blocks.1.hook_resid_post")
        let wantResid = try reference.tensor("single.hook.blocks.1.hook_resid_post")
        #expect(compare(resid.scalars, wantResid.scalars, atol: 1e-4, rtol: 0).passed)
        #expect(file.info("blocks.0.attn.hook_pattern")?.shape == [4, 16, 16])
        #expect(file.info("blocks.0.attn.hook_z")?.shape == [16, 4, 16])
        #expect(try file.int64s("input_ids").shape == [16])
        #expect(r.stdout.contains("\"output\""))
    }

    @Test("run --input JSONL keeps the batch axis and writes the attention mask")
    func runJSONL() throws {
        let dir = try CLI.temporaryFolder()
        let input = dir.appendingPathComponent("in.jsonl")
        try Data("{\"ids\": [1, 2, 3, 4]}\n\n{\"input_ids\": [5, 6]}\n".utf8).write(to: input)
        let out = dir.appendingPathComponent("out.safetensors")
        let r = try CLI.run(["run", "--model", tinyA.path, "--input", input.path, "--hooks", "blocks.0.hook_resid_pre",
                             "--logits", "last", "--output", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let file = try SafeTensorsFile(url: out)
        #expect(file.info("blocks.0.hook_resid_pre")?.shape == [2, 4, 64])
        #expect(file.info("logits")?.shape == [2, 1, 1000])
        #expect(try file.int64s("attention_mask").values == [1, 1, 1, 1, 1, 1, 0, 0])
    }

    @Test("bad input: one clear error line and exit status 1")
    func errors() throws {
        let dir = try CLI.temporaryFolder()
        let out = dir.appendingPathComponent("o.safetensors").path
        // Unknown hook name.
        expectOneErrorLine(try CLI.run(["run", "--model", tinyA.path, "--ids", "1,2", "--hooks", "blocks.0.hook_nope", "--output", out]),
                           mentioning: "blocks.0.hook_nope")
        // Missing model folder.
        expectOneErrorLine(try CLI.run(["run", "--model", "/nonexistent/model", "--ids", "1", "--output", out]),
                           mentioning: "/nonexistent/model")
        // Truncated safetensors.
        let trunc = dir.appendingPathComponent("trunc")
        try FileManager.default.createDirectory(at: trunc, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: tinyA.appendingPathComponent("config.json"), to: trunc.appendingPathComponent("config.json"))
        let weights = try Data(contentsOf: tinyA.appendingPathComponent("model.safetensors"))
        try weights.prefix(weights.count / 2).write(to: trunc.appendingPathComponent("model.safetensors"))
        expectOneErrorLine(try CLI.run(["run", "--model", trunc.path, "--ids", "1", "--output", out]), mentioning: "model.safetensors")
        // Corrupt header length.
        var corrupt = weights
        corrupt.replaceSubrange(0..<8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        try corrupt.write(to: trunc.appendingPathComponent("model.safetensors"))
        expectOneErrorLine(try CLI.run(["run", "--model", trunc.path, "--ids", "1", "--output", out]), mentioning: "model.safetensors")
        // A config that does not fit its weights.
        let bad = dir.appendingPathComponent("badconfig")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: tinyA.appendingPathComponent("config.json"))) as! [String: Any]
        config["n_layer"] = 3
        try JSONSerialization.data(withJSONObject: config).write(to: bad.appendingPathComponent("config.json"))
        try weights.write(to: bad.appendingPathComponent("model.safetensors"))
        expectOneErrorLine(try CLI.run(["run", "--model", bad.path, "--ids", "1", "--output", out]), mentioning: "h.2.")
        // Token id outside the vocabulary.
        expectOneErrorLine(try CLI.run(["run", "--model", tinyA.path, "--ids", "1,5000", "--output", out]), mentioning: "5000")
        // Malformed JSONL.
        let jsonl = dir.appendingPathComponent("bad.jsonl")
        try Data("{\"ids\": [1]}\nnot json\n".utf8).write(to: jsonl)
        expectOneErrorLine(try CLI.run(["run", "--model", tinyA.path, "--input", jsonl.path, "--output", out]), mentioning: "bad.jsonl:2")
        // A repo id that is not in an empty cache, offline.
        expectOneErrorLine(try CLI.run(["run", "--model", "someone/missing-model", "--ids", "1", "--output", out],
                                       environment: ["HF_HUB_CACHE": dir.appendingPathComponent("hf").path, "HF_HUB_OFFLINE": "1"]),
                           mentioning: "someone/missing-model")
        #expect(!FileManager.default.fileExists(atPath: out), "a failed run must not leave an output file")
    }

    @Test("--model accepts a repo id found in the Hugging Face cache (refs/main → snapshots)")
    func fromCache() throws {
        let cache = try CLI.temporaryFolder()
        let repo = cache.appendingPathComponent("models--tester--tiny-gpt2")
        let snap = repo.appendingPathComponent("snapshots/0123456789abcdef0123456789abcdef01234567")
        try FileManager.default.createDirectory(at: snap, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data("0123456789abcdef0123456789abcdef01234567".utf8).write(to: repo.appendingPathComponent("refs/main"))
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: tinyA.appendingPathComponent(f), to: snap.appendingPathComponent(f))
        }
        let out = cache.appendingPathComponent("o.safetensors")
        let r = try CLI.run(["run", "--model", "tester/tiny-gpt2", "--ids", "1,2,3", "--output", out.path],
                            environment: ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.path))
    }

    @Test("tokenize and generate with the real GPT-2 tokenizer",
          .enabled(if: SharedData.url("gpt2-tokenizer/vocab.json") != nil, "../shared/data/gpt2-tokenizer is absent"))
    func tokenizeAndGenerate() throws {
        let dir = try CLI.temporaryFolder().appendingPathComponent("m")
        let tok = SharedData.url("gpt2-tokenizer/vocab.json")!.deletingLastPathComponent()
        let made = try CLI.run(["make-random-model", "--output", dir.path, "--layers", "1", "--width", "32", "--heads", "2",
                                "--tokenizer-from", tok.path])
        #expect(made.status == 0, "\(made.stderr)")
        let t = try CLI.run(["tokenize", "--model", dir.path, "--text", "Hello world"])
        #expect(t.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[15496, 995]")
        let g = try CLI.run(["generate", "--model", dir.path, "--prompt", "Hello", "--max-new-tokens", "4", "--json"])
        #expect(g.status == 0, "\(g.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(g.stdout.utf8)) as? [String: Any]
        #expect((obj?["ids"] as? [Int])?.count == 5)
        #expect((obj?["prompt_ids"] as? [Int]) == [15496])
    }
}
