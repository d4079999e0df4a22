import IsaerftCore

/// Weights of one GPT-2 block. HF stores `Conv1D` weights as `[in, out]`; we keep that layout (y = x·W + b).
public struct GPT2BlockWeights: Sendable {
    public var ln1Weight, ln1Bias: Tensor       // [d]
    public var qkvWeight: Tensor                // [d, 3d]  columns: q | k | v, heads contiguous
    public var qkvBias: Tensor                  // [3d]
    public var attnProjWeight: Tensor           // [d, d]
    public var attnProjBias: Tensor             // [d]
    public var ln2Weight, ln2Bias: Tensor       // [d]
    public var fcWeight: Tensor                 // [d, m]
    public var fcBias: Tensor                   // [m]
    public var mlpProjWeight: Tensor            // [m, d]
    public var mlpProjBias: Tensor              // [d]

    /// Checkpoint keys (without the `transformer.` prefix) and their shapes, beside the fields they fill.
    static func checkpointKeys(_ l: Int, _ c: GPT2Config) -> [(String, [Int], WritableKeyPath<GPT2BlockWeights, Tensor>)] {
        let d = c.width, m = c.mlpWidth
        return [("h.\(l).ln_1.weight", [d], \.ln1Weight), ("h.\(l).ln_1.bias", [d], \.ln1Bias),
                ("h.\(l).attn.c_attn.weight", [d, 3 * d], \.qkvWeight), ("h.\(l).attn.c_attn.bias", [3 * d], \.qkvBias),
                ("h.\(l).attn.c_proj.weight", [d, d], \.attnProjWeight), ("h.\(l).attn.c_proj.bias", [d], \.attnProjBias),
                ("h.\(l).ln_2.weight", [d], \.ln2Weight), ("h.\(l).ln_2.bias", [d], \.ln2Bias),
                ("h.\(l).mlp.c_fc.weight", [d, m], \.fcWeight), ("h.\(l).mlp.c_fc.bias", [m], \.fcBias),
                ("h.\(l).mlp.c_proj.weight", [m, d], \.mlpProjWeight), ("h.\(l).mlp.c_proj.bias", [d], \.mlpProjBias)]
    }

    static func zeros(_ l: Int, _ c: GPT2Config) -> GPT2BlockWeights {
        let z = Tensor(shape: [0])
        var b = GPT2BlockWeights(ln1Weight: z, ln1Bias: z, qkvWeight: z, qkvBias: z, attnProjWeight: z, attnProjBias: z,
                                 ln2Weight: z, ln2Bias: z, fcWeight: z, fcBias: z, mlpProjWeight: z, mlpProjBias: z)
        for (_, shape, path) in checkpointKeys(l, c) { b[keyPath: path] = Tensor(shape: shape) }
        return b
    }
}

/// All GPT-2 weights (HF `GPT2LMHeadModel` layout). Also used for weight gradients (same shapes).
public struct GPT2Weights: Sendable {
    public var tokenEmbedding: Tensor      // wte [V, d]
    public var positionEmbedding: Tensor   // wpe [P, d]
    public var blocks: [GPT2BlockWeights]
    public var lnFinalWeight, lnFinalBias: Tensor   // [d]
    /// Untied head `lm_head.weight` [V, d] (nn.Linear layout); nil when tied to `tokenEmbedding`.
    public var lmHead: Tensor?

    static func topKeys(_ c: GPT2Config) -> [(String, [Int], WritableKeyPath<GPT2Weights, Tensor>)] {
        [("wte.weight", [c.vocabSize, c.width], \.tokenEmbedding), ("wpe.weight", [c.contextLength, c.width], \.positionEmbedding),
         ("ln_f.weight", [c.width], \.lnFinalWeight), ("ln_f.bias", [c.width], \.lnFinalBias)]
    }

    /// Zero tensors of every weight's shape (for gradients).
    public static func zeros(_ c: GPT2Config) -> GPT2Weights {
        var w = GPT2Weights(tokenEmbedding: Tensor(shape: [0]), positionEmbedding: Tensor(shape: [0]),
                            blocks: (0..<c.layerCount).map { GPT2BlockWeights.zeros($0, c) },
                            lnFinalWeight: Tensor(shape: [0]), lnFinalBias: Tensor(shape: [0]),
                            lmHead: c.tieWordEmbeddings ? nil : Tensor(shape: [c.vocabSize, c.width]))
        for (_, shape, path) in topKeys(c) { w[keyPath: path] = Tensor(shape: shape) }
        return w
    }

