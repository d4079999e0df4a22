import IsaerftCore

/// GPT-2 (HF `GPT2LMHeadModel`) with TransformerLens hook points.
///
/// Forward matches transformers' eager GPT-2 (LayerNorm eps from the config, `gelu_new` or exact
/// GELU, scores / √dh, tied head) and TransformerLens' hook values without weight processing.
public final class GPT2Model: HookedLanguageModel {
    public let config: GPT2Config
    public let weights: GPT2Weights

    public init(config: GPT2Config, weights: GPT2Weights) {
        self.config = config
        self.weights = weights
    }

    public var vocabularySize: Int { config.vocabSize }
    public var layerCount: Int { config.layerCount }
    public var contextLength: Int { config.contextLength }
    public var bosTokenID: Int? { config.bosTokenID }
    public var eosTokenID: Int? { config.eosTokenID }
    public var hookPoints: [HookPoint] { HookPoint.all(layerCount: config.layerCount) }
    public func makeCache(batch: Int) -> KVCache { KVCache(layers: config.layerCount, batch: batch) }

    var d: Int { config.width }
    var heads: Int { config.headCount }

    /// One forward pass that reads and extends a KV cache (generation). With `cache == nil` on entry
    /// nothing is cached; pass `KVCache(...)` to start one.
    public func forward(_ batch: TokenBatch, options: ForwardOptions, cache: inout KVCache?) throws -> ForwardResult {
        try batch.validate(vocabularySize: config.vocabSize)
        let B = batch.batch, T = batch.length, N = B * T, d = self.d
        let past = cache?.length ?? 0
        if past + T > config.contextLength { throw ModelError.sequenceTooLong(past + T, maximum: config.contextLength) }
        if let stop = options.stopAfterLayer, stop < 0 || stop >= config.layerCount {
            throw ModelError.invalidConfig("stop after layer \(stop): the model has blocks 0..<\(config.layerCount)")
        }
        let hooks = options.hooks
        let first = try options.firstLayer(layerCount: config.layerCount, width: d, batch: B, length: T, cached: cache != nil)
        let ids = batch.ids.flatMap { $0 }
        // Positions: cumsum(mask) − 1 clipped at 0, continuing from the cache (HF generate).
        let layout = try PassLayout(batch, cache: &cache, contextLength: config.contextLength)
        let positions = layout.positions, keyMask = layout.keyMask
        var rec = Recorder(hooks: hooks, context: HookContext(batch: B, length: T, positionOffset: past),
                           keepVJPs: options.retainForBackward)
        var acts = options.retainForBackward
            ? GPT2Activations(batch: B, length: T, ids: ids, positions: positions, keyMask: keyMask, blocks: [], logitRows: [],
                              firstLayer: first, resumed: options.start != nil)
            : nil

        var x: Tensor
        if let start = options.start {
            x = start.residual.reshaped([N, d])
        } else {
            var embed = Tensor.uninitialized([N, d])
            embeddingForward(out: &embed, ids: ids, table: weights.tokenEmbedding)
            try rec.apply(.embed, &embed, shape: [B, T, d])
            var pos = Tensor.uninitialized([N, d])
            embeddingForward(out: &pos, ids: positions, table: weights.positionEmbedding)
            try rec.apply(.posEmbed, &pos, shape: [B, T, d])
            x = Tensor.uninitialized([N, d])
            residualForward(out: &x, embed, pos)
        }

        let lastLayer = options.stopAfterLayer ?? config.layerCount - 1
        for l in first..<(lastLayer + 1) {
            x = try block(l, x, batch: B, length: T, keyMask: keyMask, rec: &rec, acts: &acts, cache: &cache)
        }
        if cache != nil { cache!.length += T }
        if options.stopAfterLayer != nil {
            acts?.vjps = rec.vjps
            return ForwardResult(logits: nil, captured: rec.captured, activations: acts.map { .gpt2($0) })
        }

        // Final LayerNorm and the head.
        var lnf = Tensor.uninitialized([N, d]), mean = Tensor.uninitialized([N]), rstd = Tensor.uninitialized([N])
        try layerNormHooked(out: &lnf, mean: &mean, rstd: &rstd, x: x, weight: weights.lnFinalWeight, bias: weights.lnFinalBias,
                            scaleHook: .lnFinalScale, normalizedHook: .lnFinalNormalized, batch: B, length: T, rec: &rec)
        let rows = try options.logits.rows(batch: B, length: T)
        var logits: Tensor? = nil
        if !rows.isEmpty {
            let hidden = rows.count == N ? lnf : gatherRows(lnf, rows)
            var out = Tensor.uninitialized([rows.count, config.vocabSize])
            matmulTransposedB(hidden, weights.lmHead ?? weights.tokenEmbedding, into: &out)
            logits = out.reshaped(options.logits.logitsShape(batch: B, rowCount: rows.count, vocabularySize: config.vocabSize))
        }
        if acts != nil {
            acts!.residFinal = x; acts!.lnfOut = lnf; acts!.lnfMean = mean; acts!.lnfRstd = rstd; acts!.logitRows = rows
            acts!.vjps = rec.vjps
        }
        return ForwardResult(logits: logits, captured: rec.captured, activations: acts.map { .gpt2($0) })
    }

