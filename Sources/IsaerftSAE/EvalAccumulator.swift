import Foundation
import IsaerftCore

/// Running sums of SAELens' evaluation metrics, fed one batch at a time. Memory is O(d_in + d_sae)
/// whatever the number of tokens: per-token values are summed (SAELens concatenates them and takes
/// the mean, which is the same number), per-batch values are handled batch by batch.
struct SAEEvalAccumulator: Sendable {
    let dIn: Int, dSAE: Int

    // Per kept token (SAELens `get_sparsity_and_variance_metrics`).
    var keptTokens = 0
    var sumL0 = 0.0, sumL1 = 0.0, sumMSE = 0.0, sumCos = 0.0, sumLegacyEV = 0.0
    var sumL2In = 0.0, sumL2Out = 0.0, sumL2Ratio = 0.0
    // relative_reconstruction_bias: one value per batch.
    var sumRRB = 0.0, rrbBatches = 0
    // ExplainedVarianceCalculator.
    var sumX: [Double], sumSquaredNorm = 0.0, sumSquaredResidual = 0.0
    // Feature density.
    var firingTokens: [Int], firingPrompts: [Int]

    // Per kept position (SAELens `get_downstream_reconstruction_metrics`).
    var ceCount = 0, ceClean = 0.0, ceSAE = 0.0, ceAblation = 0.0
    var klCount = 0, klSAE = 0.0, klAblation = 0.0

    var totalTokens = 0, batches = 0

    init(dIn: Int, dSAE: Int) {
        self.dIn = dIn; self.dSAE = dSAE
        sumX = [Double](repeating: 0, count: dIn)
        firingTokens = [Int](repeating: 0, count: dSAE)
        firingPrompts = [Int](repeating: 0, count: dSAE)
    }

    // MARK: - Activations

    /// One batch of SAE inputs `x` and outputs `xHat` `[n, d_in]` and features `f` `[n, d_sae]`, rows
    /// `prompt · length + position`; `keep[r]` is false for excluded (special) tokens.
    /// Mirrors the body of SAELens' `get_sparsity_and_variance_metrics` loop.
    mutating func addActivations(x: Tensor, xHat: Tensor, f: Tensor, keep: [Bool], length: Int) {
        let n = keep.count, d = dIn, m = dSAE
        precondition(x.count == n * d && xHat.count == n * d && f.count == n * m, "SAEEvalAccumulator: shapes")
        let kept = (0..<n).filter { keep[$0] }
        // mean over the batch's kept tokens, for the legacy explained variance
        var mean = [Double](repeating: 0, count: d)
        for r in kept { for j in 0..<d { mean[j] += Double(x.scalars[r * d + j]) } }
        if !kept.isEmpty { for j in 0..<d { mean[j] /= Double(kept.count) } }
        var batchXHatSq = 0.0, batchDot = 0.0
        x.withUnsafeBufferPointer { px in xHat.withUnsafeBufferPointer { py in
            for r in kept {
                var rss = 0.0, centred = 0.0, nx = 0.0, ny = 0.0, dot = 0.0
                for j in 0..<d {
                    let a = Double(px[r * d + j]), b = Double(py[r * d + j])
                    rss += (a - b) * (a - b)
                    centred += (a - mean[j]) * (a - mean[j])
                    nx += a * a; ny += b * b; dot += a * b
                    sumX[j] += a
                }
                sumMSE += rss
                sumLegacyEV += 1 - rss / centred
                let normIn = nx.squareRoot(), normOut = ny.squareRoot()
                sumCos += dot / (normIn * normOut)            // NaN for a zero vector, as in SAELens
                sumL2In += normIn
                sumL2Out += normOut
                sumL2Ratio += normOut / (abs(normIn) < 0.0001 ? 1 : normIn)
                sumSquaredNorm += nx
                sumSquaredResidual += rss
                batchXHatSq += ny
                batchDot += dot
            }
        } }
        // x_hat_norm_squared.mean() / x_dot_x_hat.mean() (NaN for a batch without kept tokens)
        sumRRB += (batchXHatSq / Double(kept.count)) / (batchDot / Double(kept.count))
        rrbBatches += 1
        var firedInPrompt = [Bool](repeating: false, count: m)
        var prompt = -1
        f.withUnsafeBufferPointer { pf in
            for r in kept {
                if r / length != prompt {
                    if prompt >= 0 { for i in 0..<m where firedInPrompt[i] { firingPrompts[i] += 1; firedInPrompt[i] = false } }
                    prompt = r / length
                }
                var count = 0, l1 = 0.0
                for i in 0..<m {
                    let v = pf[r * m + i]
                    if v != 0 {
                        count += 1
                        l1 += Double(abs(v))
                        firingTokens[i] += 1
                        firedInPrompt[i] = true
                    }
                }
                sumL0 += Double(count)
                sumL1 += l1
            }
        }
        if prompt >= 0 { for i in 0..<m where firedInPrompt[i] { firingPrompts[i] += 1 } }
        keptTokens += kept.count
    }

