import Foundation
import IsaerftCore

/// GGUF → Hugging Face: names, transforms and `config.json` for llama.cpp's `gemma3`, `gemma2`,
/// `llama`, `qwen2` and `qwen3` architectures.
///
/// Transforms undo what llama.cpp `convert_hf_to_gguf.py` did:
/// - Gemma (`Gemma2Model`, `Gemma3Model`): every tensor ending in `norm.weight` was stored as
///   `w + 1`; HF gets `w − 1` (fp32 subtraction).
/// - Llama (`LlamaModel.permute`): `attn_q`/`attn_k` rows were put in interleaved RoPE order; HF
///   gets them back in rotate-half order (`RotaryLayout.interleavedToRotateHalf`, KV heads for k).
/// - Qwen2/Qwen3 (`Qwen2Model`, `Qwen3Model`) and Gemma q/k are stored unpermuted.
/// A missing `output.weight` means a tied head: `tie_word_embeddings` is true and, as in HF files,
/// there is no `lm_head.weight`.
extension GGUFFile {
    /// Architectures `converted()` understands.
    public static let convertibleArchitectures = ["gemma2", "gemma3", "llama", "qwen2", "qwen3"]

    /// The file as an HF model folder would present it: `config.json` and HF-named fp32 tensors.
    /// Strict: every GGUF tensor must map to an HF name and every expected tensor must be present
    /// (all mismatches are reported at once).
    public func converted() throws -> ConvertedCheckpoint {
        let arch = architecture ?? ""
        guard Self.convertibleArchitectures.contains(arch) else {
            throw GGUFError.unknownArchitecture(file: url.path, architecture: arch.isEmpty ? "(none)" : arch,
                                                supported: Self.convertibleArchitectures)
        }
        let hp = try GGUFHyperparameters(file: self, architecture: arch)
        let entries = try mapTensors(hp)
        let config = try GGUFHFConfig.config(file: self, hp: hp)
        return ConvertedCheckpoint(configJSON: config.data,
                                   tensors: GGUFConvertedTensors(file: self, entries: entries),
                                   source: url.path)
    }

    /// HF name → (GGUF name, transform) for every tensor, checked against the architecture.
    func mapTensors(_ hp: GGUFHyperparameters) throws -> [String: GGUFConvertedTensors.Entry] {
        let arch = hp.architecture
        let isGemma = arch.hasPrefix("gemma")
        let block = Self.blockNames(arch)
        var entries: [String: GGUFConvertedTensors.Entry] = [:]
        var unexpected: [String] = []
        for info in tensorInfos {
            guard let hfName = Self.hfName(info.name, block: block, layers: hp.layerCount) else {
                unexpected.append(info.name); continue
            }
            var transform = GGUFTensorTransform.none
            if isGemma && info.name.hasSuffix("norm.weight") { transform = .subtractOne }
            if arch == "llama" && info.name.hasSuffix(".attn_q.weight") { transform = .interleavedToRotateHalf(heads: hp.headCount) }
            if arch == "llama" && info.name.hasSuffix(".attn_k.weight") { transform = .interleavedToRotateHalf(heads: hp.kvHeadCount) }
            if case .interleavedToRotateHalf(let heads) = transform,
               !RotaryLayout.isPermutable(rows: info.shape.first ?? 0, heads: heads) {
                throw GGUFError.badHyperparameters(file: url.path,
                    reason: "\(info.name) has \(info.shape.first ?? 0) rows, not \(heads) heads of even width")
            }
            entries[hfName] = .init(ggufName: info.name, transform: transform)
        }
        var expected = ["model.embed_tokens.weight", "model.norm.weight"]
        for l in 0..<hp.layerCount {
            expected += block.filter(\.required).map { "model.layers.\(l).\($0.hf)" }
        }
        let missing = expected.filter { entries[$0] == nil }
        if !missing.isEmpty || !unexpected.isEmpty {
            if unexpected.contains("rope_freqs.weight") {
                throw GGUFError.badHyperparameters(file: url.path,
                    reason: "rope_freqs.weight (Llama 3.1-style RoPE scaling factors) is not supported")
            }
            throw GGUFError.conversionMismatch(file: url.path, architecture: arch, missing: missing, unexpected: unexpected)
        }
        return entries
    }