    public func targetLogProbs(_ batch: TokenBatch, targets: [Int], hooks: HookSet) throws -> Tensor {
        guard targets.count == batch.batch * batch.length else { throw ModelError.raggedBatch }
        var capture = hooks
        capture.capture.insert(.lnFinalNormalized)
        let out = try forward(batch, options: ForwardOptions(hooks: capture, logits: .none))
        let hidden = out.captured[.lnFinalNormalized]!.reshaped([targets.count, config.width])
        let lp = chunkedTargetLogProbs(hidden: hidden, unembed: weights.lmHead ?? weights.tokenEmbedding, targets: targets, softcap: nil)
        return Tensor(shape: [batch.batch, batch.length], scalars: lp)
    }

    // MARK: - One block

    func block(_ l: Int, _ input: Tensor, batch B: Int, length T: Int, keyMask: [Bool]?,
               rec: inout Recorder, acts: inout GPT2Activations?, cache: inout KVCache?) throws -> Tensor {
        let w = weights.blocks[l], N = B * T, d = self.d, H = heads, dh = config.headDim, m = config.mlpWidth
        var residPre = input
        try rec.apply(.residPre(l), &residPre, shape: [B, T, d])

        var ln1 = Tensor.uninitialized([N, d]), m1 = Tensor.uninitialized([N]), r1 = Tensor.uninitialized([N])
        try layerNormHooked(out: &ln1, mean: &m1, rstd: &r1, x: residPre, weight: w.ln1Weight, bias: w.ln1Bias,
                            scaleHook: .ln1Scale(l), normalizedHook: .ln1Normalized(l), batch: B, length: T, rec: &rec)
        var qkv = Tensor.uninitialized([N, 3 * d])
        linearForward(out: &qkv, x: ln1, weight: w.qkvWeight, bias: w.qkvBias, layout: .inOut)
        var (q, k, v) = splitColumns3(qkv, d)
        try rec.apply(.attnQ(l), &q, shape: [B, T, H, dh])
        try rec.apply(.attnK(l), &k, shape: [B, T, H, dh])
        try rec.apply(.attnV(l), &v, shape: [B, T, H, dh])

        // With a cache, attend over every cached key and value plus this call's.
        var keys = k, values = v, keyLength = T
        if cache != nil {
            (keys, values) = cache!.append(layer: l, k: k, v: v, batch: B, length: T)
            keyLength = cache!.length + T
        }
        let geo = AttentionGeometry(batch: B, queryLength: T, keyLength: keyLength, heads: H, headDim: dh,
                                    scale: config.scaleAttentionWeights ? nil : 1)
        var probs = Tensor.uninitialized(geo.probsShape)
        var scores: Tensor? = rec.touches(.attnScores(l)) ? Tensor(shape: geo.probsShape) : nil
        attentionProbsForward(probs: &probs, scores: &scores, q: q, k: keys, keyMask: keyMask, geometry: geo)
        if var s = scores, rec.hasEdits(.attnScores(l)) {
            try rec.apply(.attnScores(l), &s, shape: geo.probsShape)
            probs = softmaxLastAxis(s)
        } else if var s = scores {
            try rec.apply(.attnScores(l), &s, shape: geo.probsShape)
        }
        try rec.apply(.attnPattern(l), &probs, shape: geo.probsShape)
        var z = Tensor.uninitialized([N, d])
        attentionApplyForward(z: &z, probs: probs, v: values, geometry: geo)
        try rec.apply(.attnZ(l), &z, shape: [B, T, H, dh])
        var attnOut = Tensor.uninitialized([N, d])
        linearForward(out: &attnOut, x: z, weight: w.attnProjWeight, bias: w.attnProjBias, layout: .inOut)
        try rec.apply(.attnOut(l), &attnOut, shape: [B, T, d])
        var residMid = Tensor.uninitialized([N, d])
        residualForward(out: &residMid, residPre, attnOut)
        try rec.apply(.residMid(l), &residMid, shape: [B, T, d])

        var ln2 = Tensor.uninitialized([N, d]), m2 = Tensor.uninitialized([N]), r2 = Tensor.uninitialized([N])
        try layerNormHooked(out: &ln2, mean: &m2, rstd: &r2, x: residMid, weight: w.ln2Weight, bias: w.ln2Bias,
                            scaleHook: .ln2Scale(l), normalizedHook: .ln2Normalized(l), batch: B, length: T, rec: &rec)
        var pre = Tensor.uninitialized([N, m])
        linearForward(out: &pre, x: ln2, weight: w.fcWeight, bias: w.fcBias, layout: .inOut)
        try rec.apply(.mlpPre(l), &pre, shape: [B, T, m])
        var post = Tensor.uninitialized([N, m])
        geluForward(out: &post, x: pre, kind: config.activation)
        try rec.apply(.mlpPost(l), &post, shape: [B, T, m])
        var mlpOut = Tensor.uninitialized([N, d])
        linearForward(out: &mlpOut, x: post, weight: w.mlpProjWeight, bias: w.mlpProjBias, layout: .inOut)
        try rec.apply(.mlpOut(l), &mlpOut, shape: [B, T, d])
        var residPost = Tensor.uninitialized([N, d])
        residualForward(out: &residPost, residMid, mlpOut)
        try rec.apply(.residPost(l), &residPost, shape: [B, T, d])

        if acts != nil {
            acts!.blocks.append(GPT2BlockActivations(
                residPre: residPre, ln1Out: ln1, ln1Mean: m1, ln1Rstd: r1, q: q, k: k, v: v, probs: probs, z: z,
                residMid: residMid, ln2Out: ln2, ln2Mean: m2, ln2Rstd: r2, mlpPre: pre, mlpPost: post))
        }
        return residPost
    }

