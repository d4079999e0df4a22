import Foundation
import Testing
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport

/// Config keys whose values must equal what transformers 5.23 writes for the same model
/// (`hf_config` in the manifest is `XConfig(...).to_dict()`).
let hfConfigKeys = [
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "rms_norm_eps", "max_position_embeddings", "tie_word_embeddings",
    "sliding_window", "query_pre_attn_scalar", "layer_types", "hidden_activation", "hidden_act",
    "bos_token_id", "eos_token_id", "pad_token_id", "rope_parameters", "attn_logit_softcapping",
    "final_logit_softcapping", "attention_bias", "mlp_bias", "use_sliding_window", "max_window_layers",
]

/// A JSON value re-serialised with sorted keys (both sides come from JSONSerialization, so equal
/// JSON values give equal text; NSNumber/Bool bridging differs between platforms, the text does not).
func canonicalJSON(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]), as: UTF8.self)
}

/// Checks every key of `hfConfigKeys` that transformers writes against our config.json.
func expectConfigMatchesHF(_ configJSON: Data, fixture: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let ours = try #require(try JSONSerialization.jsonObject(with: configJSON) as? [String: Any])
    let hf = try #require(try ggufManifestEntry(fixture)["hf_config"] as? [String: Any])
    var compared = 0
    for key in hfConfigKeys where hf.keys.contains(key) {
        let want = hf[key]!, got = ours[key] ?? NSNull()
        #expect(try canonicalJSON(got) == canonicalJSON(want),
                "\(fixture) config \(key): got \(got), transformers has \(want)", sourceLocation: sourceLocation)
        compared += 1
    }
    #expect(compared >= 14, "only \(compared) keys compared", sourceLocation: sourceLocation)
}

@Suite("GGUF → HF conversion")
struct GGUFConversionTests {
    /// Every HF name, the expected tensors of layer 0 and the global ones, bit for bit.
    func checkMapping(_ fixture: String) throws -> ConvertedCheckpoint {
        let converted = try GGUFFile(url: try ggufFixture("\(fixture).gguf")).converted()
        let names = try #require(try ggufManifestEntry("\(fixture).gguf")["hf_names"] as? [String])
        #expect(converted.tensors.names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let expected = try SafeTensorsFile(url: try ggufFixture("\(fixture)_expected.safetensors"))
        for name in expected.names {
            expectBitIdentical(try converted.tensors.tensor(name), try expected.tensor(name), "\(fixture) \(name)")
        }
        return converted
    }

    @Test("gemma3: names, norms minus 1, unpermuted q/k, tied head, config as transformers writes it")
    func gemma3() throws {
        let converted = try checkMapping("gemma3_tiny")
        #expect(!converted.tensors.names.contains("lm_head.weight"))
        #expect(converted.tensors.names.contains("model.layers.5.self_attn.k_norm.weight"))
        try expectConfigMatchesHF(converted.configJSON, fixture: "gemma3_tiny.gguf")
        let config = try #require(try JSONSerialization.jsonObject(with: converted.configJSON) as? [String: Any])
        #expect(config["rope_theta"] as? Double == 1_000_000)
        #expect(config["rope_local_base_freq"] as? Double == 10_000)
        #expect(config["rms_norm_eps"] as? Double == 1e-6)      // f32 9.99999997e-07 written as 1e-06
        #expect((config["layer_types"] as? [String])?.firstIndex(of: "full_attention") == 5)
    }

    @Test("llama: q/k rows back in rotate-half order (GGUF holds LlamaModel.permute), untied head")
    func llama() throws {
        let converted = try checkMapping("llama_tiny")
        #expect(converted.tensors.names.contains("lm_head.weight"))
        try expectConfigMatchesHF(converted.configJSON, fixture: "llama_tiny.gguf")
        // The un-permutation is a real change: the stored q rows differ from the HF rows.
        let file = try GGUFFile(url: try ggufFixture("llama_tiny.gguf"))
        let stored = try file.tensor("blk.1.attn_q.weight"), hf = try converted.tensors.tensor("model.layers.1.self_attn.q_proj.weight")
        #expect(stored != hf)
        #expect(RotaryLayout.rotateHalfToInterleaved(hf, heads: 4) == stored)
    }

