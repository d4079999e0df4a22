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
    /// gradient is known, unless weight gradients are requested (then it runs to the embeddings).
    /// Edits made at hook points during the forward pass are treated as the identity.
    public func backward(_ activations: ModelActivations, dLogits: Tensor, to hooks: Set<HookPoint>,
                         weightGradients: Bool) throws -> BackwardResult {
        guard case .gpt2(let acts) = activations else {
            throw ModelError.invalidConfig("activations from another model family were passed to GPT-2's backward")
        }
        for h in hooks where !hookPoints.contains(h) { throw ModelError.unknownHook(h.description, available: "GPT-2 hook names") }
        for h in hooks where !Self.supportsGradient(h) {
            throw ModelError.invalidConfig("the gradient at \(h) is not available (norm scales and attention scores have none here)")
        }
        for h in hooks { if let l = h.layer, l >= acts.blocks.count { throw ModelError.hookOutOfRange(h.description, layerCount: acts.blocks.count) } }
        guard let residFinal = acts.residFinal, let lnfOut = acts.lnfOut else {
            throw ModelError.invalidConfig("backward needs a full forward pass with logits")
        }
        let B = acts.batch, T = acts.length, N = B * T, d = self.d, m = config.mlpWidth, H = heads, dh = config.headDim
        let R = acts.logitRows.count
        guard dLogits.count == R * config.vocabSize else {
            throw ModelError.hookShapeChanged("logits gradient", expected: [B, R / max(B, 1), config.vocabSize], found: dLogits.shape)
        }
        var rec = GradientRecorder(wanted: hooks, stopEarly: !weightGradients)
        var wg: GPT2Weights? = weightGradients ? GPT2Weights.zeros(config) : nil

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
        if rec.record(.lnFinalNormalized, dLnf, [B, T, d]) { return BackwardResult(hookGradients: rec.gradients, weightGradients: wg.map { Self.named($0, config) }) }
        var dx = Tensor(shape: [N, d])
        var dW: Tensor? = wg?.lnFinalWeight, dB: Tensor? = wg?.lnFinalBias
        layerNormBackward(dx: &dx, dWeight: &dW, dBias: &dB, dOut: dLnf, x: residFinal, weight: weights.lnFinalWeight,
                          mean: acts.lnfMean!, rstd: acts.lnfRstd!)
        if wg != nil { wg!.lnFinalWeight = dW!; wg!.lnFinalBias = dB! }

        for l in stride(from: acts.blocks.count - 1, through: 0, by: -1) {
            let a = acts.blocks[l], w = weights.blocks[l]
            var g = wg?.blocks[l]
            if rec.record(.residPost(l), dx, [B, T, d]) { break }
            // MLP: residPost = residMid + proj(gelu(fc(ln2(residMid)))).
            if rec.record(.mlpOut(l), dx, [B, T, d]) { break }
            var dPost: Tensor? = Tensor(shape: [N, m])
            var gw = g?.mlpProjWeight, gb = g?.mlpProjBias
            linearBackward(dx: &dPost, dWeight: &gw, dBias: &gb, dOut: dx, x: a.mlpPost, weight: w.mlpProjWeight, layout: .inOut)
            g?.mlpProjWeight = gw ?? Tensor(shape: [0]); g?.mlpProjBias = gb ?? Tensor(shape: [0])
            if rec.record(.mlpPost(l), dPost!, [B, T, m]) { break }
            var dPre = Tensor(shape: [N, m])
            geluBackward(dx: &dPre, dOut: dPost!, x: a.mlpPre, kind: config.activation)
            if rec.record(.mlpPre(l), dPre, [B, T, m]) { break }
            var dLn2: Tensor? = Tensor(shape: [N, d])
            gw = g?.fcWeight; gb = g?.fcBias
            linearBackward(dx: &dLn2, dWeight: &gw, dBias: &gb, dOut: dPre, x: a.ln2Out, weight: w.fcWeight, layout: .inOut)
            g?.fcWeight = gw ?? Tensor(shape: [0]); g?.fcBias = gb ?? Tensor(shape: [0])
            if rec.record(.ln2Normalized(l), dLn2!, [B, T, d]) { break }
            var dMid = dx
            gw = g?.ln2Weight; gb = g?.ln2Bias
            layerNormBackward(dx: &dMid, dWeight: &gw, dBias: &gb, dOut: dLn2!, x: a.residMid, weight: w.ln2Weight,
                              mean: a.ln2Mean, rstd: a.ln2Rstd)
            g?.ln2Weight = gw ?? Tensor(shape: [0]); g?.ln2Bias = gb ?? Tensor(shape: [0])
            if rec.record(.residMid(l), dMid, [B, T, d]) { break }

            // Attention: residMid = residPre + proj(attn(ln1(residPre))).
            if rec.record(.attnOut(l), dMid, [B, T, d]) { break }
            var dZ: Tensor? = Tensor(shape: [N, d])
            gw = g?.attnProjWeight; gb = g?.attnProjBias
            linearBackward(dx: &dZ, dWeight: &gw, dBias: &gb, dOut: dMid, x: a.z, weight: w.attnProjWeight, layout: .inOut)
            g?.attnProjWeight = gw ?? Tensor(shape: [0]); g?.attnProjBias = gb ?? Tensor(shape: [0])
            if rec.record(.attnZ(l), dZ!, [B, T, H, dh]) { break }
            let geo = AttentionGeometry(batch: B, queryLength: T, heads: H, headDim: dh,
                                        scale: config.scaleAttentionWeights ? nil : 1)
            var dProbs = Tensor(shape: geo.probsShape), dv = Tensor(shape: [N, d])
            attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ!, probs: a.probs, v: a.v, geometry: geo)
            if rec.record(.attnPattern(l), dProbs, geo.probsShape) { break }
            if rec.record(.attnV(l), dv, [B, T, H, dh]) { break }
            var dq = Tensor(shape: [N, d]), dk = Tensor(shape: [N, d])
            attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: a.probs, q: a.q, k: a.k, geometry: geo)
            if rec.record(.attnQ(l), dq, [B, T, H, dh]) || rec.record(.attnK(l), dk, [B, T, H, dh]) { break }
            var dLn1: Tensor? = Tensor(shape: [N, d])
            gw = g?.qkvWeight; gb = g?.qkvBias
            linearBackward(dx: &dLn1, dWeight: &gw, dBias: &gb, dOut: joinColumns3(dq, dk, dv), x: a.ln1Out,
                           weight: w.qkvWeight, layout: .inOut)
            g?.qkvWeight = gw ?? Tensor(shape: [0]); g?.qkvBias = gb ?? Tensor(shape: [0])
            if rec.record(.ln1Normalized(l), dLn1!, [B, T, d]) { break }
            var dPre0 = dMid
            gw = g?.ln1Weight; gb = g?.ln1Bias
            layerNormBackward(dx: &dPre0, dWeight: &gw, dBias: &gb, dOut: dLn1!, x: a.residPre, weight: w.ln1Weight,
                              mean: a.ln1Mean, rstd: a.ln1Rstd)
            g?.ln1Weight = gw ?? Tensor(shape: [0]); g?.ln1Bias = gb ?? Tensor(shape: [0])
            if let g { wg!.blocks[l] = g }
            dx = dPre0
            if rec.record(.residPre(l), dx, [B, T, d]) { break }
        }
        if !rec.done {
            _ = rec.record(.embed, dx, [B, T, d])
            _ = rec.record(.posEmbed, dx, [B, T, d])
            if wg != nil {
                embeddingBackward(dTable: &wg!.tokenEmbedding, dOut: dx, ids: acts.ids)
                embeddingBackward(dTable: &wg!.positionEmbedding, dOut: dx, ids: acts.positions)
            }
        }
        return BackwardResult(hookGradients: rec.gradients, weightGradients: wg.map { Self.named($0, config) })
    }
}

extension GPT2Model {
    static func named(_ w: GPT2Weights, _ c: GPT2Config) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: w.namedTensors(c))
    }
}

/// Collects hook gradients during a backward pass and says when the pass can stop.
struct GradientRecorder {
    var remaining: Set<HookPoint>
    let stopEarly: Bool
    var gradients: [HookPoint: Tensor] = [:]
    var done: Bool { stopEarly && remaining.isEmpty }

    init(wanted: Set<HookPoint>, stopEarly: Bool) { remaining = wanted; self.stopEarly = stopEarly }

    /// Records `g` for `h` if wanted; returns true when the pass can stop.
    mutating func record(_ h: HookPoint, _ g: Tensor, _ shape: [Int]) -> Bool {
        if remaining.remove(h) != nil { gradients[h] = g.reshaped(shape) }
        return done
    }
}
