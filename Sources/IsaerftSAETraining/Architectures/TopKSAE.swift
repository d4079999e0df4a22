import IsaerftCore

extension TrainingSAE {
    /// TopK and BatchTopK SAEs: SAELens 6.54.12 `TopKTrainingSAE` / `BatchTopKTrainingSAE` with the
    /// aux-k loss on dead latents, decoded sparsely (k non-zeros per row).
    ///
    /// Forward: `h = (u·W_enc + b_enc) ⊙ n` (`n_i = ‖W_dec[i]‖`, when `rescale_acts_by_decoder_norm`),
    /// `f` = ReLU of the per-row top k of h (batchtopk: the top `int(k·batch)` of ReLU(h) over the batch),
    /// `x̂ = (f ⊘ n)·W_dec + b_dec`. Aux-k (dead set D non-empty): `k_aux = min(d_in/2, |D|)`,
    /// `scale = min(|D|/(d_in/2), 1)`, `a` = per-row top k_aux of h over D (no ReLU),
    /// `aux = coef·scale·mean_batch Σ_d ((a ⊘ n)·W_dec − stopgrad(x − x̂))²` (no b_dec, as 6.54.12).
    ///
    /// Backward per selected entry (r, i) with decoder coefficient `z = f/n_i` (or a/n_i): `∂/∂z = g_r·W_dec[i]`
    /// (g = dx̂ or the aux residual gradient), which is also `∂L/∂(u·W_enc + b_enc)_{ri}`; the two
    /// decoder-norm paths (÷n in the decoder, ×n in the encoder) cancel exactly and are omitted.
    /// `dW_dec[i] = Σ z·g_r`, `dW_enc[:, i] = Σ ∂z·u_r`, gathered per latent (no write conflicts).
    mutating func topKPass(_ y: Tensor, dead: [Int32]) -> SAEStepLosses {
        let n = y.shape[0], m = dSAE, d = dIn
        let rescale = config.rescaleActsByDecoderNorm
        centredInput(y, bDec: parameters.bDec, apply: config.applyBDecToInput, into: &ws.u)
        encoderPreActivations(ws.u, weightT: parameters.wEncT, bias: parameters.bEnc, into: &ws.h)
        let norms = rowNorms(parameters.wDec)
        if rescale {
            ws.h.withUnsafeMutableBufferPointer { hp in norms.withUnsafeBufferPointer { np in
                let h = hp.baseAddress!, nb = np.baseAddress!
                Parallel.forEach(n, costPerItem: m) { rows in for r in rows { let row = h + r * m; for j in 0..<m { row[j] *= nb[j] } } }
            } }
        }
        // Selection.
        if architecture == .topk {
            selectTopKPerRow(ws.h, k: Int(config.k), candidates: nil, into: &ws.sparse)
            for i in 0..<ws.sparse.count { ws.sparse.vals[i] = max(ws.sparse.vals[i], 0) }
        } else {
            let minPositive = selectBatchTopK(ws.h, count: Int(config.k * Double(n)), into: &ws.sparse)
            if minPositive > 0 {
                let lr = config.topkThresholdLR
                topkThreshold = (1 - lr) * topkThreshold + lr * Double(minPositive)
            }
        }
        var fired = [Int32](repeating: 0, count: m)
        var active = 0
        for (j, v) in zip(ws.sparse.cols, ws.sparse.vals) where v > 0 { fired[Int(j)] += 1; active += 1 }
        // Aux-k selection over dead latents.
        let kAuxFull = d / 2
        let useAux = !dead.isEmpty && kAuxFull > 0
        let auxScale = useAux ? min(Double(dead.count) / Double(kAuxFull), 1) : 0
        if useAux {
            selectTopKPerRow(ws.h, k: min(kAuxFull, dead.count), candidates: dead, into: &ws.auxRows)
        } else {
            ws.auxRows = SparseRows(rowStart: [Int](repeating: 0, count: n + 1))
        }
        let invNorm = norms.map { rescale ? ($0 > 0 ? 1 / $0 : 0) : Float(1) }
        // Decoder coefficients z = f/n (in place of the values).
        for i in 0..<ws.sparse.count { ws.sparse.vals[i] *= invNorm[Int(ws.sparse.cols[i])] }
        for i in 0..<ws.auxRows.count { ws.auxRows.vals[i] *= invNorm[Int(ws.auxRows.cols[i])] }
        ws.sparse.grads = [Float](repeating: 0, count: ws.sparse.count)
        ws.auxRows.grads = [Float](repeating: 0, count: ws.auxRows.count)

        // Row pass: decode, reconstruction gradient, aux reconstruction, and ∂/∂z per entry.
        Workspace.ensure(&ws.xhat, [n, d]); Workspace.ensure(&ws.dxhat, [n, d]); Workspace.ensure(&ws.aux, [n, d])
        var rowMSE = [Double](repeating: 0, count: n), rowAux = [Double](repeating: 0, count: n)
        let gMain = Float(2 / Double(n)), gAux = Float(2 * config.auxLossCoefficient * auxScale / Double(n))
        sparseRowPass(y: y, gMain: gMain, gAux: gAux, useAux: useAux, rowMSE: &rowMSE, rowAux: &rowAux)
        let mse = rowMSE.reduce(0, +) / Double(n)
        let auxLoss = useAux ? config.auxLossCoefficient * auxScale * rowAux.reduce(0, +) / Double(n) : 0
        let ev = reconstructionGradient(ws.xhat, target: y, into: &ws.g).explainedVariance   // statistics only

        // Per-latent pass: dW_dec, dW_encT, db_enc.
        var db = [Float](repeating: 0, count: m)
        latentGradientPass(columnSums: &db)
        gradients.bDec = Tensor(shape: [d], scalars: columnSums(ws.dxhat))
        gradients.bEnc = Tensor(shape: [m], scalars: db)
        if config.applyBDecToInput { subtractEncoderInputGradient(db, weightT: parameters.wEncT, from: &gradients.bDec) }
        return SAEStepLosses(mse: mse, auxiliary: auxLoss, l0: Double(active) / Double(n), explainedVariance: ev, fireCounts: fired)
    }

