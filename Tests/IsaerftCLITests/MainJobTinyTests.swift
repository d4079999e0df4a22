import Foundation
import IsaerftFiles
import IsaerftTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The README's main job in miniature (what CI runs): train-sae → tune (DPO, per-latent scale) →
/// audit on the tiny GPT-2 fixture with the project's preference data, plus kill -9 and --resume.
@Suite("main job, tiny variant", .enabled(if: CLI.available, "the isaerft binary is not built (run swift build first)"))
struct MainJobTinyTests {
    let helper = SAECLITests()

    /// `n` lines of a file of the repository's preference data, written to `url`.
    func lines(_ name: String, _ n: Int, to url: URL) throws {
        let text = try String(contentsOf: SharedData.repositoryRoot.appendingPathComponent("data/preferences/\(name)"), encoding: .utf8)
        try (text.split(separator: "\n").prefix(n).joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func records(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func bytes(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    /// Runs `args(a)` straight through, and `args(b)` killed after its first checkpoint then resumed
    /// with `--resume` (both must exit 0); returns the two output folders to compare.
    func straightAndResumed(in dir: URL, _ args: (URL) -> [String]) throws -> (URL, URL) {
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        let straight = try CLI.run(args(a))
        #expect(straight.status == 0, "\(straight.stderr)")
        try killAfterFirstCheckpoint(args(b), output: b)
        let resumed = try CLI.run(args(b) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        return (a, b)
    }

    /// Runs the binary with `args` and sends SIGKILL as soon as `output/checkpoints/` holds a
    /// checkpoint (a run that finishes first is left alone: --resume must then reproduce it too).
    func killAfterFirstCheckpoint(_ args: [String], output: URL) throws {
        let p = Process()
        p.executableURL = CLI.binary!
        p.arguments = args
        p.currentDirectoryURL = SharedData.repositoryRoot
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let checkpoints = output.appendingPathComponent("checkpoints")
        let deadline = Date().addingTimeInterval(300)
        while p.isRunning && Date() < deadline {
            let found = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path))?.contains { $0.hasPrefix("checkpoint-") } ?? false
            if found { kill(p.processIdentifier, SIGKILL); break }
            usleep(10_000)
        }
        p.waitUntilExit()
    }

    @Test("train-sae, tune and audit run end to end; DPO starts at ln 2 and the audit lists moved latents")
    func pipeline() throws {
        let dir = try CLI.temporaryFolder()
        let model = try helper.tinyModel().path
        let corpus = dir.appendingPathComponent("corpus.jsonl")
        // Text for the SAE: the prompts and replies of the preference data, one document each.
        let rows = try String(contentsOf: SharedData.repositoryRoot.appendingPathComponent("data/preferences/train.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let docs = rows.flatMap { r in ["prompt", "chosen", "rejected"].compactMap { r[$0] as? String } }
        try docs.map { String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0]), as: UTF8.self) }
            .joined(separator: "\n").write(to: corpus, atomically: true, encoding: .utf8)
        let sae = dir.appendingPathComponent("sae")
        let t = try CLI.run(["train-sae", "--model", model, "--hook", "blocks.0.hook_resid_post", "--dataset", corpus.path,
                             "--architecture", "topk", "--d-sae", "128", "--k", "8", "--batch-size", "256", "--context-size", "32",
                             "--tokens", "8192", "--eval-contexts", "4", "--output", sae.path])
        #expect(t.status == 0, "\(t.stderr)")
        for f in ["cfg.json", "sae_weights.safetensors", "sparsity.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: sae.appendingPathComponent(f).path), "\(f)")
        }

        let train = dir.appendingPathComponent("train.jsonl"), eval = dir.appendingPathComponent("eval.jsonl")
        try lines("train.jsonl", 24, to: train)
        try lines("eval.jsonl", 8, to: eval)
        let adapter = dir.appendingPathComponent("adapter")
        let tune = try CLI.run(["tune", "--model", model, "--sae", sae.path, "--data", train.path, "--eval-data", eval.path,
                                "--component", "scale", "--objective", "dpo", "--lr", "0.05", "--max-steps", "6", "--batch-size", "4",
                                "--eval-every", "3", "--no-append-eos", "--output", adapter.path, "--json"])
        #expect(tune.status == 0, "\(tune.stderr)")
        let summary = try helper.json(tune.stdout)
        #expect(summary["fast_path"] as? Bool == true)
        let recs = try records(adapter.appendingPathComponent("records.jsonl"))
        let firstEval = try #require(recs.first { $0["kind"] as? String == "eval" })
        let loss0 = try #require(firstEval["eval_loss"] as? Double)
        #expect(abs(loss0 - log(2.0)) < 1e-6, "DPO with fresh components starts at ln 2, got \(loss0)")
        #expect(recs.filter { $0["kind"] as? String == "train" }.count == 6)
        for key in ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"] {
            #expect(recs.last { $0["kind"] as? String == "train" }?[key] != nil, "records miss \(key)")
        }
        for f in ["adapter_config.json", "adapter_model.safetensors", "trajectories.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: adapter.appendingPathComponent(f).path), "\(f)")
        }

        // A second run into the same folder without --resume is refused: earlier results are never overwritten.
        let again = try CLI.run(["tune", "--model", model, "--sae", sae.path, "--data", train.path, "--max-steps", "1",
                                 "--no-append-eos", "--output", adapter.path])
        #expect(again.status == 1 && again.stderr.contains("already holds an adapter"), "\(again.stderr)")
        #expect(again.stderr.split(separator: "\n").count == 1, "one error line")

        let report = dir.appendingPathComponent("report")
        let audit = try CLI.run(["audit", adapter.path, "--data", eval.path, "--output", report.path])
        #expect(audit.status == 0, "\(audit.stderr)")
        let html = try String(contentsOf: report.appendingPathComponent("audit.html"), encoding: .utf8)
        #expect(html.contains("<svg"), "the report draws trajectories")
        let md = try String(contentsOf: report.appendingPathComponent("audit.md"), encoding: .utf8)
        #expect(md.contains("Moved up most"))
    }

    @Test("kill -9 during tune, then --resume: the same adapter, records and trajectories as an uninterrupted run")
    func killAndResume() throws {
        let dir = try CLI.temporaryFolder()
        let model = try helper.tinyModel().path
        let sae = SharedData.fixturesRoot.appendingPathComponent("sae/standard").path   // d_in 64 at blocks.0.hook_resid_post of tiny_a
        let train = dir.appendingPathComponent("train.jsonl")
        try lines("train.jsonl", 16, to: train)
        func args(_ out: URL) -> [String] {
            ["tune", "--model", model, "--sae", sae, "--data", train.path, "--eval-fraction", "0.25", "--component", "bias",
             "--objective", "dpo", "--lr", "0.05", "--max-steps", "24", "--batch-size", "4", "--checkpoint-every", "4",
             "--eval-every", "8", "--no-append-eos", "--output", out.path]
        }
        let (a, b) = try straightAndResumed(in: dir, args)
        for f in ["adapter_model.safetensors", "trajectories.safetensors"] {
            #expect(try bytes(a.appendingPathComponent(f)) == bytes(b.appendingPathComponent(f)), "\(f) differs after kill -9 and --resume")
        }
        let ra = try records(a.appendingPathComponent("records.jsonl")), rb = try records(b.appendingPathComponent("records.jsonl"))
        #expect(ra.count == rb.count)
        for (x, y) in zip(ra, rb) { #expect(x["step"] as? Int == y["step"] as? Int && x["loss"] as? Double == y["loss"] as? Double) }
    }

    @Test("kill -9 during train-sae, then --resume: sae_weights.safetensors bit-identical to an uninterrupted run; --resume on a fresh folder still estimates the norm scale")
    func killAndResumeSAE() throws {
        let dir = try CLI.temporaryFolder()
        let model = try helper.tinyModel().path
        let corpus = dir.appendingPathComponent("corpus.jsonl")
        let text = try String(contentsOf: SharedData.repositoryRoot.appendingPathComponent("data/preferences/train.jsonl"), encoding: .utf8)
        try text.write(to: corpus, atomically: true, encoding: .utf8)   // JSONL; the "chosen" field is the text
        // Every run passes --resume, as the main job does: on a fresh folder it is a fresh start, which must
        // still estimate the activation norm scale and the mean b_dec (it once skipped both).
        func args(_ out: URL) -> [String] {
            ["train-sae", "--model", model, "--hook", "blocks.0.hook_resid_post", "--dataset", corpus.path, "--text-field", "chosen",
             "--architecture", "topk", "--d-sae", "128", "--k", "8", "--batch-size", "128", "--context-size", "32",
             "--normalize-activations", "expected_average_only_in",
             "--tokens", "16384", "--checkpoint-every", "2048", "--eval-contexts", "2", "--output", out.path, "--resume"]
        }
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        let straight = try CLI.run(args(a))
        #expect(straight.status == 0, "\(straight.stderr)")
        try killAfterFirstCheckpoint(args(b), output: b)
        let resumed = try CLI.run(args(b))
        #expect(resumed.status == 0, "\(resumed.stderr)")
        for f in ["sae_weights.safetensors", "sparsity.safetensors"] {
            #expect(try bytes(a.appendingPathComponent(f)) == bytes(b.appendingPathComponent(f)), "\(f) differs after kill -9 and --resume")
        }
        let config = try helper.json(String(decoding: try bytes(a.appendingPathComponent("training_config.json")), as: UTF8.self))
        let scale = (config["trainer"] as? [String: Any])?["norm_scaling_factor"] as? Double
        #expect(scale.map { $0 > 0 && $0.isFinite } == true, "norm_scaling_factor recorded: \(String(describing: scale))")
    }
}
