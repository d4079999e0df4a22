import Foundation
import IsaerftCore

extension TrainingSAE {
    /// Gated SAE: SAELens 6.54.12 `GatedTrainingSAE`.
    ///
    /// Forward: `π_gate = u·W_enc + b_gate`, `π_mag = u·(W_enc ⊙ e^{r_mag}) + b_mag`,
    /// `f = 1[π_gate > 0]·ReLU(π_mag)`, `x̂ = f·W_dec + b_dec`; `p = ReLU(π_gate)`;
    /// `l1 = c·mean_batch Σ_i p_i n_i`; `aux = mean_batch Σ_d (p·W_dec + b_dec − x)²` (W_dec, b_dec
    /// not detached, as SAELens). The Heaviside gate passes no gradient.
    mutating func gatedPass(_ y: Tensor, coefficient c: Double) -> SAEStepLosses {
        let n = y.shape[0], m = dSAE, d = dIn
        centredInput(y, bDec: parameters.bDec, apply: config.applyBDecToInput, into: &ws.u)
        encoderPreActivations(ws.u, weightT: parameters.wEncT, bias: parameters.bGate, into: &ws.h)   // π_gate
        let expR = parameters.rMag.scalars.map { Foundation.exp($0) }
        var wMagT = parameters.wEncT
        for j in 0..<m { for k in 0..<d { wMagT.scalars[j * d + k] *= expR[j] } }
        encoderPreActivations(ws.u, weightT: wMagT, bias: parameters.bMag, into: &ws.h2)              // π_mag
        let norms = rowNorms(parameters.wDec)
        Workspace.ensure(&ws.f, [n, m])
        var fired = [Int32](repeating: 0, count: m), pSum = [Float](repeating: 0, count: m)
        // f = 1[π_gate > 0]·ReLU(π_mag) into ws.f; p = ReLU(π_gate) in place of π_gate.
        ws.h.withUnsafeMutableBufferPointer { gp in ws.h2.withUnsafeBufferPointer { mp in ws.f.withUnsafeMutableBufferPointer { fp in
            fired.withUnsafeMutableBufferPointer { cp in pSum.withUnsafeMutableBufferPointer { sp in
                let gate = gp.baseAddress!, mag = mp.baseAddress!, f = fp.baseAddress!, cnt = cp.baseAddress!, s = sp.baseAddress!
                forEachColumnBlock(m, rows: n) { cols in
                    for r in 0..<n {
                        let o = r * m
                        for j in cols {
                            let on = gate[o + j] > 0
                            let v = on ? max(mag[o + j], 0) : 0
                            f[o + j] = v; cnt[j] += v > 0 ? 1 : 0
                            let p = max(gate[o + j], 0); gate[o + j] = p; s[j] += p
                        }
                    }
                }
            } }
        } } }
        denseDecode(ws.f, wDec: parameters.wDec, bDec: parameters.bDec, into: &ws.xhat)
        let (mse, ev) = reconstructionGradient(ws.xhat, target: y, into: &ws.dxhat)
        denseDecode(ws.h, wDec: parameters.wDec, bDec: parameters.bDec, into: &ws.aux)
        var dAux = Tensor(shape: [0])
        let (auxLoss, _) = reconstructionGradient(ws.aux, target: y, into: &dAux)
        var l1 = 0.0
        for i in 0..<m { l1 += Double(pSum[i]) * Double(norms[i]) }
        l1 *= c / Double(n)
        let cn = Float(c / Double(n))

        // Decoder: both reconstructions and the l1 norm term.
        let s1 = columnSums(ws.dxhat), s2 = columnSums(dAux)
        gradients.bDec = Tensor(shape: [d], scalars: zip(s1, s2).map { $0 + $1 })
        Workspace.ensure(&gradients.wDec, [m, d])
        matmulTransposedA(ws.f, ws.dxhat, into: &gradients.wDec)
        matmulTransposedA(ws.h, dAux, into: &gradients.wDec, accumulate: true)
        addRowScaled(&gradients.wDec, parameters.wDec, scales: normGradientScales(pSum.map { $0 * cn }, norms: norms))
        // dπ_mag = (dx̂·W_decᵀ) ⊙ 1[f > 0] in ws.g; dπ_gate = (dAux·W_decᵀ + (c/n)·n_i) ⊙ 1[p > 0] in ws.g2.
        Workspace.ensure(&ws.g, [n, m]); Workspace.ensure(&ws.g2, [n, m])
        matmulTransposedB(ws.dxhat, parameters.wDec, into: &ws.g)
        matmulTransposedB(dAux, parameters.wDec, into: &ws.g2)
        var dbMag = [Float](repeating: 0, count: m), dbGate = [Float](repeating: 0, count: m)
        ws.g.withUnsafeMutableBufferPointer { gp in ws.g2.withUnsafeMutableBufferPointer { g2p in
            ws.f.withUnsafeBufferPointer { fp in ws.h.withUnsafeBufferPointer { pp in
                dbMag.withUnsafeMutableBufferPointer { a in dbGate.withUnsafeMutableBufferPointer { b in norms.withUnsafeBufferPointer { np in
                    let g = gp.baseAddress!, g2 = g2p.baseAddress!, f = fp.baseAddress!, p = pp.baseAddress!
                    let dm = a.baseAddress!, dg = b.baseAddress!, nb = np.baseAddress!
                    forEachColumnBlock(m, rows: n) { cols in
                        for r in 0..<n {
                            let o = r * m
                            for j in cols {
                                let vm = f[o + j] > 0 ? g[o + j] : 0; g[o + j] = vm; dm[j] += vm
                                let vg = p[o + j] > 0 ? g2[o + j] + cn * nb[j] : 0; g2[o + j] = vg; dg[j] += vg
                            }
                        }
                    }
                } } }
            } }
        } }
        // Encoder: W_enc gets the gate path directly and the magnitude path through W_enc ⊙ e^r.
        Workspace.ensure(&gradients.wEncT, [m, d])
        matmulTransposedA(ws.g2, ws.u, into: &gradients.wEncT)
        var dWMagT = Tensor.uninitialized([m, d])
        matmulTransposedA(ws.g, ws.u, into: &dWMagT)
        var dR = [Float](repeating: 0, count: m)
        for j in 0..<m {
            var s: Float = 0
            for k in 0..<d {
                let gm = dWMagT.scalars[j * d + k]
                gradients.wEncT.scalars[j * d + k] += gm * expR[j]
                s += gm * parameters.wEncT.scalars[j * d + k]
            }
            dR[j] = s * expR[j]
        }
        gradients.rMag = Tensor(shape: [m], scalars: dR)
        gradients.bGate = Tensor(shape: [m], scalars: dbGate)
        gradients.bMag = Tensor(shape: [m], scalars: dbMag)
        if config.applyBDecToInput {
            subtractEncoderInputGradient(dbGate, weightT: parameters.wEncT, from: &gradients.bDec)
            subtractEncoderInputGradient(dbMag, weightT: wMagT, from: &gradients.bDec)
        }
        return SAEStepLosses(mse: mse, sparsity: l1, auxiliary: auxLoss,
                             l0: Double(fired.reduce(0) { $0 + Int($1) }) / Double(n), explainedVariance: ev, fireCounts: fired)
    }
}