    /// For each row: `x̂ = b_dec + Σ z·W_dec[i]`, `dx̂ = gMain·(x̂ − y)`, aux residual gradient
    /// `ds = gAux·(Σ z_a·W_dec[i] − (y − x̂))`, and per entry `∂ = g·W_dec[i]`.
    private mutating func sparseRowPass(y: Tensor, gMain: Float, gAux: Float, useAux: Bool,
                                        rowMSE: inout [Double], rowAux: inout [Double]) {
        let d = dIn
        y.withUnsafeBufferPointer { yp in parameters.wDec.withUnsafeBufferPointer { wp in parameters.bDec.withUnsafeBufferPointer { bp in
            ws.xhat.withUnsafeMutableBufferPointer { xp in ws.dxhat.withUnsafeMutableBufferPointer { dxp in ws.aux.withUnsafeMutableBufferPointer { ap in
                ws.sparse.rowStart.withUnsafeBufferPointer { rs in ws.sparse.cols.withUnsafeBufferPointer { cs in
                    ws.sparse.vals.withUnsafeBufferPointer { vs in ws.sparse.grads.withUnsafeMutableBufferPointer { gs in
                        ws.auxRows.rowStart.withUnsafeBufferPointer { ars in ws.auxRows.cols.withUnsafeBufferPointer { acs in
                            ws.auxRows.vals.withUnsafeBufferPointer { avs in ws.auxRows.grads.withUnsafeMutableBufferPointer { ags in
                                rowMSE.withUnsafeMutableBufferPointer { msep in rowAux.withUnsafeMutableBufferPointer { auxp in
                                    let yb = yp.baseAddress!, w = wp.baseAddress!, b = bp.baseAddress!
                                    let xb = xp.baseAddress!, dxb = dxp.baseAddress!, ab = ap.baseAddress!
                                    let rsb = rs.baseAddress!, csb = cs.baseAddress, vsb = vs.baseAddress, gsb = gs.baseAddress
                                    let arsb = ars.baseAddress!, acsb = acs.baseAddress, avsb = avs.baseAddress, agsb = ags.baseAddress
                                    let mseb = msep.baseAddress!, auxb = auxp.baseAddress!
                                    Parallel.forEach(y.shape[0], costPerItem: d * 64) { rows in
                                        for r in rows {
                                            let x = xb + r * d, dx = dxb + r * d, yr = yb + r * d
                                            for j in 0..<d { x[j] = b[j] }
                                            for e in rsb[r]..<rsb[r + 1] {
                                                let z = vsb![e]
                                                if z == 0 { continue }
                                                axpy(x, z, w + Int(csb![e]) * d, d)
                                            }
                                            var s: Float = 0
                                            for j in 0..<d { let err = x[j] - yr[j]; s += err * err; dx[j] = gMain * err }
                                            mseb[r] = Double(s)
                                            for e in rsb[r]..<rsb[r + 1] where vsb![e] != 0 {
                                                gsb![e] = dot(dx, w + Int(csb![e]) * d, d)
                                            }
                                            guard useAux else { continue }
                                            let a = ab + r * d
                                            for j in 0..<d { a[j] = 0 }
                                            for e in arsb[r]..<arsb[r + 1] {
                                                axpy(a, avsb![e], w + Int(acsb![e]) * d, d)
                                            }
                                            var sa: Float = 0
                                            for j in 0..<d { let err = a[j] - (yr[j] - x[j]); sa += err * err; a[j] = gAux * err }
                                            auxb[r] = Double(sa)
                                            for e in arsb[r]..<arsb[r + 1] {
                                                agsb![e] = dot(a, w + Int(acsb![e]) * d, d)
                                            }
                                        }
                                    }
                                } }
                            } }
                        } }
                    } }
                } }
            } } }
        } } }
    }