    /// (GGUF suffix after `blk.N.`, HF suffix after `model.layers.N.`, required).
    static func blockNames(_ arch: String) -> [(gguf: String, hf: String, required: Bool)] {
        let attention: [(String, String, Bool)] = [
            ("attn_norm.weight", "input_layernorm.weight", true),
            ("attn_q.weight", "self_attn.q_proj.weight", true), ("attn_k.weight", "self_attn.k_proj.weight", true),
            ("attn_v.weight", "self_attn.v_proj.weight", true), ("attn_output.weight", "self_attn.o_proj.weight", true),
        ]
        let mlp: [(String, String, Bool)] = [
            ("ffn_gate.weight", "mlp.gate_proj.weight", true), ("ffn_up.weight", "mlp.up_proj.weight", true),
            ("ffn_down.weight", "mlp.down_proj.weight", true),
        ]
        let qkNorm: [(String, String, Bool)] = [
            ("attn_q_norm.weight", "self_attn.q_norm.weight", true), ("attn_k_norm.weight", "self_attn.k_norm.weight", true),
        ]
        switch arch {
        case "gemma2", "gemma3":
            let norms: [(String, String, Bool)] = [
                ("post_attention_norm.weight", "post_attention_layernorm.weight", true),
                ("ffn_norm.weight", "pre_feedforward_layernorm.weight", true),
                ("post_ffw_norm.weight", "post_feedforward_layernorm.weight", true),
            ]
            return attention + norms + mlp + (arch == "gemma3" ? qkNorm : [])
        default:
            var extra: [(String, String, Bool)] = [("ffn_norm.weight", "post_attention_layernorm.weight", true)]
            if arch == "qwen2" {
                extra += [("attn_q.bias", "self_attn.q_proj.bias", true), ("attn_k.bias", "self_attn.k_proj.bias", true),
                          ("attn_v.bias", "self_attn.v_proj.bias", true)]
            }
            if arch == "qwen3" { extra += qkNorm }
            return attention + extra + mlp
        }
    }

    /// The HF name of GGUF tensor `name`, or nil when it has none.
    static func hfName(_ name: String, block: [(gguf: String, hf: String, required: Bool)], layers: Int) -> String? {
        switch name {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk", let l = Int(parts[1]), l >= 0, l < layers,
              String(l) == parts[1], let entry = block.first(where: { $0.gguf == parts[2] }) else { return nil }
        return "model.layers.\(l).\(entry.hf)"
    }
}

/// What to do to a dequantised GGUF tensor to get the HF tensor.
public enum GGUFTensorTransform: Sendable, Equatable {
    case none
    /// Gemma norms: HF stores `w`, llama.cpp stored `w + 1`.
    case subtractOne
    /// Llama q/k rows: interleaved → rotate-half with this many heads.
    case interleavedToRotateHalf(heads: Int)
}

/// HF-named tensors read from a GGUF file (dequantised and transformed on each call).
public struct GGUFConvertedTensors: TensorSource {
    public struct Entry: Sendable, Equatable {
        public let ggufName: String
        public let transform: GGUFTensorTransform
    }

    public let file: GGUFFile
    public let entries: [String: Entry]
    public let names: [String]

    init(file: GGUFFile, entries: [String: Entry]) {
        self.file = file
        self.entries = entries
        self.names = entries.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw GGUFError.missingTensor(file: file.url.path, tensor: name) }
        var t = try file.tensor(entry.ggufName)
        switch entry.transform {
        case .none: break
        case .subtractOne: for i in t.scalars.indices { t.scalars[i] = t.scalars[i] - 1 }
        case .interleavedToRotateHalf(let heads): t = RotaryLayout.interleavedToRotateHalf(t, heads: heads)
        }
        return t
    }
}
