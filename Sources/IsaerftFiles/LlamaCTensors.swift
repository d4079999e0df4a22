import IsaerftCore

/// A llama2.c checkpoint's tensors under HF `LlamaForCausalLM` names (`hooks-and-models.md` §2.2,
/// §3). llama2.c stores q/k rows in the interleaved RoPE order (`run.c` rotates pairs `(i, i+1)`),
/// HF in rotate-half order, so `q_proj`/`k_proj` rows are permuted with
/// `RotaryLayout.interleavedToRotateHalf` (heads for q, KV heads for k), as llama2.c `export.py`
/// `hf_export` does with `permute_original`. `freq_cis_real/imag` are not parameters and are
/// skipped; `lm_head.weight` exists only for an unshared classifier.
public struct LlamaCTensors: TensorSource {
    public let checkpoint: LlamaCCheckpoint
    public let names: [String]

    /// HF suffix after `model.layers.N.` → llama2.c per-layer array.
    static let layerNames: [(hf: String, llamaC: String)] = [
        ("input_layernorm.weight", "rms_att"), ("self_attn.q_proj.weight", "wq"),
        ("self_attn.k_proj.weight", "wk"), ("self_attn.v_proj.weight", "wv"),
        ("self_attn.o_proj.weight", "wo"), ("post_attention_layernorm.weight", "rms_ffn"),
        ("mlp.gate_proj.weight", "w1"), ("mlp.down_proj.weight", "w2"), ("mlp.up_proj.weight", "w3"),
    ]

    init(checkpoint: LlamaCCheckpoint) {
        self.checkpoint = checkpoint
        var names = ["model.embed_tokens.weight", "model.norm.weight"]
        if !checkpoint.header.sharedClassifier { names.append("lm_head.weight") }
        for l in 0..<checkpoint.header.layerCount {
            names += Self.layerNames.map { "model.layers.\(l).\($0.hf)" }
        }
        self.names = names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public func tensor(_ name: String) throws -> Tensor {
        let h = checkpoint.header
        switch name {
        case "model.embed_tokens.weight": return checkpoint.array("tok_emb")!
        case "model.norm.weight": return checkpoint.array("rms_final")!
        case "lm_head.weight" where !h.sharedClassifier: return checkpoint.array("wcls")!
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 3)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let l = Int(parts[2]),
              String(l) == parts[2], l >= 0, l < h.layerCount,
              let entry = Self.layerNames.first(where: { $0.hf == parts[3] }) else {
            throw FileFormatError.missingTensor(file: checkpoint.url.path, tensor: name)
        }
        let stored = checkpoint.layerSlice(entry.llamaC, l)
        switch entry.llamaC {
        case "wq": return RotaryLayout.interleavedToRotateHalf(stored, heads: h.headCount)
        case "wk": return RotaryLayout.interleavedToRotateHalf(stored, heads: h.kvHeadCount)
        default: return stored
        }
    }
}
