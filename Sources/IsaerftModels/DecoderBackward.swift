import IsaerftCore

extension DecoderModel {
    /// Backpropagates d loss / d logits through the frozen decoder (the forward list in reverse),
    /// stopping once every requested hook's gradient is known unless weight gradients are wanted.
    /// Gradients at hooks are with respect to the value after edits; edits count as the identity.
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
        guard let residFinal = acts.residFinal, let finalOut = acts.finalOut else {
            throw ModelError.invalidConfig("backward needs a full forward pass with logits")
        }
        let c = config, B = acts.batch, T = acts.length, N = B * T, d = c.width
        let H = c.headCount, Hk = c.kvHeadCount, D = c.headDim, m = c.mlpWidth, R = acts.logitRows.count
        guard dLogits.count == R * c.vocabSize else {
            throw ModelError.hookShapeChanged("logits gradient", expected: [B, R / max(B, 1), c.vocabSize], found: dLogits.shape)
        }
        var rec = GradientRecorder(wanted: hooks, stopEarly: !weightGradients)
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
        /// y = normalized ⊙ scale, normalized = x·inv: returns (dx, dNormalized).
        func normBack(_ dOut: Tensor, _ x: Tensor, _ normalized: Tensor, _ inv: Tensor, _ scale: Tensor, _ name: String) -> (Tensor, Tensor) {
            var dn = dOut
            scaleColumns(&dn, by: scale)
            if grads != nil {
                var ds = Tensor(shape: [scale.count])
                var prod = dOut
                multiplyInPlace(&prod, normalized)
                biasBackward(dBias: &ds, dOut: prod.reshaped([prod.count / scale.count, scale.count]))
                addGrad(name, ds)
            }
            var dx = Tensor(shape: x.shape)
            var none: Tensor? = nil
            rmsNormBackward(dx: &dx, dScale: &none, dOut: dn, x: x, scale: nil, invRMS: inv)
            return (dx, dn)
        }
        func done() -> BackwardResult { BackwardResult(hookGradients: rec.gradients, weightGradients: grads) }

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
        var (dx, dFinalNormalized) = normBack(dFinal, residFinal, acts.finalNormalized!, acts.finalInv!, weights.finalNorm, "model.norm.weight")
        if rec.record(.lnFinalNormalized, dFinalNormalized, [B, T, d]) { return done() }