    /// LayerNorm with TransformerLens' two hooks: `hook_scale` = √(var + eps) `[b, p, 1]` and
    /// `hook_normalized` (after the affine, as TransformerLens without `fold_ln`). An edited scale is
    /// used to renormalise.
    func layerNormHooked(out: inout Tensor, mean: inout Tensor, rstd: inout Tensor, x: Tensor, weight: Tensor, bias: Tensor,
                         scaleHook: HookPoint, normalizedHook: HookPoint, batch B: Int, length T: Int,
                         rec: inout Recorder) throws {
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: weight, bias: bias, eps: config.layerNormEps)
        if rec.touches(scaleHook) {
            var scale = Tensor(shape: [B, T, 1], scalars: rstd.scalars.map { 1 / $0 })
            try rec.apply(scaleHook, &scale, shape: [B, T, 1])
            if rec.hasEdits(scaleHook) {
                let (n, d) = x.matrixShape
                for r in 0..<n {
                    rstd.scalars[r] = 1 / scale.scalars[r]
                    for i in 0..<d {
                        out.scalars[r * d + i] = (x.scalars[r * d + i] - mean.scalars[r]) * rstd.scalars[r] * weight.scalars[i] + bias.scalars[i]
                    }
                }
            }
        }
        try rec.apply(normalizedHook, &out, shape: [B, T, x.matrixShape.cols])
    }
}

// MARK: - Helpers