    /// Seeded random weights (normal with `std`, LayerNorm weights around 1), for tests and benchmarks.
    public static func random(_ c: GPT2Config, std: Float = 0.02, seed: UInt64) -> GPT2Weights {
        var w = zeros(c)
        var s = seed
        func fill(_ t: inout Tensor, mean: Float = 0) { s &+= 1; t = Tensor.randomNormal(t.shape, std: std, seed: s); if mean != 0 { for i in 0..<t.count { t.scalars[i] += mean } } }
        fill(&w.tokenEmbedding); fill(&w.positionEmbedding); fill(&w.lnFinalWeight, mean: 1); fill(&w.lnFinalBias)
        for l in 0..<c.layerCount {
            for (key, _, path) in GPT2BlockWeights.checkpointKeys(l, c) {
                fill(&w.blocks[l][keyPath: path], mean: key.hasSuffix("ln_1.weight") || key.hasSuffix("ln_2.weight") ? 1 : 0)
            }
        }
        if w.lmHead != nil { fill(&w.lmHead!) }
        return w
    }

    /// Loads strictly from named tensors: every missing, unexpected or mis-shaped key is reported.
    /// Accepts the original `gpt2` layout (`wte.weight`, …) and the `transformer.`-prefixed layout of
    /// `GPT2LMHeadModel`; skips the causal-mask buffers `h.N.attn.bias` / `h.N.attn.masked_bias`.
    /// `lm_head.weight` equal in shape to wte is used only when the config does not tie embeddings.
    public static func load(config c: GPT2Config, names: [String], source: String,
                            tensor: (String) throws -> Tensor) throws -> GPT2Weights {
        let prefixed = names.contains { $0.hasPrefix("transformer.") }
        func key(_ k: String) -> String { prefixed ? "transformer." + k : k }
        var w = zeros(c)
        var expected: [(String, [Int])] = []
        var missing: [String] = [], shapeErrors: [ModelError] = []
        let available = Set(names)
        func take(_ k: String, _ shape: [Int], _ assign: (Tensor) -> Void) throws {
            expected.append((k, shape))
            guard available.contains(k) else { missing.append(k); return }
            let t = try tensor(k)
            guard t.shape == shape else { shapeErrors.append(.shapeMismatch(k, expected: shape, found: t.shape)); return }
            assign(t)
        }
        for (k, shape, path) in topKeys(c) { try take(key(k), shape) { w[keyPath: path] = $0 } }
        for l in 0..<c.layerCount {
            for (k, shape, path) in GPT2BlockWeights.checkpointKeys(l, c) { try take(key(k), shape) { w.blocks[l][keyPath: path] = $0 } }
        }
        if !c.tieWordEmbeddings {
            try take("lm_head.weight", [c.vocabSize, c.width]) { w.lmHead = $0 }
        }
        if let first = shapeErrors.first { throw first }
        if !missing.isEmpty { throw ModelError.missingTensors(missing, source: source) }
        let used = Set(expected.map(\.0))
        let unused = names.filter { n in
            !used.contains(n) && !n.hasSuffix(".attn.bias") && !n.hasSuffix(".attn.masked_bias")
                && !(c.tieWordEmbeddings && n == "lm_head.weight")
        }.sorted()
        if !unused.isEmpty { throw ModelError.unusedTensors(unused, source: source) }
        return w
    }

    /// Every weight with its checkpoint key (`transformer.`-prefixed, as `GPT2LMHeadModel.save_pretrained` writes).
    public func namedTensors(_ c: GPT2Config) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = Self.topKeys(c).map { ("transformer." + $0.0, self[keyPath: $0.2]) }
        for l in 0..<c.layerCount {
            out += GPT2BlockWeights.checkpointKeys(l, c).map { ("transformer." + $0.0, blocks[l][keyPath: $0.2]) }
        }
        if let lmHead { out.append(("lm_head.weight", lmHead)) }
        return out
    }
}
