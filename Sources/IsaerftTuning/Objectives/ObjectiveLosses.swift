import Foundation

/// `log σ(z) = −softplus(−z)`, stable for large |z|.
@inline(__always) func logSigmoid(_ z: Double) -> Double { -(max(-z, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(z)))) }
@inline(__always) func sigmoid(_ z: Double) -> Double { z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z)) }
/// `log(1 − eˣ)` for x < 0, branching at −ln 2 like TRL's `log1mexp`.
@inline(__always) func log1mexp(_ x: Double) -> Double { x < -0.6931471805599453 ? Foundation.log1p(-Foundation.exp(x)) : Foundation.log(-Foundation.expm1(x)) }

extension Objective {
    /// Loss, d loss/d summed log-probs, and TRL's metrics for one batch (means over pairs).
    public func evaluate(_ input: ObjectiveInput) throws -> ObjectiveResult {
        let c = input.chosen
        let B = c.sums.count
        guard B > 0 else { throw ObjectiveError.emptyBatch }
        if case .sft = self { return sft(c) }
        guard let r = input.rejected else { throw ObjectiveError.missingRejected(name) }
        guard r.sums.count == B else { throw ObjectiveError.sizeMismatch("\(B) chosen and \(r.sums.count) rejected rows") }
        var out = ObjectiveResult(loss: 0, dChosenSums: .init(repeating: 0, count: B), dRejectedSums: .init(repeating: 0, count: B),
                                  dChosenNLLSums: .init(repeating: 0, count: B), metrics: [:])
        let n = Double(B)
        func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }
        func rewardMetrics(_ rc: [Double], _ rr: [Double], logpsChosen: [Double], logpsRejected: [Double]) {
            out.metrics["rewards/chosen"] = mean(rc)
            out.metrics["rewards/rejected"] = mean(rr)
            out.metrics["rewards/margins"] = mean(zip(rc, rr).map { $0 - $1 })
            out.metrics["rewards/accuracies"] = mean(zip(rc, rr).map { $0 > $1 ? 1 : 0 })
            out.metrics["logps/chosen"] = mean(logpsChosen)
            out.metrics["logps/rejected"] = mean(logpsRejected)
        }

        switch self {
        case .dpo(let beta, _), .ipo(let beta), .hinge(let beta):
            guard let refC = input.referenceChosen, let refR = input.referenceRejected else { throw ObjectiveError.missingReference(name) }
            guard refC.count == B, refR.count == B else { throw ObjectiveError.sizeMismatch("reference log-probs for \(refC.count)/\(refR.count) of \(B) pairs") }
            let rhoC = (0..<B).map { c.sums[$0] - refC[$0] }, rhoR = (0..<B).map { r.sums[$0] - refR[$0] }
            for i in 0..<B {
                let delta = rhoC[i] - rhoR[i]
                switch self {
                case .dpo(_, let eps):
                    let z = beta * delta
                    out.loss += (-(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z)) / n
                    let dz = (-(1 - eps) * sigmoid(-z) + eps * sigmoid(z)) / n
                    out.dChosenSums[i] = beta * dz; out.dRejectedSums[i] = -beta * dz
                case .ipo:
                    let nc = Double(max(c.counts[i], 1)), nr = Double(max(r.counts[i], 1))
                    let e = rhoC[i] / nc - rhoR[i] / nr - 1 / (2 * beta)
                    out.loss += e * e / n
                    out.dChosenSums[i] = 2 * e / nc / n; out.dRejectedSums[i] = -2 * e / nr / n
                default:   // hinge
                    let h = 1 - beta * delta
                    out.loss += max(h, 0) / n
                    let g = h > 0 ? -beta / n : 0
                    out.dChosenSums[i] = g; out.dRejectedSums[i] = -g
                }
            }
            rewardMetrics(rhoC.map { beta * $0 }, rhoR.map { beta * $0 }, logpsChosen: c.sums, logpsRejected: r.sums)

        case .orpo(let beta):
            let lc = c.averages, lr = r.averages
            let nllTokens = c.nllCounts.reduce(0, +)
            guard nllTokens > 0 else { throw ObjectiveError.sizeMismatch("ORPO needs NLL tokens (score the chosen rows with an NLL mask)") }
            let nll = c.nllSums.reduce(0, +) / Double(nllTokens)
            var ratios: [Double] = [], logOdds: [Double] = []
            for i in 0..<B {
                let lo = (lc[i] - lr[i]) - (log1mexp(lc[i]) - log1mexp(lr[i]))
                ratios.append(logSigmoid(lo)); logOdds.append(lo)
                // d LO/dℓ⁺ = 1/(1 − e^ℓ⁺) = −1/expm1(ℓ⁺); d LO/dℓ⁻ = −1/(1 − e^ℓ⁻).
                let g = -beta * sigmoid(-lo) / n
                out.dChosenSums[i] = g * (-1 / Foundation.expm1(lc[i])) / Double(max(c.counts[i], 1))
                out.dRejectedSums[i] = g * (1 / Foundation.expm1(lr[i])) / Double(max(r.counts[i], 1))
                out.dChosenNLLSums[i] = 1 / Double(nllTokens)
            }
            out.loss = nll - beta * mean(ratios)
            rewardMetrics(lc.map { beta * $0 }, lr.map { beta * $0 }, logpsChosen: lc, logpsRejected: lr)
            out.metrics["nll_loss"] = nll
            out.metrics["log_odds_ratio"] = mean(ratios)
            out.metrics["log_odds_chosen"] = mean(logOdds)

        case let .simpo(beta, gamma, eps, alpha):
            let lc = c.averages, lr = r.averages
            for i in 0..<B {
                let z = beta * (lc[i] - lr[i] - gamma / beta)
                out.loss += (-(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z)) / n
                let dz = beta * (-(1 - eps) * sigmoid(-z) + eps * sigmoid(z)) / n
                out.dChosenSums[i] = dz / Double(max(c.counts[i], 1))
                out.dRejectedSums[i] = -dz / Double(max(r.counts[i], 1))
            }
            var nll = 0.0
            if alpha != 0 {
                let tokens = c.counts.reduce(0, +)
                nll = -c.sums.reduce(0, +) / Double(max(tokens, 1))
                out.loss += alpha * nll
                for i in 0..<B { out.dChosenSums[i] -= alpha / Double(max(tokens, 1)) }
            }
            rewardMetrics(lc.map { beta * $0 }, lr.map { beta * $0 }, logpsChosen: lc, logpsRejected: lr)
            out.metrics["nll_loss"] = nll

        case .sft:
            preconditionFailure("unreachable")
        }
        out.metrics["loss"] = out.loss
        return out
    }

    /// Mean token NLL over every row's completion tokens.
    func sft(_ c: SequenceLogProbs) -> ObjectiveResult {
        let tokens = Double(max(c.counts.reduce(0, +), 1))
        let loss = -c.sums.reduce(0, +) / tokens
        return ObjectiveResult(loss: loss, dChosenSums: .init(repeating: -1 / tokens, count: c.sums.count), dRejectedSums: [],
                               dChosenNLLSums: .init(repeating: 0, count: c.sums.count), metrics: ["loss": loss])
    }
}