/// Applies a `HookSet` during one pass and keeps what it captures.
struct Recorder {
    let hooks: HookSet
    let context: HookContext
    /// Keep the VJPs of gradient-aware edits (a pass retained for backward).
    let keepVJPs: Bool
    var captured: [HookPoint: Tensor] = [:]
    var vjps = EditVJPs()

    init(hooks: HookSet, context: HookContext, keepVJPs: Bool = false) {
        self.hooks = hooks; self.context = context; self.keepVJPs = keepVJPs
    }

    func touches(_ h: HookPoint) -> Bool { hooks.touches(h) }
    func hasEdits(_ h: HookPoint) -> Bool { hooks.edits[h] != nil }

    /// Runs the edits of `h` on `value` seen under its TransformerLens `shape` (keeping their VJPs
    /// when asked), then captures it.
    mutating func apply(_ h: HookPoint, _ value: inout Tensor, shape: [Int]) throws {
        guard hooks.touches(h) else { return }
        let internalShape = value.shape
        if let edits = hooks.edits[h] {
            var v = value.reshaped(shape)
            for e in edits {
                let vjp = e(&v, context)
                if keepVJPs, let vjp { vjps.byHook[h, default: []].append(vjp) }
            }
            guard v.shape == shape else { throw ModelError.hookShapeChanged(h.description, expected: shape, found: v.shape) }
            value = v.reshaped(internalShape)
        }
        if hooks.capture.contains(h) { captured[h] = value.reshaped(shape) }
    }
}

/// Splits `[N, 3d]` into three `[N, d]` tensors (columns q | k | v).
func splitColumns3(_ x: Tensor, _ d: Int) -> (Tensor, Tensor, Tensor) {
    let n = x.matrixShape.rows
    var q = Tensor.uninitialized([n, d]), k = Tensor.uninitialized([n, d]), v = Tensor.uninitialized([n, d])
    x.withUnsafeBufferPointer { px in
        q.withUnsafeMutableBufferPointer { pq in k.withUnsafeMutableBufferPointer { pk in v.withUnsafeMutableBufferPointer { pv in
            let px = px.baseAddress!, pq = pq.baseAddress!, pk = pk.baseAddress!, pv = pv.baseAddress!
            Parallel.forEach(n, costPerItem: 3 * d) { rows in
                for r in rows {
                    let src = px + r * 3 * d
                    (pq + r * d).update(from: src, count: d)
                    (pk + r * d).update(from: src + d, count: d)
                    (pv + r * d).update(from: src + 2 * d, count: d)
                }
            }
        } } }
    }
    return (q, k, v)
}

/// Joins three `[N, d]` tensors into `[N, 3d]`.
func joinColumns3(_ a: Tensor, _ b: Tensor, _ c: Tensor) -> Tensor {
    let (n, d) = a.matrixShape
    var out = Tensor(shape: [n, 3 * d])
    for r in 0..<n {
        for i in 0..<d {
            out.scalars[r * 3 * d + i] = a.scalars[r * d + i]
            out.scalars[r * 3 * d + d + i] = b.scalars[r * d + i]
            out.scalars[r * 3 * d + 2 * d + i] = c.scalars[r * d + i]
        }
    }
    return out
}

/// Rows `rows` of a `[N, d]` tensor, in order.
func gatherRows(_ x: Tensor, _ rows: [Int]) -> Tensor {
    let d = x.matrixShape.cols
    var out = Tensor(shape: [rows.count, d])
    for (i, r) in rows.enumerated() { for j in 0..<d { out.scalars[i * d + j] = x.scalars[r * d + j] } }
    return out
}

/// Softmax over the last axis treating −∞ as probability 0; an all −∞ row gives zeros.
func softmaxLastAxis(_ s: Tensor) -> Tensor {
    let (n, k) = s.matrixShape
    var out = s
    for r in 0..<n {
        var m = -Float.infinity
        for j in 0..<k { m = max(m, s.scalars[r * k + j]) }
        if m == -.infinity { for j in 0..<k { out.scalars[r * k + j] = 0 }; continue }
        var sum: Float = 0
        for j in 0..<k { let e = FastMath.exp(s.scalars[r * k + j] - m); out.scalars[r * k + j] = e; sum += e }
        for j in 0..<k { out.scalars[r * k + j] /= sum }
    }
    return out
}