    /// Groups the entries by latent (counting sort) and, per latent i in parallel:
    /// `dW_dec[i] = Σ z·dx̂_r + Σ z_a·ds_r`, `dW_encT[i] = Σ ∂·u_r`, `db_enc[i] = Σ ∂`.
    private mutating func latentGradientPass(columnSums db: inout [Float]) {
        let m = dSAE, d = dIn
        // Counting sort: entries (main then aux) by latent; each holds (row, z, ∂, which buffer).
        var start = [Int](repeating: 0, count: m + 1)
        for c in ws.sparse.cols { start[Int(c) + 1] += 1 }
        for c in ws.auxRows.cols { start[Int(c) + 1] += 1 }
        for i in 0..<m { start[i + 1] += start[i] }
        let total = start[m]
        var rowOf = [Int32](repeating: 0, count: total), zOf = [Float](repeating: 0, count: total)
        var gOf = [Float](repeating: 0, count: total), isAux = [Bool](repeating: false, count: total)
        var fill = start
        for (s, aux) in [(ws.sparse, false), (ws.auxRows, true)] {
            for r in 0..<s.rows {
                for e in s.rowStart[r]..<s.rowStart[r + 1] {
                    let i = Int(s.cols[e]), o = fill[i]
                    fill[i] += 1
                    rowOf[o] = Int32(r); zOf[o] = s.vals[e]; gOf[o] = s.grads[e]; isAux[o] = aux
                }
            }
        }
        Workspace.ensure(&gradients.wDec, [m, d]); Workspace.ensure(&gradients.wEncT, [m, d])
        gradients.wDec.withUnsafeMutableBufferPointer { gdp in gradients.wEncT.withUnsafeMutableBufferPointer { gep in
            ws.dxhat.withUnsafeBufferPointer { dxp in ws.aux.withUnsafeBufferPointer { ap in ws.u.withUnsafeBufferPointer { up in
                start.withUnsafeBufferPointer { sp in rowOf.withUnsafeBufferPointer { rp in zOf.withUnsafeBufferPointer { zp in
                    gOf.withUnsafeBufferPointer { gp in isAux.withUnsafeBufferPointer { xp in db.withUnsafeMutableBufferPointer { dbp in
                        let gd = gdp.baseAddress!, ge = gep.baseAddress!, dx = dxp.baseAddress!, ab = ap.baseAddress, u = up.baseAddress!
                        let st = sp.baseAddress!, rowP = rp.baseAddress, zP = zp.baseAddress, gP = gp.baseAddress, auxP = xp.baseAddress
                        let dbb = dbp.baseAddress!
                        Parallel.forEach(m, costPerItem: 4 * d * max(1, total / max(1, m))) { latents in
                            for i in latents {
                                let wd = gd + i * d, we = ge + i * d
                                for j in 0..<d { wd[j] = 0; we[j] = 0 }
                                var bsum: Float = 0
                                for o in st[i]..<st[i + 1] {
                                    let r = Int(rowP![o]), z = zP![o], g = gP![o]
                                    let src = auxP![o] ? ab! + r * d : dx + r * d
                                    let ur = u + r * d
                                    if z != 0 { axpy(wd, z, src, d) }
                                    if g != 0 { axpy(we, g, ur, d) }
                                    bsum += g
                                }
                                dbb[i] = bsum
                            }
                        }
                    } } }
                } } }
            } } }
        } }
    }
}
