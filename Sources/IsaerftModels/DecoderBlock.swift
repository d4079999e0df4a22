import IsaerftCore

extension DecoderModel {
    /// One block: h += [post-norm](attn(norm(h))); h += [post-norm](mlp(norm(h))).
    func block(_ l: Int, _ input: Tensor, B: Int, T: Int, positions: [Int], keyMask: [Bool]?,
               rec: inout Recorder, acts: inout DecoderActivations?, cache: inout KVCache?) throws -> Tensor {
        let c = config, w = weights.blocks[l], N = B * T, d = c.width
        let H = c.headCount, Hk = c.kvHeadCount, D = c.headDim, m = c.mlpWidth
        var residPre = input
        try rec.apply(.residPre(l), &residPre, shape: [B, T, d])
        let (a1, ln1Normalized, ln1Inv) = try norm(residPre, scale: w.inputNorm, scaleHook: .ln1Scale(l),
                                                   normalizedHook: .ln1Normalized(l), B: B, T: T, rec: &rec)
        var q = Tensor.uninitialized([N, H * D]), k = Tensor.uninitialized([N, Hk * D]), v = Tensor.uninitialized([N, Hk * D])
        linearForward(out: &q, x: a1, weight: w.q, bias: w.qBias, layout: .outIn)
        linearForward(out: &k, x: a1, weight: w.k, bias: w.kBias, layout: .outIn)
        linearForward(out: &v, x: a1, weight: w.v, bias: w.vBias, layout: .outIn)
        try rec.apply(.attnQ(l), &q, shape: [B, T, H, D])
        try rec.apply(.attnK(l), &k, shape: [B, T, Hk, D])
        try rec.apply(.attnV(l), &v, shape: [B, T, Hk, D])
        let qRaw = q, kRaw = k
        var qInv: Tensor? = nil, kInv: Tensor? = nil
        if let qn = w.qNorm, let kn = w.kNorm {
            (q, qInv) = headNorm(q, scale: qn)
            (k, kInv) = headNorm(k, scale: kn)
        }
        let table = c.ropeTables[l]
        ropeApply(&q, positions: positions, heads: H, table: table)
        ropeApply(&k, positions: positions, heads: Hk, table: table)
        try rec.apply(.rotQ(l), &q, shape: [B, T, H, D])
        try rec.apply(.rotK(l), &k, shape: [B, T, Hk, D])

        var keys = k, values = v, keyLength = T
        if cache != nil {
            (keys, values) = cache!.append(layer: l, k: k, v: v, batch: B, length: T)
            keyLength = cache!.length + T
        }
        let geo = AttentionGeometry(batch: B, queryLength: T, keyLength: keyLength, heads: H, kvHeads: Hk, headDim: D,
                                    scale: c.attentionScale, window: c.windows[l], softcap: c.attentionSoftcap)
        var probs = Tensor.uninitialized(geo.probsShape)
        var scores: Tensor? = rec.touches(.attnScores(l)) ? Tensor(shape: geo.probsShape) : nil
        attentionProbsForward(probs: &probs, scores: &scores, q: q, k: keys, keyMask: keyMask, geometry: geo)
        if var s = scores {
            try rec.apply(.attnScores(l), &s, shape: geo.probsShape)
            if rec.hasEdits(.attnScores(l)) { probs = softmaxLastAxis(s) }
        }
        try rec.apply(.attnPattern(l), &probs, shape: geo.probsShape)
        var z = Tensor.uninitialized([N, H * D])
        attentionApplyForward(z: &z, probs: probs, v: values, geometry: geo)
        try rec.apply(.attnZ(l), &z, shape: [B, T, H, D])
        var attnProj = Tensor.uninitialized([N, d])
        linearForward(out: &attnProj, x: z, weight: w.o, bias: nil, layout: .outIn)
        var attnOut = attnProj
        var post1: (Tensor, Tensor)? = nil
        if let pn = w.postAttentionNorm {
            let (o, nrm, inv) = try norm(attnProj, scale: pn, scaleHook: .ln1PostScale(l), normalizedHook: .ln1PostNormalized(l),
                                         B: B, T: T, rec: &rec)
            attnOut = o; post1 = (nrm, inv)
        }
        try rec.apply(.attnOut(l), &attnOut, shape: [B, T, d])
        var residMid = Tensor.uninitialized([N, d])
        residualForward(out: &residMid, residPre, attnOut)
        try rec.apply(.residMid(l), &residMid, shape: [B, T, d])

        let (a2, ln2Normalized, ln2Inv) = try norm(residMid, scale: w.preMLPNorm, scaleHook: .ln2Scale(l),
                                                   normalizedHook: .ln2Normalized(l), B: B, T: T, rec: &rec)
        var gate = Tensor.uninitialized([N, m]), up = Tensor.uninitialized([N, m])
        linearForward(out: &gate, x: a2, weight: w.gate, bias: nil, layout: .outIn)
        try rec.apply(.mlpPre(l), &gate, shape: [B, T, m])
        linearForward(out: &up, x: a2, weight: w.up, bias: nil, layout: .outIn)
        try rec.apply(.mlpPreLinear(l), &up, shape: [B, T, m])
        var act = Tensor.uninitialized([N, m])
        switch c.activation {
        case .silu: siluForward(out: &act, x: gate)
        case .geluTanh: geluForward(out: &act, x: gate, kind: .tanh)
        }
        var post = act
        multiplyInPlace(&post, up)
        try rec.apply(.mlpPost(l), &post, shape: [B, T, m])
        var downOut = Tensor.uninitialized([N, d])
        linearForward(out: &downOut, x: post, weight: w.down, bias: nil, layout: .outIn)
        var mlpOut = downOut
        var post2: (Tensor, Tensor)? = nil
        if let pn = w.postMLPNorm {
            let (o, nrm, inv) = try norm(downOut, scale: pn, scaleHook: .ln2PostScale(l), normalizedHook: .ln2PostNormalized(l),
                                         B: B, T: T, rec: &rec)
            mlpOut = o; post2 = (nrm, inv)
        }
        try rec.apply(.mlpOut(l), &mlpOut, shape: [B, T, d])
        var residPost = Tensor.uninitialized([N, d])
        residualForward(out: &residPost, residMid, mlpOut)
        try rec.apply(.residPost(l), &residPost, shape: [B, T, d])

        if acts != nil {
            acts!.blocks.append(DecoderBlockActivations(
                residPre: residPre, ln1Normalized: ln1Normalized, ln1Inv: ln1Inv, a1: a1, qRaw: qRaw, kRaw: kRaw,
                qInv: qInv, kInv: kInv, qRot: q, kRot: k, v: v, probs: probs, z: z, attnProj: attnProj,
                post1Normalized: post1?.0, post1Inv: post1?.1, residMid: residMid, ln2Normalized: ln2Normalized,
                ln2Inv: ln2Inv, a2: a2, gate: gate, up: up, act: act, downOut: downOut,
                post2Normalized: post2?.0, post2Inv: post2?.1))
        }
        return residPost
    }

    /// RMSNorm over each head's `headDim` values of `[N, heads·D]` with `scale` `[D]` (QK-norm).
    func headNorm(_ x: Tensor, scale: Tensor) -> (Tensor, Tensor) {
        let D = config.headDim, rows = x.count / D
        var out = Tensor.uninitialized([rows, D]), inv = Tensor.uninitialized([rows])
        rmsNormForward(out: &out, invRMS: &inv, x: x.reshaped([rows, D]), scale: scale, eps: config.rmsNormEps)
        return (out.reshaped(x.shape), inv)
    }
}

/// a ⊙= b (same shape).
public func multiplyInPlace(_ a: inout Tensor, _ b: Tensor) {
    precondition(a.count == b.count, "multiplyInPlace: \(a.shape) ⊙ \(b.shape)")
    let n = a.count
    b.withUnsafeBufferPointer { pb in a.withUnsafeMutableBufferPointer { pa in
        for i in 0..<n { pa[i] *= pb[i] }
    } }
}
