import Foundation
import IsaerftSAE
import IsaerftTestSupport
import Testing

@Suite("SAE registry")
struct SAERegistryTests {
    @Test("gpt2-small-res-jb: resid_pre of blocks 0…11 and the final resid_post, centred model")
    func gpt2() throws {
        let ids = try SAERegistry.ids(release: "gpt2-small-res-jb")
        #expect(ids == (0..<12).map { "blocks.\($0).hook_resid_pre" } + ["blocks.11.hook_resid_post"])
        let e = try SAERegistry.lookup(release: "gpt2-small-res-jb", id: "blocks.8.hook_resid_pre")
        #expect(e.repoID == "jbloom/GPT2-Small-SAEs-Reformatted" && e.path == "blocks.8.hook_resid_pre")
        #expect(e.files == ["blocks.8.hook_resid_pre/cfg.json", "blocks.8.hook_resid_pre/sae_weights.safetensors"])
        #expect(e.optionalFiles == ["blocks.8.hook_resid_pre/sparsity.safetensors"])
        #expect(e.format == .saeLens && e.modelName == "gpt2-small" && e.hookName == "blocks.8.hook_resid_pre")
        #expect(e.expectsCenteredWritingWeights)
        #expect(e.neuronpediaID == "gpt2-small/8-res-jb")
    }

    @Test("Gemma Scope canonical ids resolve to a concrete folder")
    func gemmaScope() throws {
        let e = try SAERegistry.lookup(release: "gemma-scope-2b-pt-res-canonical", id: "layer_20/width_16k/canonical")
        #expect(e.repoID == "google/gemma-scope-2b-pt-res" && e.path == "layer_20/width_16k/average_l0_71")
        #expect(e.files == ["layer_20/width_16k/average_l0_71/params.npz"] && e.format == .gemmaScope)
        #expect(e.hookName == "blocks.20.hook_resid_post" && !e.expectsCenteredWritingWeights)
        #expect(try SAERegistry.lookup(release: "gemma-scope-2b-pt-res", id: "embedding/width_4k/average_l0_6").hookName == "hook_embed")
    }

    @Test("Gemma Scope 2 for gemma-3-270m and Llama Scope")
    func others() throws {
        let g = try SAERegistry.lookup(release: "gemma-scope-2-270m-pt-res", id: "layer_12_width_16k_l0_medium")
        #expect(g.repoID == "google/gemma-scope-2-270m-pt" && g.path == "resid_post/layer_12_width_16k_l0_medium")
        #expect(g.files == ["resid_post/layer_12_width_16k_l0_medium/params.safetensors"])
        #expect(g.hookName == "blocks.12.hook_resid_post" && g.modelName == "google/gemma-3-270m")
        let a = try SAERegistry.lookup(release: "gemma-scope-2-270m-it-att", id: "layer_12_width_16k_l0_medium")
        #expect(a.hookName == "blocks.12.attn.hook_z" && a.modelName == "google/gemma-3-270m-it")
        let l = try SAERegistry.lookup(release: "llama_scope_lxr_8x", id: "l1r_8x")
        #expect(l.path == "Llama3_1-8B-Base-L1R-8x" && l.format == .llamaScope && l.normScalingFactor != nil)
        #expect(l.files == ["Llama3_1-8B-Base-L1R-8x/hyperparams.json", "Llama3_1-8B-Base-L1R-8x/checkpoints/final.safetensors"])
        #expect(l.hookName == "blocks.1.hook_resid_post")
        #expect(try SAERegistry.lookup(release: "llama_scope_lxm_32x", id: "l3m_32x").hookName == "blocks.3.hook_mlp_out")
    }

    @Test("unknown releases and ids are errors with examples; repo ids pass through")
    func errors() throws {
        #expect(throws: SAEError.self) { try SAERegistry.lookup(release: "gpt3-res", id: "x") }
        do { _ = try SAERegistry.lookup(release: "gpt2-small-res-jb", id: "blocks.99.hook_resid_pre"); Issue.record("expected an error") }
        catch let e as SAEError { #expect(e.description.contains("blocks.0.hook_resid_pre")) }
        let raw = try SAERegistry.lookup(release: "someone/my-saes", id: "layer_3")
        #expect(raw.files == ["layer_3/cfg.json", "layer_3/sae_weights.safetensors"])
    }

    /// The converter fixtures are laid out as their repositories are, under real registry ids:
    /// loading through the registry reproduces SAELens' from_pretrained (see SAELensParityTests).
    @Test("registry entries load the converter fixtures", arguments: SAEFixture.converted)
    func loadsFixture(name: String) throws {
        let note = try SAEFixture.note(name)
        let e = try SAERegistry.lookup(release: note["release"]!.stringValue!, id: note["sae_id"]!.stringValue!)
        for f in e.files {
            #expect(FileManager.default.fileExists(atPath: SAEFixture.root.appendingPathComponent("\(name)/\(f)").path), "\(f)")
        }
        let sae = try SparseAutoencoder.load(e, from: SAEFixture.root.appendingPathComponent(name))
        #expect(sae.config.hookName == e.hookName)
    }
}
