import Foundation
import IsaerftCore

extension TrainingSAE {
    /// JumpReLU SAE: SAELens 6.54.12 `JumpReLUTrainingSAE` (threshold θ parameterised directly and
    /// clamped at 0 before each step; rectangle kernel `K(u) = 1[−½ < u < ½]`, bandwidth ε).
    ///
    /// Forward: `h = u·W_enc + b_enc`, `f = h·1[h > θ]`, `x̂ = f·W_dec + b_dec`, mse as standard;
    /// sparsity `step`: `c·mean_batch Σ_i 1[h_i > θ_i]`; `tanh`: `c·mean_batch Σ_i tanh(s·f_i·n_i)`;
    /// `quadratic`: `c·mean_batch 2/T·(L0 − T)²`; pre-act (dead latents D): `c'·mean_batch Σ_{i∈D} ReLU(θ_i − h_i)·n_i`.
    /// Straight-through estimators: JumpReLU `∂f/∂h = 1[h > θ]`, `∂f/∂θ = −(θ/ε)K((h−θ)/ε)`;
    /// Step `∂/∂θ = −(1/ε)K((h−θ)/ε)`, `∂/∂h = 0` (both add `+(·/ε)K` into h with `jumprelu_ste_to_input`).
    mutating func jumpReLUPass(_ y: Tensor, coefficient c: Double, dead: [Int32]) -> SAEStepLosses {
        let n = y.shape[0], m = dSAE
        centredInput(y, bDec: parameters.bDec, apply: config.applyBDecToInput, into: &ws.u)
        encoderPreActivations(ws.u, weightT: parameters.wEncT, bias: parameters.bEnc, into: &ws.h)
        let norms = rowNorms(parameters.wDec)
        let theta = parameters.threshold.scalars
        Workspace.ensure(&ws.f, [n, m])
        var fired = [Int32](repeating: 0, count: m)
        var rowL0 = [Float](repeating: 0, count: n)
        ws.h.withUnsafeBufferPointer { hp in ws.f.withUnsafeMutableBufferPointer { fp in fired.withUnsafeMutableBufferPointer { cp in
            theta.withUnsafeBufferPointer { tp in
                let h = hp.baseAddress!, f = fp.baseAddress!, cnt = cp.baseAddress!, t = tp.baseAddress!
                forEachColumnBlock(m, rows: n) { cols in
                    for r in 0..<n {
                        let hr = h + r * m, fr = f + r * m
                        for j in cols { let on = hr[j] > t[j]; fr[j] = on ? hr[j] : 0; cnt[j] += on ? 1 : 0 }
                    }
                }
            }
        } } }
        ws.h.withUnsafeBufferPointer { hp in theta.withUnsafeBufferPointer { tp in rowL0.withUnsafeMutableBufferPointer { lp in
            let h = hp.baseAddress!, t = tp.baseAddress!, l = lp.baseAddress!
            Parallel.forEach(n, costPerItem: m) { rows in
                for r in rows { var s: Float = 0; let hr = h + r * m; for j in 0..<m { s += hr[j] > t[j] ? 1 : 0 }; l[r] = s }
            }
        } } }
        denseDecode(ws.f, wDec: parameters.wDec, bDec: parameters.bDec, into: &ws.xhat)
        let (mse, ev) = reconstructionGradient(ws.xhat, target: y, into: &ws.dxhat)

        // Per-row weight of the Step / tanh penalty, and the loss.
        let inv = 1 / Double(n)
        var sparsity = 0.0
        var stepWeight = [Float](repeating: 0, count: n)     // ∂loss/∂Step(h_ri, θ_i), per row
        let mode = config.jumpReLUSparsityLoss
        switch mode {
        case .step:
            for r in 0..<n { sparsity += Double(rowL0[r]); stepWeight[r] = Float(c * inv) }
            sparsity *= c * inv
        case .quadratic:
            let target = config.targetL0 ?? 1
            for r in 0..<n {
                let d = Double(rowL0[r]) - target
                sparsity += 2 / target * d * d
                stepWeight[r] = Float(c * inv * 4 / target * d)
            }
            sparsity *= c * inv
        case .tanh: break
        }
        let tanhScale = Float(config.jumpReLUTanhScale)
        var tanhSum = 0.0
        if mode == .tanh {
            ws.f.withUnsafeBufferPointer { fp in
                for r in 0..<n { var s: Float = 0; for j in 0..<m { s += Foundation.tanh(tanhScale * fp[r * m + j] * norms[j]) }; tanhSum += Double(s) }
            }
            sparsity = c * inv * tanhSum
        }
        var isDead = [Bool](repeating: false, count: m)
        for j in dead { isDead[Int(j)] = true }
        let preActCoef = config.preActLossCoefficient.map { Float($0 * inv) }
        let usePreAct = preActCoef != nil && !dead.isEmpty

        // df = dx̂·W_decᵀ, then the element-wise backward with per-latent reductions.
        Workspace.ensure(&ws.g, [n, m])
        matmulTransposedB(ws.dxhat, parameters.wDec, into: &ws.g)
        var dTheta = [Float](repeating: 0, count: m), dNorm = [Float](repeating: 0, count: m)
        var db = [Float](repeating: 0, count: m), preAct = [Float](repeating: 0, count: m)
        let eps = Float(config.jumpReLUBandwidth), ste = config.jumpReLUSTEToInput
        let cInv = Float(c * inv)
        ws.g.withUnsafeMutableBufferPointer { gp in ws.h.withUnsafeBufferPointer { hp in ws.f.withUnsafeBufferPointer { fp in
            let g = gp.baseAddress!, h = hp.baseAddress!, f = fp.baseAddress!
            theta.withUnsafeBufferPointer { tp in norms.withUnsafeBufferPointer { np in stepWeight.withUnsafeBufferPointer { wp in
                isDead.withUnsafeBufferPointer { dp in
                    dTheta.withUnsafeMutableBufferPointer { dtp in dNorm.withUnsafeMutableBufferPointer { dnp in
                        db.withUnsafeMutableBufferPointer { dbp in preAct.withUnsafeMutableBufferPointer { pap in
                            let t = tp.baseAddress!, nb = np.baseAddress!, sw = wp.baseAddress!, dd = dp.baseAddress!
                            let dt = dtp.baseAddress!, dn = dnp.baseAddress!, dbb = dbp.baseAddress!, pa = pap.baseAddress!
                            forEachColumnBlock(m, rows: n) { cols in
                                for r in 0..<n {
                                    let gr = g + r * m, hr = h + r * m, fr = f + r * m
                                    let swr = sw[r]
                                    for j in cols {
                                        let hv = hr[j], tv = t[j]
                                        var df = gr[j]
                                        if mode == .tanh {
                                            let th = Foundation.tanh(tanhScale * fr[j] * nb[j])
                                            let dTanh = cInv * (1 - th * th) * tanhScale
                                            df += dTanh * nb[j]
                                            dn[j] += dTanh * fr[j]
                                        }
                                        let u = (hv - tv) / eps
                                        let k: Float = (u > -0.5 && u < 0.5) ? 1 : 0
                                        // JumpReLU.
                                        var dh = hv > tv ? df : 0
                                        let steJ = (tv / eps) * k * df
                                        dt[j] -= steJ
                                        if ste { dh += steJ }
                                        // Step (l0).
                                        if mode != .tanh {
                                            let steS = (1 / eps) * k * swr
                                            dt[j] -= steS
                                            if ste { dh += steS }
                                        }
                                        // Pre-activation loss on dead latents.
                                        if usePreAct && dd[j] {
                                            let gap = tv - hv
                                            if gap > 0 {
                                                let w = preActCoef! * nb[j]
                                                dt[j] += w; dh -= w
                                                dn[j] += preActCoef! * gap
                                                pa[j] += gap
                                            }
                                        }
                                        gr[j] = dh
                                        dbb[j] += dh
                                    }
                                }
                            }
                        } }
                    } }
                }
            } } }
        } } }
        var preActLoss = 0.0
        if usePreAct { for j in 0..<m { preActLoss += Double(preAct[j]) * Double(norms[j]) }; preActLoss *= config.preActLossCoefficient! * inv }

        gradients.bDec = Tensor(shape: [dIn], scalars: columnSums(ws.dxhat))
        Workspace.ensure(&gradients.wDec, [m, dIn])
        matmulTransposedA(ws.f, ws.dxhat, into: &gradients.wDec)
        addRowScaled(&gradients.wDec, parameters.wDec, scales: normGradientScales(dNorm, norms: norms))
        gradients.threshold = Tensor(shape: [m], scalars: dTheta)
        finishEncoderGradients(dPre: ws.g, columnSums: db, weightT: parameters.wEncT, biasPath: \.bEnc)
        return SAEStepLosses(mse: mse, sparsity: sparsity, preAct: preActLoss,
                             l0: Double(fired.reduce(0) { $0 + Int($1) }) / Double(n), explainedVariance: ev, fireCounts: fired)
    }
}