        for l in stride(from: acts.blocks.count - 1, through: 0, by: -1) {
            let a = acts.blocks[l], w = weights.blocks[l], p = "model.layers.\(l)."
            if rec.record(.residPost(l), dx, [B, T, d]) || rec.record(.mlpOut(l), dx, [B, T, d]) { break }
            var dDown = dx
            if let pn = w.postMLPNorm {
                let (g, dn) = normBack(dx, a.downOut, a.post2Normalized!, a.post2Inv!, pn, p + "post_feedforward_layernorm.weight")
                dDown = g
                if rec.record(.ln2PostNormalized(l), dn, [B, T, d]) { break }
            }
            var post = a.act
            multiplyInPlace(&post, a.up)
            var dPost = Tensor(shape: [N, m])
            linearBack(dDown, post, w.down, p + "mlp.down_proj.weight", into: &dPost)
            if rec.record(.mlpPost(l), dPost, [B, T, m]) { break }
            var dUp = dPost
            multiplyInPlace(&dUp, a.act)
            if rec.record(.mlpPreLinear(l), dUp, [B, T, m]) { break }
            var dAct = dPost
            multiplyInPlace(&dAct, a.up)
            var dGate = Tensor(shape: [N, m])
            switch c.activation {
            case .silu: siluBackward(dx: &dGate, dOut: dAct, x: a.gate)
            case .geluTanh: geluBackward(dx: &dGate, dOut: dAct, x: a.gate, kind: .tanh)
            }
            if rec.record(.mlpPre(l), dGate, [B, T, m]) { break }
            var da2 = Tensor(shape: [N, d])
            linearBack(dGate, a.a2, w.gate, p + "mlp.gate_proj.weight", into: &da2)
            linearBack(dUp, a.a2, w.up, p + "mlp.up_proj.weight", into: &da2)
            let (dMidNorm, dn2) = normBack(da2, a.residMid, a.ln2Normalized, a.ln2Inv, w.preMLPNorm,
                                           p + (c.postNorms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"))
            if rec.record(.ln2Normalized(l), dn2, [B, T, d]) { break }
            var dMid = dx
            accumulate(&dMid, dMidNorm)
            if rec.record(.residMid(l), dMid, [B, T, d]) || rec.record(.attnOut(l), dMid, [B, T, d]) { break }

            var dProj = dMid
            if let pn = w.postAttentionNorm {
                let (g, dn) = normBack(dMid, a.attnProj, a.post1Normalized!, a.post1Inv!, pn, p + "post_attention_layernorm.weight")
                dProj = g
                if rec.record(.ln1PostNormalized(l), dn, [B, T, d]) { break }
            }
            var dZ = Tensor(shape: [N, H * D])
            linearBack(dProj, a.z, w.o, p + "self_attn.o_proj.weight", into: &dZ)
            if rec.record(.attnZ(l), dZ, [B, T, H, D]) { break }
            let geo = AttentionGeometry(batch: B, queryLength: T, heads: H, kvHeads: Hk, headDim: D, scale: c.attentionScale,
                                        window: c.windows[l], softcap: c.attentionSoftcap)
            var dProbs = Tensor(shape: geo.probsShape), dv = Tensor(shape: [N, Hk * D])
            attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: a.probs, v: a.v, geometry: geo)
            if rec.record(.attnPattern(l), dProbs, geo.probsShape) || rec.record(.attnV(l), dv, [B, T, Hk, D]) { break }
            var dq = Tensor(shape: [N, H * D]), dk = Tensor(shape: [N, Hk * D])
            attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: a.probs, q: a.qRot, k: a.kRot, geometry: geo)
            if rec.record(.rotQ(l), dq, [B, T, H, D]) || rec.record(.rotK(l), dk, [B, T, Hk, D]) { break }
            ropeApply(&dq, positions: acts.positions, heads: H, table: c.ropeTables[l], inverse: true)
            ropeApply(&dk, positions: acts.positions, heads: Hk, table: c.ropeTables[l], inverse: true)
            if let qn = w.qNorm, let kn = w.kNorm {
                dq = headNormBackward(dq, x: a.qRaw, inv: a.qInv!, scale: qn, name: p + "self_attn.q_norm.weight", addGrad: addGrad)
                dk = headNormBackward(dk, x: a.kRaw, inv: a.kInv!, scale: kn, name: p + "self_attn.k_norm.weight", addGrad: addGrad)
            }
            if rec.record(.attnQ(l), dq, [B, T, H, D]) || rec.record(.attnK(l), dk, [B, T, Hk, D]) { break }
            var da1 = Tensor(shape: [N, d])
            linearBack(dq, a.a1, w.q, p + "self_attn.q_proj.weight", bias: w.qBias != nil ? p + "self_attn.q_proj.bias" : nil, into: &da1)
            linearBack(dk, a.a1, w.k, p + "self_attn.k_proj.weight", bias: w.kBias != nil ? p + "self_attn.k_proj.bias" : nil, into: &da1)
            linearBack(dv, a.a1, w.v, p + "self_attn.v_proj.weight", bias: w.vBias != nil ? p + "self_attn.v_proj.bias" : nil, into: &da1)
            let (dPreNorm, dn1) = normBack(da1, a.residPre, a.ln1Normalized, a.ln1Inv, w.inputNorm, p + "input_layernorm.weight")
            if rec.record(.ln1Normalized(l), dn1, [B, T, d]) { break }
            accumulate(&dMid, dPreNorm)
            dx = dMid
            if rec.record(.residPre(l), dx, [B, T, d]) { break }
        }
        if !rec.done {
            _ = rec.record(.embed, dx, [B, T, d])
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
