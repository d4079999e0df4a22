import IsaerftCore

extension GPT2Model {
    /// Hooks whose gradient `backward` can report (not the norm scales or pre-softmax scores).
    public static func supportsGradient(_ h: HookPoint) -> Bool {
        switch h {
        case .ln1Scale, .ln2Scale, .lnFinalScale, .attnScores: false
        default: true
        }
    }

    /// Backpropagates `dLogits` (d loss / d logits, the shape `forward` returned) through the frozen
    /// model, llm.c style: the forward list in reverse. Stops as soon as every requested hook's
    /// gradient is known, unless weight gradients are requested (then it runs to the embeddings, or
    /// to the start of a resumed pass).
    ///
    /// A hook's gradient is with respect to its value after edits; the pass then continues with the
    /// VJPs of gradient-aware edits applied in reverse edit order (plain edits count as the identity,
    /// see `HookSet`). For a pass resumed at `ForwardOptions.start`, hooks before the start are an
    /// error and `BackwardResult.startGradient` is set when the pass reaches the start (see there).
    public func backward(_ activations: ModelActivations, dLogits: Tensor, to hooks: Set<HookPoint>,
                         weightGradients: Bool) throws -> BackwardResult {
        guard case .gpt2(let acts) = activations else {
            throw ModelError.invalidConfig("activations from another model family were passed to GPT-2's backward")
        }
        for h in hooks where !hookPoints.contains(h) { throw ModelError.unknownHook(h.description, available: "GPT-2 hook names") }
        for h in hooks where !Self.supportsGradient(h) {
            throw ModelError.invalidConfig("the gradient at \(h) is not available (norm scales and attention scores have none here)")
        }
        for h in acts.vjps.byHook.keys where !Self.supportsGradient(h) { throw ModelError.gradientEditUnsupported(h.description) }
        let first = acts.firstLayer, L = config.layerCount
        for h in hooks {
            if let l = h.layer, l >= first + acts.blocks.count { throw ModelError.hookOutOfRange(h.description, layerCount: first + acts.blocks.count) }
            if acts.resumed, h.order(layerCount: L) < ForwardOptions.firstHook(first, layerCount: L).order(layerCount: L) {
                throw ModelError.hookBeforeStart(h.description, start: ForwardOptions.firstHook(first, layerCount: L).description)
            }
        }
        guard let residFinal = acts.residFinal, let lnfOut = acts.lnfOut else {
            throw ModelError.invalidConfig("backward needs a full forward pass with logits")
        }
        let B = acts.batch, T = acts.length, N = B * T, d = self.d, m = config.mlpWidth, H = heads, dh = config.headDim
        let R = acts.logitRows.count
        guard dLogits.count == R * config.vocabSize else {
            throw ModelError.hookShapeChanged("logits gradient", expected: [B, R / max(B, 1), config.vocabSize], found: dLogits.shape)
        }
        var rec = GradientRecorder(wanted: hooks, stopEarly: !weightGradients, vjps: acts.vjps,
                                   runToStart: acts.resumed && hooks.isEmpty)
        var wg: GPT2Weights? = weightGradients ? GPT2Weights.zeros(config) : nil
        func result() -> BackwardResult {
            BackwardResult(hookGradients: rec.gradients, weightGradients: wg.map { Self.named($0, config) }, startGradient: rec.startGradient)
        }

        // Head: logits = lnf[rows] · W_Uᵀ.
        let unembed = weights.lmHead ?? weights.tokenEmbedding
        let dLogits2 = dLogits.reshaped([R, config.vocabSize])
        var dRows = Tensor(shape: [R, d])
        matmul(dLogits2, unembed, into: &dRows)
        var dLnf = Tensor(shape: [N, d])
        for (i, r) in acts.logitRows.enumerated() { for j in 0..<d { dLnf.scalars[r * d + j] += dRows.scalars[i * d + j] } }
        if wg != nil {
            let hidden = R == N ? lnfOut : gatherRows(lnfOut, acts.logitRows)
            if wg!.lmHead != nil { matmulTransposedA(dLogits2, hidden, into: &wg!.lmHead!, accumulate: true) }
            else { matmulTransposedA(dLogits2, hidden, into: &wg!.tokenEmbedding, accumulate: true) }
        }
        if rec.at(.lnFinalNormalized, &dLnf, [B, T, d]) { return result() }
        var dx = Tensor(shape: [N, d])
        var dW: Tensor? = wg?.lnFinalWeight, dB: Tensor? = wg?.lnFinalBias
        layerNormBackward(dx: &dx, dWeight: &dW, dBias: &dB, dOut: dLnf, x: residFinal, weight: weights.lnFinalWeight,
                          mean: acts.lnfMean!, rstd: acts.lnfRstd!)
        if wg != nil { wg!.lnFinalWeight = dW!; wg!.lnFinalBias = dB! }
        if acts.resumed && first == L { rec.reachedStart(dx, [B, T, d]) }

        for l in stride(from: first + acts.blocks.count - 1, through: first, by: -1) {
            let a = acts.blocks[l - first], w = weights.blocks[l]
            var g = wg?.blocks[l]
            // dx: d loss / d residPost (after its edits); the VJPs turn it into the gradient before them,
            // which both the residual path (residMid) and the MLP path (mlpOut) receive.
            if rec.at(.residPost(l), &dx, [B, T, d]) { break }
            // MLP: residPost = residMid + proj(gelu(fc(ln2(residMid)))).
            var dMLPOut = dx
            if rec.at(.mlpOut(l), &dMLPOut, [B, T, d]) { break }
            var dPost: Tensor? = Tensor(shape: [N, m])
            var gw = g?.mlpProjWeight, gb = g?.mlpProjBias
            linearBackward(dx: &dPost, dWeight: &gw, dBias: &gb, dOut: dMLPOut, x: a.mlpPost, weight: w.mlpProjWeight, layout: .inOut)
            g?.mlpProjWeight = gw ?? Tensor(shape: [0]); g?.mlpProjBias = gb ?? Tensor(shape: [0])
            if rec.at(.mlpPost(l), &dPost!, [B, T, m]) { break }
            var dPre = Tensor(shape: [N, m])
            geluBackward(dx: &dPre, dOut: dPost!, x: a.mlpPre, kind: config.activation)
            if rec.at(.mlpPre(l), &dPre, [B, T, m]) { break }
            var dLn2: Tensor? = Tensor(shape: [N, d])
            gw = g?.fcWeight; gb = g?.fcBias
            linearBackward(dx: &dLn2, dWeight: &gw, dBias: &gb, dOut: dPre, x: a.ln2Out, weight: w.fcWeight, layout: .inOut)
            g?.fcWeight = gw ?? Tensor(shape: [0]); g?.fcBias = gb ?? Tensor(shape: [0])
            if rec.at(.ln2Normalized(l), &dLn2!, [B, T, d]) { break }
            var dMid = dx
            gw = g?.ln2Weight; gb = g?.ln2Bias
            layerNormBackward(dx: &dMid, dWeight: &gw, dBias: &gb, dOut: dLn2!, x: a.residMid, weight: w.ln2Weight,
                              mean: a.ln2Mean, rstd: a.ln2Rstd)
            g?.ln2Weight = gw ?? Tensor(shape: [0]); g?.ln2Bias = gb ?? Tensor(shape: [0])
            if rec.at(.residMid(l), &dMid, [B, T, d]) { break }

            // Attention: residMid = residPre + proj(attn(ln1(residPre))).
            var dAttnOut = dMid
            if rec.at(.attnOut(l), &dAttnOut, [B, T, d]) { break }
            var dZ: Tensor? = Tensor(shape: [N, d])
            gw = g?.attnProjWeight; gb = g?.attnProjBias
            linearBackward(dx: &dZ, dWeight: &gw, dBias: &gb, dOut: dAttnOut, x: a.z, weight: w.attnProjWeight, layout: .inOut)
            g?.attnProjWeight = gw ?? Tensor(shape: [0]); g?.attnProjBias = gb ?? Tensor(shape: [0])
            if rec.at(.attnZ(l), &dZ!, [B, T, H, dh]) { break }
            let geo = AttentionGeometry(batch: B, queryLength: T, heads: H, headDim: dh,
                                        scale: config.scaleAttentionWeights ? nil : 1)
            var dProbs = Tensor(shape: geo.probsShape), dv = Tensor(shape: [N, d])
            attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ!, probs: a.probs, v: a.v, geometry: geo)
            if rec.at(.attnPattern(l), &dProbs, geo.probsShape) { break }
            if rec.at(.attnV(l), &dv, [B, T, H, dh]) { break }
            var dq = Tensor(shape: [N, d]), dk = Tensor(shape: [N, d])
            attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: a.probs, q: a.q, k: a.k, geometry: geo)
            if rec.at(.attnQ(l), &dq, [B, T, H, dh]) || rec.at(.attnK(l), &dk, [B, T, H, dh]) { break }
            var dLn1: Tensor? = Tensor(shape: [N, d])
            gw = g?.qkvWeight; gb = g?.qkvBias
            linearBackward(dx: &dLn1, dWeight: &gw, dBias: &gb, dOut: joinColumns3(dq, dk, dv), x: a.ln1Out,
                           weight: w.qkvWeight, layout: .inOut)
            g?.qkvWeight = gw ?? Tensor(shape: [0]); g?.qkvBias = gb ?? Tensor(shape: [0])
            if rec.at(.ln1Normalized(l), &dLn1!, [B, T, d]) { break }
            var dPre0 = dMid
            gw = g?.ln1Weight; gb = g?.ln1Bias
            layerNormBackward(dx: &dPre0, dWeight: &gw, dBias: &gb, dOut: dLn1!, x: a.residPre, weight: w.ln1Weight,
                              mean: a.ln1Mean, rstd: a.ln1Rstd)
            g?.ln1Weight = gw ?? Tensor(shape: [0]); g?.ln1Bias = gb ?? Tensor(shape: [0])
            if let g { wg!.blocks[l] = g }
            dx = dPre0
            let stop = rec.at(.residPre(l), &dx, [B, T, d])
            if acts.resumed && l == first { rec.reachedStart(dx, [B, T, d]) }
            if stop { break }
        }
        if !rec.done && !acts.resumed {
            var dEmbed = dx, dPos = dx
            _ = rec.at(.embed, &dEmbed, [B, T, d])
            _ = rec.at(.posEmbed, &dPos, [B, T, d])
            if wg != nil {
                embeddingBackward(dTable: &wg!.tokenEmbedding, dOut: dEmbed, ids: acts.ids)
                embeddingBackward(dTable: &wg!.positionEmbedding, dOut: dPos, ids: acts.positions)
            }
        }
        return result()
    }
}