    @Test("qwen2: no q/k permutation, biases mapped, config as transformers writes it")
    func qwen2() throws {
        let file = try GGUFFile(url: try ggufFixture("qwen2_tiny.gguf"))
        let converted = try file.converted()
        let names = try #require(try ggufManifestEntry("qwen2_tiny.gguf")["hf_names"] as? [String])
        #expect(converted.tensors.names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for (gguf, hf) in [("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"),
                           ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight"),
                           ("blk.0.attn_q.bias", "model.layers.0.self_attn.q_proj.bias"),
                           ("blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight")] {
            expectBitIdentical(try converted.tensors.tensor(hf), try file.tensor(gguf), hf)
        }
        try expectConfigMatchesHF(converted.configJSON, fixture: "qwen2_tiny.gguf")
    }

    @Test("gemma2 (norms minus 1, soft-caps) and qwen3 (QK-norms unchanged): names and config")
    func gemma2AndQwen3() throws {
        for (fixture, normsShifted) in [("gemma2_tiny", true), ("qwen3_tiny", false)] {
            let file = try GGUFFile(url: try ggufFixture("\(fixture).gguf"))
            let converted = try file.converted()
            let names = try #require(try ggufManifestEntry("\(fixture).gguf")["hf_names"] as? [String])
            #expect(converted.tensors.names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "\(fixture)")
            try expectConfigMatchesHF(converted.configJSON, fixture: "\(fixture).gguf")
            let pairs = normsShifted
                ? [("blk.1.post_ffw_norm.weight", "model.layers.1.post_feedforward_layernorm.weight"),
                   ("blk.0.ffn_norm.weight", "model.layers.0.pre_feedforward_layernorm.weight")]
                : [("blk.0.attn_q_norm.weight", "model.layers.0.self_attn.q_norm.weight"),
                   ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight")]
            for (gguf, hf) in pairs {
                let raw = try file.tensor(gguf)
                let want = normsShifted ? Tensor(shape: raw.shape, scalars: raw.scalars.map { $0 - 1 }) : raw
                expectBitIdentical(try converted.tensors.tensor(hf), want, "\(fixture) \(hf)")
            }
        }
    }

    @Test("a missing block tensor and a stray tensor are both reported")
    func strictMapping() throws {
        // Rename blk.3.attn_q.weight to blk.3.attn_z.weight (same length) in the header.
        let message = try withEditedGGUF("gemma3_tiny.gguf", { data in
            let r = data.range(of: Data("blk.3.attn_q.weight".utf8))!
            data[r.lowerBound + 11] = UInt8(ascii: "z")
        }) { url in ggufThrown { _ = try GGUFFile(url: url).converted() } }
        #expect(message.contains("missing model.layers.3.self_attn.q_proj.weight"), "\(message)")
        #expect(message.contains("unexpected blk.3.attn_z.weight"), "\(message)")
    }

    @Test("tokenizer metadata: SentencePiece tokens as raw bytes, scores, types, special ids, flags")
    func tokenizerSentencePiece() throws {
        let t = try GGUFFile(url: try ggufFixture("gemma3_tiny.gguf")).tokenizerData()
        #expect(t.model == "llama" && t.pre == "default")
        #expect(t.tokens.count == 64 && t.scores?.count == 64 && t.tokenTypes?.count == 64)
        #expect(t.tokens[0] == Array("<pad>".utf8) && t.tokens[13] == Array("▁the".utf8))
        #expect(t.tokens[63] == [0xFF, 0xFE])            // not UTF-8: kept byte for byte
        #expect(t.scores?[5] == -5 && t.tokenTypes?[4] == 6 && t.tokenTypes?[3] == 2)
        #expect(t.bosTokenID == 2 && t.eosTokenID == 1 && t.unknownTokenID == 3 && t.paddingTokenID == 0)
        #expect(t.addBOS == true && t.addEOS == false && t.addSpacePrefix == false)
        #expect(t.merges == nil && t.chatTemplate == nil)
    }

    @Test("tokenizer metadata: BPE merges")
    func tokenizerBPE() throws {
        let t = try GGUFFile(url: try ggufFixture("llama_tiny.gguf")).tokenizerData()
        #expect(t.model == "gpt2" && t.pre == "llama-bpe")
        #expect(t.merges == [Array("Ġ t".utf8), Array("h e".utf8)])
        #expect(t.scores == nil && t.bosTokenID == 0 && t.eosTokenID == 1 && t.paddingTokenID == nil)
    }

    @Test("RotaryLayout: the two permutations are inverses and match the documented index map")
    func rotaryLayout() {
        let heads = 2, d = 8, width = 3
        let w = Tensor(shape: [heads * d, width], scalars: (0..<(heads * d * width)).map(Float.init))
        let hf = RotaryLayout.interleavedToRotateHalf(w, heads: heads)
        #expect(RotaryLayout.rotateHalfToInterleaved(hf, heads: heads) == w)
        // HF row h·D + a·D/2 + b is interleaved row h·D + 2b + a.
        for h in 0..<heads { for a in 0..<2 { for b in 0..<(d / 2) {
            #expect(hf[h * d + a * d / 2 + b, 0] == w[h * d + 2 * b + a, 0])
        } } }
    }
}
