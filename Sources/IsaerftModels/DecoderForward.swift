import IsaerftCore

/// Saved state of one decoder block for the backward pass (rows are batch · length).
public struct DecoderBlockActivations: Sendable {
    var residPre: Tensor
    var ln1Normalized: Tensor, ln1Inv: Tensor     // x·inv (before the scale), inv [N]
    var a1: Tensor                               // normalised · scale: the projections' input
    var qRaw: Tensor, kRaw: Tensor               // projections (before QK-norm)
    var qInv: Tensor?, kInv: Tensor?             // QK-norm inverse RMS per (row, head)
    var qRot: Tensor, kRot: Tensor, v: Tensor    // attention inputs
    var probs: Tensor
    var z: Tensor
    var attnProj: Tensor                         // z·Woᵀ (before Gemma's post-attention norm)
    var post1Normalized: Tensor?, post1Inv: Tensor?
    var residMid: Tensor
    var ln2Normalized: Tensor, ln2Inv: Tensor, a2: Tensor
    var gate: Tensor, up: Tensor, act: Tensor    // act = activation(gate)
    var downOut: Tensor                          // post·Wdownᵀ (before Gemma's post-MLP norm)
    var post2Normalized: Tensor?, post2Inv: Tensor?
}

/// Everything the decoder's backward needs.
public struct DecoderActivations: Sendable {
    var batch: Int, length: Int
    var ids: [Int], positions: [Int]
    var keyMask: [Bool]?
    var blocks: [DecoderBlockActivations]
    var residFinal: Tensor?
    var finalNormalized: Tensor?, finalInv: Tensor?, finalOut: Tensor?
    var logitRows: [Int]
    var rawLogits: Tensor?    // before the final soft-cap (Gemma 2)
    /// The first block that ran (`ForwardOptions.start`; `blocks[i]` is block `firstLayer + i`).
    var firstLayer = 0
    var resumed = false
    /// VJPs of the gradient-aware edits that ran.
    var vjps = EditVJPs()
}

/// Llama 2/3, Qwen2, Qwen3, Gemma 2 and Gemma 3 text models with TransformerLens hook points.
///
/// Forward matches transformers' eager implementations (`LlamaForCausalLM`, `Qwen2ForCausalLM`,
/// `Qwen3ForCausalLM`, `Gemma2ForCausalLM`, `Gemma3ForCausalLM`) in fp32. Hooks follow
/// TransformerLens: `ln*.hook_normalized` before the norm's scale, `hook_q/k/v` the projections
/// (k/v with the KV heads only), `hook_rot_q/k` after QK-norm and RoPE, `mlp.hook_pre` the gate
/// pre-activation, `mlp.hook_pre_linear` the up projection, and for Gemma `hook_attn_out` /
/// `hook_mlp_out` after the post-norms and `hook_embed` after the √d scale.
public final class DecoderModel: HookedLanguageModel {
    public let config: DecoderConfig
    public let weights: DecoderWeights

    public init(config: DecoderConfig, weights: DecoderWeights) { self.config = config; self.weights = weights }

    public var vocabularySize: Int { config.vocabSize }
    public var layerCount: Int { config.layerCount }
    public var contextLength: Int { config.contextLength }
    public var bosTokenID: Int? { config.bosTokenID }
    public var eosTokenID: Int? { config.eosTokenID }
    public var hookPoints: [HookPoint] { HookPoint.allRotary(layerCount: config.layerCount, postNorms: config.postNorms) }
    public func makeCache(batch: Int) -> KVCache { KVCache(layers: config.layerCount, batch: batch) }

