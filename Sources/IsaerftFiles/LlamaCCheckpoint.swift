import Foundation
import IsaerftCore

/// A llama2.c model file (legacy version 0, written by karpathy/llama2.c `export.py` legacy mode;
/// read by `run.c` `read_checkpoint`), memory-mapped (`hooks-and-models.md` §3).
///
/// Layout, little-endian: header `7 × int32` (`dim, hidden_dim, n_layers, n_heads, n_kv_heads,
/// vocab_size, seq_len`; a negative vocab size means a separate classifier `wcls` follows), then fp32
/// arrays `tok_emb [V,dim]`, `rms_att [L,dim]`, `wq [L,dim,dim]`, `wk [L,kv·hs,dim]`,
/// `wv [L,kv·hs,dim]`, `wo [L,dim,dim]`, `rms_ffn [L,dim]`, `w1 [L,hidden,dim]`, `w2 [L,dim,hidden]`,
/// `w3 [L,hidden,dim]`, `rms_final [dim]`, `freq_cis_real/imag [seq_len, hs/2]` (skipped), `wcls`.
public struct LlamaCCheckpoint: Sendable {
    public struct Header: Sendable, Equatable {
        public var dim, hiddenDim, layerCount, headCount, kvHeadCount, vocabSize, seqLen: Int
        /// `vocab_size > 0` in the file: the classifier is the embedding matrix.
        public var sharedClassifier: Bool
        public var headDim: Int { dim / headCount }
    }

    public let url: URL
    public let header: Header
    /// Every array by its llama2.c name (`wq` etc. cover all layers), with its float offset and shape.
    let arrays: [String: (offset: Int, shape: [Int])]
    private let bytes: Data

    static let headerBytes = 28

    /// Opens `url` and validates the header and the file size.
    public init(url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw FileFormatError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, url: url)
    }

    /// Reads a llama2.c image in memory; `url` names it in errors.
    public init(data: Data, url: URL) throws {
        let file = url.path
        guard data.count >= Self.headerBytes else {
            throw FileFormatError.truncated(file: file, needed: UInt64(Self.headerBytes), available: UInt64(data.count))
        }
        let h: [Int] = data.withUnsafeBytes { raw in
            (0..<7).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        }
        let header = Header(dim: h[0], hiddenDim: h[1], layerCount: h[2], headCount: h[3], kvHeadCount: h[4],
                            vocabSize: abs(h[5]), seqLen: h[6], sharedClassifier: h[5] > 0)
        guard header.dim > 0, header.hiddenDim > 0, header.layerCount > 0, header.headCount > 0,
              header.kvHeadCount > 0, header.vocabSize > 0, header.seqLen > 0,
              header.dim % header.headCount == 0, header.headCount % header.kvHeadCount == 0,
              header.headDim % 2 == 0 else {
            throw FileFormatError.badHeader(file: file, reason: "implausible llama2.c header \(h) "
                + "(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)")
        }
        // All products below are of int32 values; Int is 64-bit, so three factors can overflow only
        // for absurd headers, which the size check then rejects (multiplication is checked).
        let (d, m, l, v, hs) = (header.dim, header.hiddenDim, header.layerCount, header.vocabSize, header.headDim)
        let kv = header.kvHeadCount * hs
        var layout: [(String, [Int])] = [
            ("tok_emb", [v, d]), ("rms_att", [l, d]), ("wq", [l, d, d]), ("wk", [l, kv, d]), ("wv", [l, kv, d]),
            ("wo", [l, d, d]), ("rms_ffn", [l, d]), ("w1", [l, m, d]), ("w2", [l, d, m]), ("w3", [l, m, d]),
            ("rms_final", [d]), ("freq_cis_real", [header.seqLen, hs / 2]), ("freq_cis_imag", [header.seqLen, hs / 2]),
        ]
        if !header.sharedClassifier { layout.append(("wcls", [v, d])) }
        var arrays: [String: (offset: Int, shape: [Int])] = [:]
        var floats = 0
        for (name, shape) in layout {
            var n = 1, overflow = false
            for s in shape { (n, overflow) = n.multipliedReportingOverflow(by: s); if overflow { break } }
            if !overflow { (floats, overflow) = floats.addingReportingOverflow(n) }
            guard !overflow else { throw FileFormatError.badHeader(file: file, reason: "header sizes \(h) overflow") }
            arrays[name] = (floats - n, shape)
        }
        let expected = UInt64(Self.headerBytes) + UInt64(floats) * 4
        guard expected == UInt64(data.count) else {
            if expected > UInt64(data.count) {
                throw FileFormatError.truncated(file: file, needed: expected, available: UInt64(data.count))
            }
            throw FileFormatError.badHeader(file: file, reason: "header \(h) implies \(floats) floats "
                + "(\(expected) bytes, \(header.sharedClassifier ? "shared" : "separate") classifier), file has \(data.count) bytes")
        }
        self.url = url
        self.header = header
        self.arrays = arrays
        self.bytes = data
    }

    /// A llama2.c array (`tok_emb`, `wq`, … as stored, all layers) as fp32; nil for unknown names.
    public func array(_ name: String) -> Tensor? {
        guard let a = arrays[name] else { return nil }
        return floats(offset: a.offset, shape: a.shape)
    }

    /// Layer `layer` of a per-layer array (`wq`, `rms_att`, …), as stored.
    func layerSlice(_ name: String, _ layer: Int) -> Tensor {
        let a = arrays[name]!
        let inner = Array(a.shape.dropFirst())
        return floats(offset: a.offset + layer * inner.reduce(1, *), shape: inner)
    }

    private func floats(offset: Int, shape: [Int]) -> Tensor {
        let n = shape.reduce(1, *), start = Self.headerBytes + 4 * offset
        let values = bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: n) { out, initialised in
                for i in 0..<n {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
                }
                initialised = n
            }
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// The HF Llama `config.json` equivalent (llama2.c `export.py` `hf_export`; `run.c` constants:
    /// RMSNorm eps 1e-5, RoPE base 10000, BOS 1, EOS 2).
    public var configJSON: Data {
        GGUFConfigJSON.object([
            ("architectures", .array([.string("LlamaForCausalLM")])), ("model_type", .string("llama")),
            ("vocab_size", .int(header.vocabSize)), ("hidden_size", .int(header.dim)),
            ("intermediate_size", .int(header.hiddenDim)), ("num_hidden_layers", .int(header.layerCount)),
            ("num_attention_heads", .int(header.headCount)), ("num_key_value_heads", .int(header.kvHeadCount)),
            ("head_dim", .int(header.headDim)), ("rms_norm_eps", .double(1e-5)),
            ("max_position_embeddings", .int(header.seqLen)), ("rope_theta", .double(10_000)),
            ("rope_scaling", .null), ("hidden_act", .string("silu")), ("attention_bias", .bool(false)),
            ("mlp_bias", .bool(false)), ("tie_word_embeddings", .bool(header.sharedClassifier)),
            ("bos_token_id", .int(1)), ("eos_token_id", .int(2)), ("torch_dtype", .string("float32")),
        ]).data
    }

    /// The checkpoint under HF Llama names, q/k rows in rotate-half order, RoPE tables dropped.
    public func converted() -> ConvertedCheckpoint {
        ConvertedCheckpoint(configJSON: configJSON, tensors: LlamaCTensors(checkpoint: self), source: url.path)
    }
}
