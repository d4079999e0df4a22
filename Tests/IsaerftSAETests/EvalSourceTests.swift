import Foundation
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// `SAESource`: how `--sae` specs resolve, and the loose model-name comparison.
@Suite("SAE specs")
struct EvalSourceTests {
    let fixtures = SharedData.fixturesRoot.appendingPathComponent("sae")

    @Test("local folders resolve by the files they hold")
    func folders() throws {
        guard case let .folder(url, format, _, _) = try SAESource.resolve(spec: fixtures.appendingPathComponent("standard").path) else {
            Issue.record("not a folder"); return
        }
        #expect(format == .saeLens && url.lastPathComponent == "standard")
        // a file inside the folder names the folder
        guard case .folder(_, .saeLens, _, _) = try SAESource.resolve(spec: fixtures.appendingPathComponent("standard/cfg.json").path) else {
            Issue.record("cfg.json did not resolve to its folder"); return
        }
        let gs = fixtures.appendingPathComponent("gemma_scope/layer_1/width_16k/average_l0_10")
        guard case let .folder(_, f, repo, path) = try SAESource.resolve(spec: gs.path) else { Issue.record("gemma scope"); return }
        #expect(f == .gemmaScope && repo == nil && path == gs.standardizedFileURL.path)
        let sae = try SAESource.load(.folder(gs, format: .gemmaScope, repoID: "google/gemma-scope-2b-pt-res", path: "layer_1/width_16k/average_l0_10"))
        #expect(sae.config.hookName == "blocks.1.hook_resid_post" && sae.config.modelName == "gemma-2-2b")
        // Llama Scope: the release's norm_scaling_factor is found by the folder name
        let ls = try SAESource.load(try SAESource.resolve(spec: fixtures.appendingPathComponent("llama_scope/Llama3_1-8B-Base-L1R-8x").path))
        #expect(ls.foldedNormScalingFactor != nil && !ls.needsNormScalingFactor)
        #expect(throws: SAESourceError.self) { try SAESource.resolve(spec: fixtures.path) }
        #expect(throws: SAEError.self) { try SAESource.resolve(spec: "./no/such/folder") }
    }

    @Test("release/sae_id, --sae-release/--sae-id and org/repo/folder")
    func registry() throws {
        guard case let .registry(e) = try SAESource.resolve(spec: "gemma-scope-2b-pt-res-canonical/layer_5/width_16k/canonical") else {
            Issue.record("not a registry entry"); return
        }
        #expect(e.release == "gemma-scope-2b-pt-res-canonical" && e.repoID == "google/gemma-scope-2b-pt-res")
        guard case let .registry(e2) = try SAESource.resolve(spec: nil, release: "gpt2-small-res-jb", id: "blocks.8.hook_resid_pre") else {
            Issue.record("not a registry entry"); return
        }
        #expect(e2.expectsCenteredWritingWeights && e2.files == ["blocks.8.hook_resid_pre/cfg.json", "blocks.8.hook_resid_pre/sae_weights.safetensors"])
        guard case let .registry(raw) = try SAESource.resolve(spec: "someone/my-saes/layer_3/sae") else { Issue.record("raw repo"); return }
        #expect(raw.repoID == "someone/my-saes" && raw.path == "layer_3/sae")
        #expect(throws: SAESourceError.self) { try SAESource.resolve(spec: "gpt2-small-res-jb") }
        #expect(throws: SAESourceError.self) { try SAESource.resolve(spec: "nothing-like-this") }
        #expect(throws: SAEError.self) { try SAESource.resolve(spec: "gpt2-small-res-jb/blocks.99.hook_resid_pre") }
        #expect(throws: SAESourceError.self) { try SAESource.resolve(spec: "x", release: "gpt2-small-res-jb", id: "blocks.8.hook_resid_pre") }
    }

    @Test("model names compare loosely")
    func modelNames() {
        #expect(SAESource.modelNamesMatch("gpt2-small", "gpt2"))
        #expect(SAESource.modelNamesMatch("gpt2-small", "openai-community/gpt2@main"))
        #expect(SAESource.modelNamesMatch("isaerft/tiny_a", "fixtures/gpt2/tiny_a/"))
        #expect(SAESource.modelNamesMatch("google/gemma-3-270m", "gemma3-270m"))
        #expect(SAESource.modelNamesMatch("google/gemma-3-270m", "/models/gemma-3-270m-it-Q4_K_M.gguf"))
        #expect(!SAESource.modelNamesMatch("isaerft/tiny_a", "fixtures/gpt2/tiny_b_hub"))
        #expect(!SAESource.modelNamesMatch("gemma-2-2b", "meta-llama/Llama-3.1-8B"))
    }
}
