import IsaerftCore

extension TrainingSAE {
    /// Standard (ReLU) SAE: SAELens 6.54.12 `StandardTrainingSAE.training_forward_pass`.
    ///
    /// Forward: `u = x − b_dec`, `h = u·W_enc + b_enc`, `f = ReLU(h)`, `x̂ = f·W_dec + b_dec`,
    /// `mse = mean_batch Σ_d (x̂ − x)²`, `l1 = c · mean_batch Σ_i f_i ‖W_dec[i]‖` (lp_norm 1).
    /// Backward: `dx̂ = 2(x̂ − x)/n`; `dW_dec = fᵀ·dx̂ + (c/n)(Σ_r f_ri)·W_dec[i]/n_i`;
    /// `dh = (dx̂·W_decᵀ + (c/n)·n_i) ⊙ 1[h > 0]`; `dW_enc = uᵀ·dh`; `db_enc = Σ_r dh`;
    /// `db_dec = Σ_r dx̂ − W_enc·db_enc` (the second term only when b_dec is applied to the input).
    mutating func standardPass(_ y: Tensor, coefficient c: Double) -> SAEStepLosses {
        let n = y.shape[0], m = dSAE
        centredInput(y, bDec: parameters.bDec, apply: config.applyBDecToInput, into: &ws.u)
        encoderPreActivations(ws.u, weightT: parameters.wEncT, bias: parameters.bEnc, into: &ws.f)
        let norms = rowNorms(parameters.wDec)
        // ReLU in place (f > 0 ⟺ h > 0), with per-latent sums and firing counts.
        var fSum = [Float](repeating: 0, count: m), fired = [Int32](repeating: 0, count: m)
        ws.f.withUnsafeMutableBufferPointer { fp in fSum.withUnsafeMutableBufferPointer { sp in fired.withUnsafeMutableBufferPointer { cp in
            let f = fp.baseAddress!, s = sp.baseAddress!, cnt = cp.baseAddress!
            forEachColumnBlock(m, rows: n) { cols in
                for r in 0..<n {
                    let row = f + r * m
                    for j in cols { let v = max(row[j], 0); row[j] = v; s[j] += v; cnt[j] += v > 0 ? 1 : 0 }
                }
            }
        } } }
        denseDecode(ws.f, wDec: parameters.wDec, bDec: parameters.bDec, into: &ws.xhat)
        let (mse, ev) = reconstructionGradient(ws.xhat, target: y, into: &ws.dxhat)
        var l1 = 0.0
        for i in 0..<m { l1 += Double(fSum[i]) * Double(norms[i]) }
        l1 *= c / Double(n)

        // Decoder.
        gradients.bDec = Tensor(shape: [dIn], scalars: columnSums(ws.dxhat))
        Workspace.ensure(&gradients.wDec, [m, dIn])
        matmulTransposedA(ws.f, ws.dxhat, into: &gradients.wDec)
        let cn = Float(c / Double(n))
        addRowScaled(&gradients.wDec, parameters.wDec, scales: normGradientScales(fSum.map { $0 * cn }, norms: norms))
        Workspace.ensure(&ws.g, [n, m])
        matmulTransposedB(ws.dxhat, parameters.wDec, into: &ws.g)
        // dh = (df + (c/n)·n_i) ⊙ 1[f > 0], with db_enc = Σ_r dh.
        var db = [Float](repeating: 0, count: m)
        ws.g.withUnsafeMutableBufferPointer { gp in ws.f.withUnsafeBufferPointer { fp in db.withUnsafeMutableBufferPointer { dp in
            norms.withUnsafeBufferPointer { np in
                let g = gp.baseAddress!, f = fp.baseAddress!, d = dp.baseAddress!, nb = np.baseAddress!
                forEachColumnBlock(m, rows: n) { cols in
                    for r in 0..<n {
                        let gr = g + r * m, fr = f + r * m
                        for j in cols { let v = fr[j] > 0 ? gr[j] + cn * nb[j] : 0; gr[j] = v; d[j] += v }
                    }
                }
            }
        } } }
        finishEncoderGradients(dPre: ws.g, columnSums: db, weightT: parameters.wEncT, biasPath: \.bEnc)
        return SAEStepLosses(mse: mse, sparsity: l1, l0: Double(fired.reduce(0) { $0 + Int($1) }) / Double(n),
                             explainedVariance: ev, fireCounts: fired)
    }

    /// `dW_encT = dPreᵀ·u`, the bias gradient `db`, and `db_dec −= W_enc·db` when b_dec is applied
    /// to the input (`Σ_r du_r` with `du = dPre·W_encᵀ`, without forming du).
    mutating func finishEncoderGradients(dPre: Tensor, columnSums db: [Float], weightT: Tensor,
                                         biasPath: WritableKeyPath<SAEParameters, Tensor>) {
        Workspace.ensure(&gradients.wEncT, [dSAE, dIn])
        matmulTransposedA(dPre, ws.u, into: &gradients.wEncT)
        gradients[keyPath: biasPath] = Tensor(shape: [dSAE], scalars: db)
        if config.applyBDecToInput { subtractEncoderInputGradient(db, weightT: weightT, from: &gradients.bDec) }
    }
}