    public func forward(_ batch: TokenBatch, options: ForwardOptions, cache: inout KVCache?) throws -> ForwardResult {
        try batch.validate(vocabularySize: config.vocabSize)
        let c = config, B = batch.batch, T = batch.length, N = B * T, d = c.width
        let past = cache?.length ?? 0
        if past + T > c.contextLength { throw ModelError.sequenceTooLong(past + T, maximum: c.contextLength) }
        if let stop = options.stopAfterLayer, stop < 0 || stop >= c.layerCount {
            throw ModelError.invalidConfig("stop after layer \(stop): the model has blocks 0..<\(c.layerCount)")
        }
        for h in options.hooks.touchedHooks where !hookPoints.contains(h) {
            throw ModelError.unknownHook(h.description, available: Self.exampleNames(hookPoints))
        }
        if options.retainForBackward && cache != nil {
            throw ModelError.invalidConfig("a pass that extends a KV cache cannot be kept for backward")
        }
        let first = try options.firstLayer(layerCount: c.layerCount, width: d, batch: B, length: T, cached: cache != nil)
        let ids = batch.ids.flatMap { $0 }
        let layout = try PassLayout(batch, cache: &cache, contextLength: c.contextLength)
        let positions = layout.positions, keyMask = layout.keyMask
        var rec = Recorder(hooks: options.hooks, context: HookContext(batch: B, length: T, positionOffset: past),
                           keepVJPs: options.retainForBackward)
        var acts: DecoderActivations? = options.retainForBackward
            ? DecoderActivations(batch: B, length: T, ids: ids, positions: positions, keyMask: keyMask, blocks: [], logitRows: [],
                                 firstLayer: first, resumed: options.start != nil)
            : nil

        var x: Tensor
        if let start = options.start {
            x = start.residual.reshaped([N, d])
        } else {
            x = Tensor.uninitialized([N, d])
            embeddingForward(out: &x, ids: ids, table: weights.embedding)
            if let s = c.embeddingScale { for i in 0..<x.count { x.scalars[i] *= s } }
            try rec.apply(.embed, &x, shape: [B, T, d])
        }
        let last = options.stopAfterLayer ?? c.layerCount - 1
        for l in first..<(last + 1) {
            x = try block(l, x, B: B, T: T, positions: positions, keyMask: keyMask, rec: &rec, acts: &acts, cache: &cache)
        }
        if cache != nil { cache!.length += T }
        if options.stopAfterLayer != nil {
            acts?.vjps = rec.vjps
            return ForwardResult(logits: nil, captured: rec.captured, activations: acts.map { .decoder($0) })
        }
        let (finalOut, finalNormalized, finalInv) = try norm(x, scale: weights.finalNorm, scaleHook: .lnFinalScale,
                                                             normalizedHook: .lnFinalNormalized, B: B, T: T, rec: &rec)
        let rows = try options.logits.rows(batch: B, length: T)
        var logits: Tensor? = nil
        var raw: Tensor? = nil
        if !rows.isEmpty {
            let hidden = rows.count == N ? finalOut : gatherRows(finalOut, rows)
            var out = Tensor.uninitialized([rows.count, c.vocabSize])
            matmulTransposedB(hidden, weights.lmHead ?? weights.embedding, into: &out)
            if let cap = c.finalSoftcap { raw = out; softcapInPlace(&out, cap: cap) }
            logits = out.reshaped(options.logits.logitsShape(batch: B, rowCount: rows.count, vocabularySize: c.vocabSize))
        }
        if acts != nil {
            acts!.residFinal = x; acts!.finalNormalized = finalNormalized; acts!.finalInv = finalInv
            acts!.finalOut = finalOut; acts!.logitRows = rows; acts!.rawLogits = raw
            acts!.vjps = rec.vjps
        }
        return ForwardResult(logits: logits, captured: rec.captured, activations: acts.map { .decoder($0) })
    }

    public func targetLogProbs(_ batch: TokenBatch, targets: [Int], hooks: HookSet) throws -> Tensor {
        guard targets.count == batch.batch * batch.length else { throw ModelError.raggedBatch }
        var capture = hooks
        capture.capture.insert(.lnFinalNormalized)
        let out = try forward(batch, options: ForwardOptions(hooks: capture, logits: .none))
        var hidden = out.captured[.lnFinalNormalized]!.reshaped([targets.count, config.width])
        scaleColumns(&hidden, by: weights.finalNorm)
        let lp = chunkedTargetLogProbs(hidden: hidden, unembed: weights.lmHead ?? weights.embedding, targets: targets,
                                       softcap: config.finalSoftcap)
        return Tensor(shape: [batch.batch, batch.length], scalars: lp)
    }

    /// RMSNorm with TransformerLens' hooks: `hook_scale` = √(mean(x²) + eps) `[b, p, 1]` and
    /// `hook_normalized` = x / scale before the weight. Returns (scaled output, normalized, inv).
    func norm(_ x: Tensor, scale: Tensor, scaleHook: HookPoint, normalizedHook: HookPoint, B: Int, T: Int,
              rec: inout Recorder) throws -> (Tensor, Tensor, Tensor) {
        let (n, d) = x.matrixShape
        var normalized = Tensor.uninitialized([n, d]), inv = Tensor.uninitialized([n])
        rmsNormForward(out: &normalized, invRMS: &inv, x: x, scale: nil, eps: config.rmsNormEps)
        if rec.touches(scaleHook) {
            var s = Tensor(shape: [B, T, 1], scalars: inv.scalars.map { 1 / $0 })
            try rec.apply(scaleHook, &s, shape: [B, T, 1])
            if rec.hasEdits(scaleHook) {
                for r in 0..<n {
                    inv.scalars[r] = 1 / s.scalars[r]
                    for i in 0..<d { normalized.scalars[r * d + i] = x.scalars[r * d + i] * inv.scalars[r] }
                }
            }
        }
        try rec.apply(normalizedHook, &normalized, shape: [B, T, d])
        var out = normalized
        scaleColumns(&out, by: scale)
        return (out, normalized, inv)
    }
}

// MARK: - Loading

import Foundation
import IsaerftFiles

extension DecoderModel {
    /// Loads an HF folder (`config.json` + safetensors weights) of a Llama/Qwen/Gemma model.
    public static func load(folder: URL) throws -> DecoderModel {
        let configURL = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelError.invalidConfig("\(configURL.path) is missing")
        }
        let config = try DecoderConfig.decode(data, source: configURL.path)
        let checkpoint = try ShardedCheckpoint(folder: folder)
        return DecoderModel(config: config, weights: try DecoderWeights.load(config: config, from: checkpoint, sourceName: folder.path))
    }

    /// Loads a checkpoint converted from another format (GGUF, llama2.c).
    public static func load(_ converted: ConvertedCheckpoint) throws -> DecoderModel {
        let config = try DecoderConfig.decode(converted.configJSON, source: converted.source)
        return DecoderModel(config: config, weights: try DecoderWeights.load(config: config, from: converted.tensors,
                                                                             sourceName: converted.source))
    }
}
