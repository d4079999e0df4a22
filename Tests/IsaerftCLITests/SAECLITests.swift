import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport
import Testing

/// `isaerft sae info | encode | eval` on the tiny GPT-2 fixture and the d_in 64 fixture SAEs.
@Suite("isaerft sae", .enabled(if: CLI.available, "the isaerft binary is not built (run swift build first)"))
struct SAECLITests {
    let fixtures = SharedData.fixturesRoot
    var sae: URL { fixtures.appendingPathComponent("sae/standard") }

    /// `fixtures/gpt2/tiny_a` with a 1000-token byte-level BPE tokenizer beside it (ids < 1000 fit the
    /// model's vocabulary), in a fresh folder named `tiny_a` so the SAEs' model_name matches.
    func tinyModel() throws -> URL {
        let dir = try CLI.temporaryFolder().appendingPathComponent("tiny_a")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent("gpt2/tiny_a/\(f)"), to: dir.appendingPathComponent(f))
        }
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("tokenizer/qwen2_style/tokenizer.json"),
                                         to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    func textFile() throws -> URL {
        let url = try CLI.temporaryFolder().appendingPathComponent("text.txt")
        let text = (0..<60).map { "Line \($0): the quick brown fox jumps over the lazy dog, again and again." }.joined(separator: "\n")
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Status 1 and exactly one line on stderr starting with "isaerft: error:" and naming `needle`.
    func expectOneErrorLine(_ r: CLI.Result, mentioning needle: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 1, "status \(r.status); stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.split(separator: "\n").count == 1, "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("isaerft: error: "), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr.contains(needle), "expected '\(needle)' in: \(r.stderr)", sourceLocation: sourceLocation)
    }

    func json(_ s: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
    }

    // MARK: - info

    @Test("sae info describes a local SAELens folder, in text and JSON")
    func infoLocal() throws {
        let text = try CLI.run(["sae", "info", "--sae", sae.path])
        #expect(text.status == 0, "\(text.stderr)")
        for needle in ["architecture: standard", "d_in: 64", "d_sae: 128", "hook_name: blocks.0.hook_resid_post", "model_name: isaerft/tiny_a"] {
            #expect(text.stdout.contains(needle), "\(needle) in \(text.stdout)")
        }
        let r = try CLI.run(["sae", "info", "--sae", fixtures.appendingPathComponent("sae/topk").path, "--json"])
        let j = try json(r.stdout)
        #expect(j["architecture"] as? String == "topk")
        #expect(j["k"] as? Int == 8)
        #expect(j["normalize_activations"] as? String == "none")
    }

    /// A registry id resolved through a Hugging Face cache prepared by hand (offline): only cfg.json
    /// is needed, and the release's settings (center_writing_weights, Neuronpedia id) are shown.
    @Test("sae info resolves release/sae_id through the HF cache")
    func infoRegistry() throws {
        let cache = try CLI.temporaryFolder()
        let repo = cache.appendingPathComponent("models--jbloom--GPT2-Small-SAEs-Reformatted")
        let commit = String(repeating: "a", count: 40)
        let folder = repo.appendingPathComponent("snapshots/\(commit)/blocks.0.hook_resid_pre")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        try FileManager.default.copyItem(at: sae.appendingPathComponent("cfg.json"), to: folder.appendingPathComponent("cfg.json"))
        let env = ["HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"]
        let r = try CLI.run(["sae", "info", "--sae", "gpt2-small-res-jb/blocks.0.hook_resid_pre", "--json"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        let j = try json(r.stdout)
        #expect(j["neuronpedia_id"] as? String == "gpt2-small/0-res-jb")
        #expect(j["center_writing_weights"] as? Bool == true)
        let reg = try #require(j["registry"] as? [String: Any])
        #expect(reg["release"] as? String == "gpt2-small-res-jb")
        #expect(reg["repo_id"] as? String == "jbloom/GPT2-Small-SAEs-Reformatted")
        // the same through --sae-release / --sae-id
        let r2 = try CLI.run(["sae", "info", "--sae-release", "gpt2-small-res-jb", "--sae-id", "blocks.0.hook_resid_pre"], environment: env)
        #expect(r2.status == 0 && r2.stdout.contains("neuronpedia_id: gpt2-small/0-res-jb"), "\(r2.stderr)")
        // weights are not cached: encoding needs them and fails offline with one line
        let r3 = try CLI.run(["sae", "encode", "--model", try tinyModel().path, "--sae", "gpt2-small-res-jb/blocks.0.hook_resid_pre",
                              "--ids", "1,2", "--output", cache.appendingPathComponent("x.safetensors").path], environment: env)
        expectOneErrorLine(r3, mentioning: "sae_weights.safetensors")
    }

    // MARK: - encode

    /// `sae_in` is exactly the hook value `isaerft run` records; shapes and ids as documented.
    @Test("sae encode writes feature_acts, sae_out, sae_in and input_ids")
    func encode() throws {
        let model = try tinyModel()
        let dir = try CLI.temporaryFolder()
        let out = dir.appendingPathComponent("enc.safetensors"), ran = dir.appendingPathComponent("run.safetensors")
        let ids = "999,5,17,3,88,41,2,60,9"
        let r = try CLI.run(["sae", "encode", "--model", model.path, "--sae", sae.path, "--ids", ids, "--output", out.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try json(r.stdout)["tokens"] as? Int == 9)
        let run = try CLI.run(["run", "--model", model.path, "--ids", ids, "--hooks", "blocks.0.hook_resid_post", "--logits", "none",
                               "--output", ran.path])
        #expect(run.status == 0, "\(run.stderr)")
        let file = try SafeTensorsFile(url: out)
        #expect(file.info("feature_acts")?.shape == [9, 128])
        #expect(file.info("sae_out")?.shape == [9, 64])
        #expect(try file.int64s("input_ids").values == [999, 5, 17, 3, 88, 41, 2, 60, 9])
        #expect(try file.tensor("sae_in").scalars == SafeTensorsFile(url: ran).tensor("blocks.0.hook_resid_post").scalars)
        let f = try file.tensor("feature_acts").scalars
        #expect(f.allSatisfy { $0 >= 0 } && f.contains { $0 > 0 })
    }

    @Test("sae encode --text puts BOS first (the SAE's prepend_bos); --no-prepend-bos does not")
    func encodeText() throws {
        let model = try tinyModel()
        let out = try CLI.temporaryFolder().appendingPathComponent("enc.safetensors")
        let r = try CLI.run(["sae", "encode", "--model", model.path, "--sae", sae.path, "--text", "the lazy dog", "--output", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let ids = try SafeTensorsFile(url: out).int64s("input_ids").values
        #expect(ids.first == 999)
        let r2 = try CLI.run(["sae", "encode", "--model", model.path, "--sae", sae.path, "--text", "the lazy dog", "--no-prepend-bos",
                              "--output", out.path])
        #expect(r2.status == 0, "\(r2.stderr)")
        #expect(try SafeTensorsFile(url: out).int64s("input_ids").values == Array(ids.dropFirst()))
    }

    /// The legacy fixture's cfg carries model_from_pretrained_kwargs {center_writing_weights: true}
    /// (like gpt2-small-res-jb): the model is loaded with TransformerLens' centring, so every
    /// residual row the SAE reads has mean 0 over d_model.
    @Test("an SAE trained on centred residuals gets a centred model automatically")
    func autoCentering() throws {
        let model = try tinyModel()
        let out = try CLI.temporaryFolder().appendingPathComponent("enc.safetensors")
        let r = try CLI.run(["sae", "encode", "--model", model.path, "--sae", fixtures.appendingPathComponent("sae/legacy").path,
                             "--ids", "999,5,17,3,88", "--output", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let x = try SafeTensorsFile(url: out).tensor("sae_in")
        for row in 0..<5 {
            let mean = (0..<64).reduce(0.0) { $0 + Double(x.scalars[row * 64 + $1]) } / 64
            #expect(abs(mean) < 1e-5, "row \(row) mean \(mean)")
        }
    }

    // MARK: - eval

    @Test("sae eval --json reports SAELens' metric groups over the requested tokens")
    func eval() throws {
        let model = try tinyModel(), text = try textFile()
        let features = try CLI.temporaryFolder().appendingPathComponent("features.safetensors")
        let r = try CLI.run(["sae", "eval", "--model", model.path, "--sae", sae.path, "--dataset", text.path,
                             "--tokens", "256", "--batch-size", "4", "--json", "--feature-output", features.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "no progress lines outside a terminal: \(r.stderr)")
        let j = try json(r.stdout)
        let metrics = try #require(j["metrics"] as? [String: [String: Any]])
        #expect(Set(metrics.keys) == ["model_behavior_preservation", "model_performance_preservation", "reconstruction_quality",
                                      "shrinkage", "sparsity", "token_stats"])
        #expect(metrics["token_stats"]?["total_tokens_eval_reconstruction"] as? Int == 256)   // 16 contexts of 16
        for key in ["ce_loss_score", "ce_loss_with_sae", "ce_loss_without_sae", "ce_loss_with_ablation"] {
            #expect(metrics["model_performance_preservation"]?[key] is Double, "\(key)")
        }
        #expect((metrics["sparsity"]?["l0"] as? Double ?? 0) > 0)
        let cfg = try #require(j["eval_cfg"] as? [String: Any])
        #expect(cfg["context_size"] as? Int == 16)                         // the SAE's context_size
        #expect(cfg["n_eval_reconstruction_batches"] as? Int == 4)
        #expect((j["latent_density"] as? [String: Any])?["dead_fraction"] is Double)
        #expect(try SafeTensorsFile(url: features).info("feature_density")?.shape == [128])
        // the table
        let t = try CLI.run(["sae", "eval", "--model", model.path, "--sae", sae.path, "--dataset", text.path, "--tokens", "64"])
        #expect(t.status == 0 && t.stdout.contains("explained_variance") && t.stdout.contains("dead_fraction"), "\(t.stderr)")
    }

    // MARK: - errors

    @Test("SAE/model mismatches: one error line, exit status 1")
    func mismatch() throws {
        let other = fixtures.appendingPathComponent("gpt2/tiny_b_hub").path   // width 48, another model
        let out = try CLI.temporaryFolder().appendingPathComponent("x.safetensors").path
        expectOneErrorLine(try CLI.run(["sae", "encode", "--model", other, "--sae", sae.path, "--ids", "1,2", "--output", out]),
                           mentioning: "trained on model 'isaerft/tiny_a'")
        expectOneErrorLine(try CLI.run(["sae", "encode", "--model", other, "--sae", sae.path, "--ids", "1,2", "--output", out,
                                        "--ignore-model-name"]), mentioning: "d_in 64 does not match")
    }

    @Test("missing files, malformed cfg.json, unknown releases: one error line, exit status 1")
    func badSAEs() throws {
        let model = try tinyModel()
        let dir = try CLI.temporaryFolder()
        let out = dir.appendingPathComponent("x.safetensors").path
        func encode(_ spec: String, env: [String: String] = [:]) throws -> CLI.Result {
            try CLI.run(["sae", "encode", "--model", model.path, "--sae", spec, "--ids", "1,2", "--output", out], environment: env)
        }
        expectOneErrorLine(try encode("/no/such/sae"), mentioning: "/no/such/sae")
        let noWeights = dir.appendingPathComponent("no_weights")
        try FileManager.default.createDirectory(at: noWeights, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: sae.appendingPathComponent("cfg.json"), to: noWeights.appendingPathComponent("cfg.json"))
        expectOneErrorLine(try encode(noWeights.path), mentioning: "sae_weights.safetensors")
        let bad = dir.appendingPathComponent("bad_cfg")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        try Data("{\"d_in\": 64, \"d_sae\": ".utf8).write(to: bad.appendingPathComponent("cfg.json"))
        expectOneErrorLine(try encode(bad.path), mentioning: "cfg.json")
        try Data("{\"d_in\": \"wide\", \"d_sae\": 128, \"architecture\": \"standard\"}".utf8).write(to: bad.appendingPathComponent("cfg.json"))
        expectOneErrorLine(try CLI.run(["sae", "info", "--sae", bad.path]), mentioning: "d_in")
        expectOneErrorLine(try CLI.run(["sae", "info", "--sae", dir.path]), mentioning: "not an SAE folder")
        expectOneErrorLine(try CLI.run(["sae", "info", "--sae", "no-such-release/x"]), mentioning: "not found")
        expectOneErrorLine(try CLI.run(["sae", "info", "--sae", "gpt2-small-res-jb/blocks.99.hook_resid_pre"]), mentioning: "has no SAE")
        expectOneErrorLine(try CLI.run(["sae", "info", "--sae", "gpt2-small-res-jb"]), mentioning: "needs an SAE id")
        let empty = try CLI.temporaryFolder()
        expectOneErrorLine(try encode("gpt2-small-res-jb/blocks.0.hook_resid_pre", env: ["HF_HUB_CACHE": empty.path, "HF_HUB_OFFLINE": "1"]),
                           mentioning: "GPT2-Small-SAEs-Reformatted")
        expectOneErrorLine(try CLI.run(["sae", "eval", "--model", model.path, "--sae", sae.path, "--dataset", "/no/such/data.txt"]),
                           mentioning: "/no/such/data.txt")
    }
}
