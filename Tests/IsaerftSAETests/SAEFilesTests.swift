import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// Configs, saving in SAELens' layout, and the NumPy reader.
@Suite("SAE files")
struct SAEFilesTests {
    /// Our config, written back, equals SAELens' `cfg.to_dict()` of the same SAE after loading
    /// (v6 folders, the pre-6 flat layout, and the converters), key for key.
    @Test("configs equal SAELens' to_dict", arguments: SAEFixture.all)
    func configEqualsSAELens(name: String) throws {
        let ours = try SAEFixture.load(name).config.jsonValue
        var theirs = try SAEFixture.saelensConfig(name)
        // The folded expected_average SAE: SAELens' to_dict was taken after folding too.
        let oursKeys = ours.objectPairs!.map(\.0), theirKeys = theirs.objectPairs!.map(\.0)
        #expect(oursKeys == theirKeys, "\(name): top-level keys")
        let meta = theirs["metadata"]!
        var ourMeta = ours["metadata"]!
        #expect(Set(ourMeta.objectPairs!.map(\.0)) == Set(meta.objectPairs!.map(\.0)), "\(name): metadata keys \(ourMeta) vs \(meta)")
        ourMeta.set("sae_lens_training_version", meta["sae_lens_training_version"]!)
        #expect(ourMeta == meta, "\(name): metadata")
        theirs.set("metadata", ourMeta)
        var oursCopy = ours
        oursCopy.set("metadata", ourMeta)
        #expect(oursCopy == theirs, "\(name): \(ours) vs \(theirs)")
    }

    /// Saving writes SAELens' folder: the same file names, tensor names, dtypes and shapes as the
    /// SAELens-written fixture, a cfg.json with the same keys and values, and loads back bitwise.
    @Test("save writes SAELens' layout and loads back identically", arguments: SAEFixture.folders)
    func saveRoundTrip(name: String) throws {
        let sae = try SAEFixture.load(name)
        let out = SAEFixture.temporaryFolder(name)
        defer { try? FileManager.default.removeItem(at: out) }
        try sae.save(folder: out)
        let source = SAEFixture.root.appendingPathComponent(name)
        let ourFiles = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        let expected = ["cfg.json", "sae_weights.safetensors"] + (sae.logSparsity != nil ? ["sparsity.safetensors"] : [])
        #expect(ourFiles == expected.sorted())
        let ours = try SafeTensorsFile(url: out.appendingPathComponent("sae_weights.safetensors"))
        let theirs = try SafeTensorsFile(url: source.appendingPathComponent("sae_weights.safetensors"))
        if !name.hasPrefix("legacy") {   // legacy fixtures carry a dropped all-ones scaling_factor
            #expect(ours.names == theirs.names, "\(name): tensor names")
            for n in theirs.names {
                #expect(ours.info(n)!.shape == theirs.info(n)!.shape && ours.info(n)!.dtype == theirs.info(n)!.dtype, "\(name): \(n)")
            }
        }
        if name != "expected_average" && !name.hasPrefix("legacy") {   // those were converted or folded on load
            let cfgOurs = try JSONValue.parse(Data(contentsOf: out.appendingPathComponent("cfg.json")))
            let cfgTheirs = try JSONValue.parse(Data(contentsOf: source.appendingPathComponent("cfg.json")))
            #expect(cfgOurs == cfgTheirs, "\(name): cfg.json \(cfgOurs) vs \(cfgTheirs)")
            if !["batchtopk", "matryoshka"].contains(name) {   // save_inference_model writes keys in set order
                #expect(cfgOurs.objectPairs!.map(\.0) == cfgTheirs.objectPairs!.map(\.0), "\(name): key order")
            }
        }
        let back = try SparseAutoencoder.load(folder: out)
        #expect(back.weights == sae.weights)
        #expect(back.config.jsonValue == sae.config.jsonValue)
        #expect(back.logSparsity == sae.logSparsity)
    }

    @Test("sparsity.safetensors is read when present")
    func sparsity() throws {
        let sae = try SAEFixture.load("standard")
        let s = try #require(sae.logSparsity)
        #expect(s.shape == [128])
        #expect(s.scalars.allSatisfy { $0 <= 0 })
        #expect(try SAEFixture.load("gated").logSparsity == nil)
    }

    @Test("expected_average_only_in: activation_scaler.json is folded; without it the SAE says so")
    func normScaling() throws {
        let folded = try SAEFixture.load("expected_average")
        #expect(folded.config.normalizeActivations == .none)
        #expect(folded.foldedNormScalingFactor == 0.37)
        // Copy the folder without activation_scaler.json: unfolded, identity at run time as in SAELens.
        let out = SAEFixture.temporaryFolder("noscaler")
        defer { try? FileManager.default.removeItem(at: out) }
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        for f in ["cfg.json", "sae_weights.safetensors"] {
            try FileManager.default.copyItem(at: SAEFixture.root.appendingPathComponent("expected_average/\(f)"), to: out.appendingPathComponent(f))
        }
        let raw = try SparseAutoencoder.load(folder: out)
        #expect(raw.needsNormScalingFactor)
        let explicit = try SparseAutoencoder.load(folder: out, normScalingFactor: 0.37)
        #expect(explicit.weights == folded.weights)
        // Estimating s from activations: √d_in / mean ‖x‖.
        let x = Tensor(shape: [2, 64], scalars: (0..<128).map { $0 < 64 ? 1 : 2 })
        #expect(abs(SparseAutoencoder.estimateNormScalingFactor(x, dIn: 64) - 8 / 12) < 1e-12)
    }

