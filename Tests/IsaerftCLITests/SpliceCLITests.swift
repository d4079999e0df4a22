import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport
import Testing

/// `isaerft run --sae` and `isaerft generate --sae` on the tiny GPT-2 fixture with the fixture SAEs.
@Suite("isaerft run/generate --sae", .enabled(if: CLI.available, "the isaerft binary is not built (run swift build first)"))
struct SpliceCLITests {
    let helper = SAECLITests()
    var fixtures: URL { SharedData.fixturesRoot }
    let ids = "999,5,17,3,88,41,2,60,9"

    func sae(_ name: String) -> String { fixtures.appendingPathComponent("sae/\(name)").path }

    @Test("run --sae writes the features; the reconstruction changes the logits, --error-term does not")
    func run() throws {
        let model = try helper.tinyModel().path
        let dir = try CLI.temporaryFolder()
        let plain = dir.appendingPathComponent("plain.safetensors"), replaced = dir.appendingPathComponent("replaced.safetensors")
        let kept = dir.appendingPathComponent("kept.safetensors"), enc = dir.appendingPathComponent("enc.safetensors")
        let base = ["run", "--model", model, "--ids", ids, "--hooks", "blocks.0.hook_resid_post"]
        for (args, url) in [([String](), plain), (["--sae", sae("standard"), "--sae", sae("jumprelu")], replaced),
                            (["--sae", sae("standard"), "--sae", sae("jumprelu"), "--error-term"], kept)] {
            let r = try CLI.run(base + args + ["--output", url.path])
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        let e = try CLI.run(["sae", "encode", "--model", model, "--sae", sae("standard"), "--ids", ids, "--output", enc.path])
        #expect(e.status == 0, "\(e.stderr)")
        let p = try SafeTensorsFile(url: plain), r = try SafeTensorsFile(url: replaced), k = try SafeTensorsFile(url: kept)
        let features = try SafeTensorsFile(url: enc).tensor("feature_acts")
        // blocks.0.hook_resid_post is the standard SAE's hook and runs before any other SAE: same features.
        #expect(try r.tensor("blocks.0.hook_resid_post.hook_sae_acts_post").scalars == features.scalars)
        #expect(try k.tensor("blocks.0.hook_resid_post.hook_sae_acts_post").scalars == features.scalars)
        #expect(r.info("blocks.1.hook_resid_post.hook_sae_acts_post")?.shape == [9, 160])
        #expect(try k.tensor("logits").scalars == p.tensor("logits").scalars, "the error term keeps the model unchanged")
        #expect(try r.tensor("logits").scalars != p.tensor("logits").scalars, "the reconstruction changes the logits")
        #expect(try r.tensor("blocks.0.hook_resid_post").scalars != p.tensor("blocks.0.hook_resid_post").scalars)
    }

    @Test("generate --sae: --error-term generates what the plain model does")
    func generate() throws {
        let model = try helper.tinyModel().path
        let base = ["generate", "--model", model, "--prompt", "the quick brown fox", "--max-new-tokens", "6", "--json"]
        let plain = try CLI.run(base)
        let kept = try CLI.run(base + ["--sae", sae("standard"), "--error-term"])
        let replaced = try CLI.run(base + ["--sae", sae("hook_z")])
        for r in [plain, kept, replaced] { #expect(r.status == 0, "\(r.stderr)") }
        let pj = try helper.json(plain.stdout), kj = try helper.json(kept.stdout), rj = try helper.json(replaced.stdout)
        #expect(pj["ids"] as? [Int] == kj["ids"] as? [Int])
        #expect((rj["ids"] as? [Int])?.count == (pj["ids"] as? [Int])?.count)
        let saes = try #require(kj["saes"] as? [[String: Any]])
        #expect(saes.first?["hook_name"] as? String == "blocks.0.hook_resid_post")
        #expect(kj["sae_error_term"] as? Bool == true && rj["sae_error_term"] as? Bool == false)
    }

    @Test("SAEs that do not fit: one error line, exit status 1, before anything runs")
    func mismatch() throws {
        let other = fixtures.appendingPathComponent("gpt2/tiny_b_hub").path   // width 48, another model
        let out = try CLI.temporaryFolder().appendingPathComponent("x.safetensors").path
        helper.expectOneErrorLine(try CLI.run(["run", "--model", other, "--sae", sae("standard"), "--ids", "1,2", "--output", out]),
                                  mentioning: "trained on model 'isaerft/tiny_a'")
        helper.expectOneErrorLine(try CLI.run(["generate", "--model", other, "--sae", sae("standard"), "--prompt", "a",
                                               "--ignore-model-name"]), mentioning: "d_in 64 does not match")
        let model = try helper.tinyModel().path
        helper.expectOneErrorLine(try CLI.run(["run", "--model", model, "--sae", sae("standard"), "--sae", sae("topk"),
                                               "--ids", "1,2", "--output", out]), mentioning: "both splice at blocks.0.hook_resid_post")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
