import IsaerftCore

extension DecoderModel {
    /// Backpropagates d loss / d logits through the frozen decoder (the forward list in reverse),
    /// stopping once every requested hook's gradient is known unless weight gradients are wanted.
    /// Gradients at hooks are with respect to the value after edits; the pass continues through the
    /// VJPs of gradient-aware edits (plain edits count as the identity, see `HookSet`). For a pass
    /// resumed at `ForwardOptions.start` see `BackwardResult.startGradient`.
    public func backward(_ activations: ModelActivations, dLogits: Tensor, to hooks: Set<HookPoint>,
                         weightGradients: Bool) throws -> BackwardResult {
        guard case .decoder(let acts) = activations else {
            throw ModelError.invalidConfig("activations from another model family were passed to a decoder's backward")
        }
        let available = Set(hookPoints)
        for h in hooks {
            guard available.contains(h), GPT2Model.supportsGradient(h), !Self.noGradient(h) else {
                throw ModelError.invalidConfig("the gradient at \(h) is not available")
            }
        }
        for h in acts.vjps.byHook.keys where !GPT2Model.supportsGradient(h) || Self.noGradient(h) {
            throw ModelError.gradientEditUnsupported(h.description)
        }
        let first = acts.firstLayer, L = config.layerCount
        if acts.resumed {
            let start = ForwardOptions.firstHook(first, layerCount: L)
            for h in hooks where h.order(layerCount: L) < start.order(layerCount: L) {
                throw ModelError.hookBeforeStart(h.description, start: start.description)
            }
        }
        guard let residFinal = acts.residFinal, let finalOut = acts.finalOut else {
            throw ModelError.invalidConfig("backward needs a full forward pass with logits")
        }
        let c = config, B = acts.batch, T = acts.length, N = B * T, d = c.width
        let H = c.headCount, Hk = c.kvHeadCount, D = c.headDim, m = c.mlpWidth, R = acts.logitRows.count
        guard dLogits.count == R * c.vocabSize else {
            throw ModelError.hookShapeChanged("logits gradient", expected: [B, R / max(B, 1), c.vocabSize], found: dLogits.shape)
        }
        var rec = GradientRecorder(wanted: hooks, stopEarly: !weightGradients, vjps: acts.vjps,
                                   runToStart: acts.resumed && hooks.isEmpty)
        var grads: [String: Tensor]? = weightGradients ? [:] : nil
        func addGrad(_ name: String, _ g: Tensor) {
            guard grads != nil else { return }
            if var e = grads![name] { accumulate(&e, g); grads![name] = e } else { grads![name] = g }
        }
        func linearBack(_ dOut: Tensor, _ x: Tensor, _ w: Tensor, _ name: String, bias: String? = nil, into dx: inout Tensor) {
            var dxo: Tensor? = dx, dw: Tensor? = grads != nil ? Tensor(shape: w.shape) : nil
            var db: Tensor? = (grads != nil && bias != nil) ? Tensor(shape: [w.shape[0]]) : nil
            linearBackward(dx: &dxo, dWeight: &dw, dBias: &db, dOut: dOut, x: x, weight: w, layout: .outIn)
            dx = dxo!
            if let dw { addGrad(name, dw) }
            if let db, let bias { addGrad(bias, db) }
        }
        /// y = normalized ⊙ scale: d loss / d normalized (and the scale's gradient).
        func scaleBack(_ dOut: Tensor, _ normalized: Tensor, _ scale: Tensor, _ name: String) -> Tensor {
            var dn = dOut
            scaleColumns(&dn, by: scale)
            if grads != nil {
                var ds = Tensor(shape: [scale.count])
                var prod = dOut
                multiplyInPlace(&prod, normalized)
                biasBackward(dBias: &ds, dOut: prod.reshaped([prod.count / scale.count, scale.count]))
                addGrad(name, ds)
            }
            return dn
        }
        /// normalized = x·inv: d loss / d x.
        func rmsBack(_ dn: Tensor, _ x: Tensor, _ inv: Tensor) -> Tensor {
            var dx = Tensor(shape: x.shape)
            var none: Tensor? = nil
            rmsNormBackward(dx: &dx, dScale: &none, dOut: dn, x: x, scale: nil, invRMS: inv)
            return dx
        }
        func done() -> BackwardResult {
            BackwardResult(hookGradients: rec.gradients, weightGradients: grads, startGradient: rec.startGradient)
        }

        // Head (and Gemma 2's final soft-cap).
        var dl = dLogits.reshaped([R, c.vocabSize])
        if let cap = c.finalSoftcap, let raw = acts.rawLogits {
            for i in 0..<dl.count { let t = FastMath.tanh(raw.scalars[i] / cap); dl.scalars[i] *= 1 - t * t }
        }
        let unembed = weights.lmHead ?? weights.embedding
        var dRows = Tensor.uninitialized([R, d])
        matmul(dl, unembed, into: &dRows)
        var dFinal = Tensor(shape: [N, d])
        for (i, r) in acts.logitRows.enumerated() { for j in 0..<d { dFinal.scalars[r * d + j] += dRows.scalars[i * d + j] } }
        if grads != nil {
            let hidden = R == N ? finalOut : gatherRows(finalOut, acts.logitRows)
            var dW = Tensor(shape: unembed.shape)
            matmulTransposedA(dl, hidden, into: &dW)
            addGrad(weights.lmHead != nil ? "lm_head.weight" : "model.embed_tokens.weight", dW)
        }
        var dFinalNormalized = scaleBack(dFinal, acts.finalNormalized!, weights.finalNorm, "model.norm.weight")
        if rec.at(.lnFinalNormalized, &dFinalNormalized, [B, T, d]) { return done() }
        var dx = rmsBack(dFinalNormalized, residFinal, acts.finalInv!)
        if acts.resumed && first == L { rec.reachedStart(dx, [B, T, d]) }

        for l in stride(from: first + acts.blocks.count - 1, through: first, by: -1) {
            let a = acts.blocks[l - first], w = weights.blocks[l], p = "model.layers.\(l)."
            // dx: d loss / d residPost after its edits; after the VJPs both paths receive it.
            if rec.at(.residPost(l), &dx, [B, T, d]) { break }
            var dMLPOut = dx
            if rec.at(.mlpOut(l), &dMLPOut, [B, T, d]) { break }
            var dDown = dMLPOut
            if let pn = w.postMLPNorm {
                var dn = scaleBack(dMLPOut, a.post2Normalized!, pn, p + "post_feedforward_layernorm.weight")
                if rec.at(.ln2PostNormalized(l), &dn, [B, T, d]) { break }
                dDown = rmsBack(dn, a.downOut, a.post2Inv!)
            }
            var post = a.act
            multiplyInPlace(&post, a.up)
            var dPost = Tensor(shape: [N, m])
            linearBack(dDown, post, w.down, p + "mlp.down_proj.weight", into: &dPost)
            if rec.at(.mlpPost(l), &dPost, [B, T, m]) { break }
            var dUp = dPost
            multiplyInPlace(&dUp, a.act)
            if rec.at(.mlpPreLinear(l), &dUp, [B, T, m]) { break }
            var dAct = dPost
            multiplyInPlace(&dAct, a.up)
            var dGate = Tensor(shape: [N, m])
            switch c.activation {
            case .silu: siluBackward(dx: &dGate, dOut: dAct, x: a.gate)
            case .geluTanh: geluBackward(dx: &dGate, dOut: dAct, x: a.gate, kind: .tanh)
            }
            if rec.at(.mlpPre(l), &dGate, [B, T, m]) { break }
            var da2 = Tensor(shape: [N, d])
            linearBack(dGate, a.a2, w.gate, p + "mlp.gate_proj.weight", into: &da2)
            linearBack(dUp, a.a2, w.up, p + "mlp.up_proj.weight", into: &da2)
            var dn2 = scaleBack(da2, a.ln2Normalized, w.preMLPNorm,
                                p + (c.postNorms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"))
            if rec.at(.ln2Normalized(l), &dn2, [B, T, d]) { break }
            var dMid = dx
            accumulate(&dMid, rmsBack(dn2, a.residMid, a.ln2Inv))
            if rec.at(.residMid(l), &dMid, [B, T, d]) { break }
            var dAttnOut = dMid
            if rec.at(.attnOut(l), &dAttnOut, [B, T, d]) { break }

            var dProj = dAttnOut
            if let pn = w.postAttentionNorm {
                var dn = scaleBack(dAttnOut, a.post1Normalized!, pn, p + "post_attention_layernorm.weight")
                if rec.at(.ln1PostNormalized(l), &dn, [B, T, d]) { break }
                dProj = rmsBack(dn, a.attnProj, a.post1Inv!)
            }
            var dZ = Tensor(shape: [N, H * D])
            linearBack(dProj, a.z, w.o, p + "self_attn.o_proj.weight", into: &dZ)
            if rec.at(.attnZ(l), &dZ, [B, T, H, D]) { break }
            let geo = AttentionGeometry(batch: B, queryLength: T, heads: H, kvHeads: Hk, headDim: D, scale: c.attentionScale,
                                        window: c.windows[l], softcap: c.attentionSoftcap)
            var dProbs = Tensor(shape: geo.probsShape), dv = Tensor(shape: [N, Hk * D])
            attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: a.probs, v: a.v, geometry: geo)
            if rec.at(.attnPattern(l), &dProbs, geo.probsShape) || rec.at(.attnV(l), &dv, [B, T, Hk, D]) { break }
            var dq = Tensor(shape: [N, H * D]), dk = Tensor(shape: [N, Hk * D])
            attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: a.probs, q: a.qRot, k: a.kRot, geometry: geo)
            if rec.at(.rotQ(l), &dq, [B, T, H, D]) || rec.at(.rotK(l), &dk, [B, T, Hk, D]) { break }
            ropeApply(&dq, positions: acts.positions, heads: H, table: c.ropeTables[l], inverse: true)
            ropeApply(&dk, positions: acts.positions, heads: Hk, table: c.ropeTables[l], inverse: true)
            if let qn = w.qNorm, let kn = w.kNorm {
                dq = headNormBackward(dq, x: a.qRaw, inv: a.qInv!, scale: qn, name: p + "self_attn.q_norm.weight", addGrad: addGrad)
                dk = headNormBackward(dk, x: a.kRaw, inv: a.kInv!, scale: kn, name: p + "self_attn.k_norm.weight", addGrad: addGrad)
            }
            if rec.at(.attnQ(l), &dq, [B, T, H, D]) || rec.at(.attnK(l), &dk, [B, T, Hk, D]) { break }
            var da1 = Tensor(shape: [N, d])
            linearBack(dq, a.a1, w.q, p + "self_attn.q_proj.weight", bias: w.qBias != nil ? p + "self_attn.q_proj.bias" : nil, into: &da1)
            linearBack(dk, a.a1, w.k, p + "self_attn.k_proj.weight", bias: w.kBias != nil ? p + "self_attn.k_proj.bias" : nil, into: &da1)
            linearBack(dv, a.a1, w.v, p + "self_attn.v_proj.weight", bias: w.vBias != nil ? p + "self_attn.v_proj.bias" : nil, into: &da1)
            var dn1 = scaleBack(da1, a.ln1Normalized, w.inputNorm, p + "input_layernorm.weight")
            if rec.at(.ln1Normalized(l), &dn1, [B, T, d]) { break }
            accumulate(&dMid, rmsBack(dn1, a.residPre, a.ln1Inv))
            dx = dMid
            let stop = rec.at(.residPre(l), &dx, [B, T, d])
            if acts.resumed && l == first { rec.reachedStart(dx, [B, T, d]) }
            if stop { break }
        }
        if !rec.done && !acts.resumed {
            _ = rec.at(.embed, &dx, [B, T, d])
            if grads != nil {
                var dTable = Tensor(shape: weights.embedding.shape)
                var scaled = dx
                if let s = c.embeddingScale { for i in 0..<scaled.count { scaled.scalars[i] *= s } }
                embeddingBackward(dTable: &dTable, dOut: scaled, ids: acts.ids)
                addGrad("model.embed_tokens.weight", dTable)
            }
        }
        return done()
    }

    static func noGradient(_ h: HookPoint) -> Bool {
        switch h {
        case .ln1PostScale, .ln2PostScale: true
        default: false
        }
    }

    /// Backward of `headNorm`: per-head RMSNorm with a learned scale.
    func headNormBackward(_ dOut: Tensor, x: Tensor, inv: Tensor, scale: Tensor, name: String,
                          addGrad: (String, Tensor) -> Void) -> Tensor {
        let D = config.headDim, rows = x.count / D
        var dx = Tensor(shape: [rows, D])
        var ds: Tensor? = Tensor(shape: [D])
        rmsNormBackward(dx: &dx, dScale: &ds, dOut: dOut.reshaped([rows, D]), x: x.reshaped([rows, D]), scale: scale, invRMS: inv)
        addGrad(name, ds!)
        return dx.reshaped(x.shape)
    }
}