    @Test("legacy flat cfg.json converts like handle_pre_6_0_config")
    func legacy() throws {
        let sae = try SAEFixture.load("legacy_topk")
        #expect(sae.config.layout == .legacy)
        #expect(sae.config.architecture == .topk && sae.config.k == 6)
        #expect(sae.config.hookName == "blocks.1.hook_resid_pre")
        #expect(sae.config.expectsCenteredWritingWeights)
        #expect(try SAEFixture.load("standard").config.expectsCenteredWritingWeights == false)
    }

    // MARK: - NumPy

    @Test("the npz reader returns np.savez's arrays")
    func npz() throws {
        let url = SAEFixture.root.appendingPathComponent("gemma_scope/layer_1/width_16k/average_l0_10/params.npz")
        let archive = try NumPyArchive(url: url)
        #expect(archive.names == ["W_enc", "W_dec", "b_enc", "b_dec", "threshold"])
        let w = try archive.tensor("W_enc")
        #expect(w.shape == [64, 96])
        let sae = try SAEFixture.load("gemma_scope")
        #expect(sae.weights.wEnc == w)
        #expect(sae.config.hookName == "blocks.1.hook_resid_post" && !sae.config.applyBDecToInput)
    }

    /// `gemma_2_sae_huggingface_loader`: embedding SAEs get W_enc / √d_in and W_dec · √d_in (b_dec kept).
    @Test("Gemma Scope embedding SAEs are rescaled and read hook_embed")
    func gemmaEmbedding() throws {
        let url = SAEFixture.root.appendingPathComponent("gemma_scope/layer_1/width_16k/average_l0_10/params.npz")
        let plain = try SparseAutoencoder.loadGemmaScope(npz: url, repoID: "google/gemma-scope-2b-pt-res", folder: "layer_1/width_16k/average_l0_10")
        let embed = try SparseAutoencoder.loadGemmaScope(npz: url, repoID: "google/gemma-scope-2b-pt-res", folder: "embedding/width_4k/average_l0_6")
        #expect(embed.config.hookName == "hook_embed" && embed.config.modelName == "gemma-2-2b")
        #expect(embed.weights.wEnc.scalars == plain.weights.wEnc.scalars.map { $0 / 8 })
        #expect(embed.weights.wDec.scalars == plain.weights.wDec.scalars.map { $0 * 8 })
        #expect(embed.weights.bDec == plain.weights.bDec)
        let att = try SparseAutoencoder.loadGemmaScope(npz: url, repoID: "google/gemma-scope-2b-pt-att", folder: "layer_3/width_16k/average_l0_10")
        #expect(att.config.hookName == "blocks.3.attn.hook_z" && att.config.reshapeActivations == .hookZ)
    }

    @Test(".npy headers: versions, byte orders, Fortran order, dtypes")
    func npy() throws {
        func npy(_ header: String, _ payload: [UInt8], version: UInt8 = 1) -> [UInt8] {
            var h = Array(header.utf8)
            let pre = version == 1 ? 10 : 12
            while (pre + h.count + 1) % 64 != 0 { h.append(0x20) }
            h.append(0x0A)
            var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
            out += version == 1 ? [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] : [UInt8(h.count & 0xFF), UInt8(h.count >> 8), 0, 0]
            return out + h + payload
        }
        let le: [UInt8] = [1, 2, 3, 4, 5, 6].flatMap { v in withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { Array($0) } }
        let a = try npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", le).withUnsafeBytes { try NumPyArray.read($0, file: "a") }
        #expect(a == Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        // Fortran order: the same bytes are column-major.
        let f = try npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", le, version: 2).withUnsafeBytes { try NumPyArray.read($0, file: "f") }
        #expect(f == Tensor(shape: [2, 3], scalars: [1, 3, 5, 2, 4, 6]))
        let be: [UInt8] = [1.5, -2.0].flatMap { (v: Double) in withUnsafeBytes(of: v.bitPattern.bigEndian) { Array($0) } }
        let d = try npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be).withUnsafeBytes { try NumPyArray.read($0, file: "d") }
        #expect(d.scalars == [1.5, -2])
        let i: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 7, 0, 0, 0]
        let ints = try npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", i).withUnsafeBytes { try NumPyArray.read($0, file: "i") }
        #expect(ints.scalars == [-1, 7])
        #expect(throws: SAEError.self) {
            try npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", [0, 0, 0, 0, 0, 0, 0, 0]).withUnsafeBytes { try NumPyArray.read($0, file: "c") }
        }
        #expect(throws: SAEError.self) {
            try npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", [0, 0, 0, 0]).withUnsafeBytes { try NumPyArray.read($0, file: "short") }
        }
    }

    @Test("compressed npz members are refused with a clear error")
    func deflate() throws {
        // A hand-built zip whose only member claims method 8 (DEFLATE).
        var z: [UInt8] = []
        func u16(_ v: Int) { z += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
        let name = Array("x.npy".utf8)
        u32(0x0403_4B50); u16(20); u16(0); u16(8); u16(0); u16(0); u32(0); u32(2); u32(2); u16(name.count); u16(0); z += name; z += [3, 0]
        let cd = z.count
        u32(0x0201_4B50); u16(20); u16(20); u16(0); u16(8); u16(0); u16(0); u32(0); u32(2); u32(2); u16(name.count); u16(0); u16(0)
        u16(0); u16(0); u32(0); u32(0); z += name
        let cdSize = z.count - cd
        u32(0x0605_4B50); u16(0); u16(0); u16(1); u16(1); u32(cdSize); u32(cd); u16(0)
        let archive = try NumPyArchive(data: Data(z), url: URL(fileURLWithPath: "/tmp/c.npz"))
        #expect(archive.names == ["x"])
        do { _ = try archive.tensor("x"); Issue.record("expected an error") } catch let e as SAEError {
            #expect(e.description.contains("DEFLATE") && e.description.contains("c.npz"))
        }
    }
}