extension GPT2Model {
    static func named(_ w: GPT2Weights, _ c: GPT2Config) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: w.namedTensors(c))
    }
}

/// Collects hook gradients during a backward pass, applies the VJPs of gradient-aware edits, and
/// says when the pass can stop.
struct GradientRecorder {
    var remaining: Set<HookPoint>
    let stopEarly: Bool
    let vjps: EditVJPs
    /// A resumed pass asked for nothing else: run to the start and report `startGradient`.
    var runToStart: Bool
    var gradients: [HookPoint: Tensor] = [:]
    var startGradient: Tensor?
    var done: Bool { stopEarly && remaining.isEmpty && !runToStart }

    init(wanted: Set<HookPoint>, stopEarly: Bool, vjps: EditVJPs = EditVJPs(), runToStart: Bool = false) {
        remaining = wanted; self.stopEarly = stopEarly; self.vjps = vjps; self.runToStart = runToStart
    }

    /// At hook `h`: records `g` (d loss / d value after the edits) if wanted, then turns `g` into the
    /// gradient with respect to the value before the edits (reverse edit order). Returns true when
    /// the pass can stop.
    mutating func at(_ h: HookPoint, _ g: inout Tensor, _ shape: [Int]) -> Bool {
        if remaining.remove(h) != nil { gradients[h] = g.reshaped(shape) }
        if done { return true }
        vjps.pull(h, &g, shape: shape)
        return false
    }

    /// The gradient with respect to a resumed pass's starting residual.
    mutating func reachedStart(_ g: Tensor, _ shape: [Int]) {
        startGradient = g.reshaped(shape)
        runToStart = false
    }
}