    // MARK: - Logits

    /// log Σ_v exp(logits[r, v]) per row of `[n, V]` logits, in Double.
    static func rowLogSumExp(_ logits: Tensor) -> [Double] {
        let (n, v) = logits.matrixShape
        var out = [Double](repeating: 0, count: n)
        logits.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                let o = o.baseAddress!
                Parallel.forEach(n, costPerItem: v * 3) { rows in
                    for r in rows { o[r] = logSumExp(p.baseAddress! + r * v, v) }
                }
            }
        }
        return out
    }

    /// Per row of `[n, V]` logits: KL(p_clean ‖ p_other) = Σ_v p_clean (log p_clean − log p_other)
    /// (SAELens `_kl`: `kl_div(log_softmax(new), softmax(original)).sum(-1)`), and the cross-entropy of
    /// `targets[r]` under `other` (TransformerLens `loss_per_token`; NaN where the target is negative).
    static func klAndCrossEntropy(clean: Tensor, cleanLSE: [Double], other: Tensor,
                                  targets: [Int]) -> (kl: [Double], ce: [Double]) {
        let (n, v) = clean.matrixShape
        precondition(other.shape == clean.shape && targets.count == n, "klAndCrossEntropy: shapes")
        var kl = [Double](repeating: 0, count: n), ce = [Double](repeating: .nan, count: n)
        clean.withUnsafeBufferPointer { pc in other.withUnsafeBufferPointer { po in
            kl.withUnsafeMutableBufferPointer { k in ce.withUnsafeMutableBufferPointer { c in
                let k = k.baseAddress!, c = c.baseAddress!
                Parallel.forEach(n, costPerItem: v * 8) { rows in
                    for r in rows {
                        let rc = pc.baseAddress! + r * v, ro = po.baseAddress! + r * v
                        let lseC = cleanLSE[r], lseO = logSumExp(ro, v)
                        var s = 0.0
                        for i in 0..<v {
                            let lp = Double(rc[i]) - lseC
                            let p = Foundation.exp(lp)
                            if p > 0 { s += p * (lp - (Double(ro[i]) - lseO)) }
                        }
                        k[r] = s
                        if targets[r] >= 0 { c[r] = lseO - Double(ro[targets[r]]) }
                    }
                }
            } }
        } }
        return (kl, ce)
    }

    /// Adds one batch's logit metrics. `kept[r]`: the position's token is not excluded; `targets[r]`:
    /// the next token, or −1 at the last position (SAELens drops the last CE column, and a CE value
    /// counts when the *input* token at that position is kept).
    mutating func addLogits(cleanCE: [Double], sae: (kl: [Double], ce: [Double]), ablation: (kl: [Double], ce: [Double]),
                            kept: [Bool], targets: [Int]) {
        for r in 0..<kept.count where kept[r] {
            klSAE += sae.kl[r]; klAblation += ablation.kl[r]; klCount += 1
            if targets[r] >= 0 {
                ceClean += cleanCE[r]; ceSAE += sae.ce[r]; ceAblation += ablation.ce[r]; ceCount += 1
            }
        }
    }

    // MARK: - Result

    func metrics(denseThreshold: Double) -> SAEEvalMetrics {
        let nt = Double(keptTokens), nc = Double(ceCount), nk = Double(klCount)
        let klS = klSAE / nk, klA = klAblation / nk
        let ceS = ceSAE / nc, ceA = ceAblation / nc, ceC = ceClean / nc
        // ExplainedVarianceCalculator.compute
        var ev = 0.0
        if keptTokens > 0 {
            let meanX = sumX.map { $0 / nt }
            let totalVariance = sumSquaredNorm / nt - meanX.reduce(0) { $0 + $1 * $1 }
            let mse = sumSquaredResidual / nt
            ev = totalVariance < 1e-10 ? (mse < 1e-10 ? 1 : 0) : 1 - mse / totalVariance
        }
        let density = firingTokens.map { Double($0) / nt }
        let cah = zip(firingTokens, firingPrompts).map { Double($0) / Double($1) }
        return SAEEvalMetrics(
            klDivScore: (klA - klS) / klA, klDivWithAblation: klA, klDivWithSAE: klS,
            ceLossScore: (ceA - ceS) / (ceA - ceC), ceLossWithAblation: ceA, ceLossWithSAE: ceS, ceLossWithoutSAE: ceC,
            explainedVariance: ev, explainedVarianceLegacy: sumLegacyEV / nt, mse: sumMSE / nt, cossim: sumCos / nt,
            l2NormIn: sumL2In / nt, l2NormOut: sumL2Out / nt, l2Ratio: sumL2Ratio / nt,
            relativeReconstructionBias: sumRRB / Double(rrbBatches),
            l0: sumL0 / nt, l1: sumL1 / nt,
            totalTokens: totalTokens, keptTokens: keptTokens, batches: batches,
            featureDensity: density, consistentActivationHeuristic: cah,
            density: LatentDensitySummary(density: density, denseThreshold: denseThreshold))
    }
}
