import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport
import IsaerftTuning
import Testing

/// Objectives on given log-probs against `fixtures/tuning/objectives.safetensors` (torch autograd
/// through TRL 1.16.0's `odds_ratio_loss` / `cpo_loss`, and TRL ≤ 0.28's cDPO formula), plus the
/// step-0 identity and finite differences of every objective's gradient.
@Suite("Objectives")
struct ObjectiveTests {
    static let root = SharedData.fixturesRoot.appendingPathComponent("tuning")
    static let file: SafeTensorsFile = try! SafeTensorsFile(url: root.appendingPathComponent("objectives.safetensors"))

    static func doubles(_ key: String) throws -> [Double] {
        try file.withRawBytes(key) { raw in raw.bindMemory(to: Double.self).map { $0 } }
    }

    static func input() throws -> ObjectiveInput {
        func scores(_ sums: [Double], _ counts: [Double], nll: [Double]? = nil, nllCounts: [Double]? = nil) -> SequenceLogProbs {
            SequenceLogProbs(sums: sums, counts: counts.map { Int($0) }, nllSums: nll, nllCounts: nllCounts?.map { Int($0) })
        }
        return ObjectiveInput(chosen: scores(try doubles("input/chosen"), try doubles("input/chosen_counts"),
                                             nll: try doubles("input/nll_sums"), nllCounts: try doubles("input/nll_counts")),
                              rejected: scores(try doubles("input/rejected"), try doubles("input/rejected_counts")),
                              referenceChosen: try doubles("input/ref_chosen"), referenceRejected: try doubles("input/ref_rejected"))
    }

    static let cases: [(String, Objective, Double)] = [
        ("dpo_ls0.1", .dpo(beta: 0.1, labelSmoothing: 0.1), 1e-12),
        ("ipo", .ipo(beta: 0.1), 1e-12),
        ("hinge", .hinge(beta: 5), 1e-12),
        ("orpo", .orpo(beta: 0.1), 1e-6),   // TRL casts to float32
        ("simpo_ls0.2_alpha0.5", .simpo(beta: 0.1, gamma: 0.7, labelSmoothing: 0.2, cpoAlpha: 0.5), 1e-6),
    ]

    @Test("loss and gradients equal torch/TRL", arguments: cases.indices)
    func parity(_ index: Int) throws {
        let (name, objective, tol) = Self.cases[index]
        let r = try objective.evaluate(try Self.input())
        let loss = try Self.doubles("\(name)/loss")[0]
        #expect(abs(r.loss - loss) <= tol * max(1, abs(loss)), "\(name): loss \(r.loss), torch \(loss)")
        let pairs = [("d_chosen", r.dChosenSums), ("d_rejected", r.dRejectedSums), ("d_nll", r.dChosenNLLSums)]
        var worst = 0.0
        for (key, got) in pairs {
            let want = try Self.doubles("\(name)/\(key)")
            let c = compare(got, want, atol: tol, rtol: tol)
            worst = max(worst, c.maxAbs)
            #expect(c.passed, "\(name) \(key): \(c)")
        }
        print("objective \(name): |Δloss| \(abs(r.loss - loss)), worst |Δgrad| \(worst)")
    }

    @Test("policy = reference: sigmoid DPO is ln 2 with zero rewards")
    func stepZero() throws {
        var inp = try Self.input()
        inp.referenceChosen = inp.chosen.sums; inp.referenceRejected = inp.rejected!.sums
        let r = try Objective.dpo(beta: 0.1).evaluate(inp)
        #expect(r.loss == Foundation.log(2.0))
        #expect(r.metrics["rewards/margins"] == 0 && r.metrics["rewards/accuracies"] == 0)
        #expect(throws: ObjectiveError.self) { try Objective.dpo(beta: 0.1).evaluate(ObjectiveInput(chosen: inp.chosen, rejected: inp.rejected)) }
    }

    @Test("gradients match finite differences",
          arguments: [Objective.dpo(beta: 0.3, labelSmoothing: 0.2), .ipo(beta: 0.2), .hinge(beta: 0.05), .orpo(beta: 0.4),
                      .simpo(beta: 2, gamma: 0.5, labelSmoothing: 0.1, cpoAlpha: 1), .sft])
    func finiteDifferences(_ objective: Objective) throws {
        let base = try Self.input()
        let r = try objective.evaluate(base)
        func at(_ edit: (inout ObjectiveInput) -> Void) throws -> Double { var i = base; edit(&i); return try objective.evaluate(i).loss }
        let h = 1e-6
        for b in 0..<base.chosen.sums.count {
            let fdC = (try at { $0.chosen.sums[b] += h } - (try at { $0.chosen.sums[b] -= h })) / (2 * h)
            #expect(abs(fdC - r.dChosenSums[b]) < 1e-6, "\(objective) chosen \(b): \(r.dChosenSums[b]) vs FD \(fdC)")
            if objective.isPreference {
                let fdR = (try at { $0.rejected!.sums[b] += h } - (try at { $0.rejected!.sums[b] -= h })) / (2 * h)
                #expect(abs(fdR - r.dRejectedSums[b]) < 1e-6, "\(objective) rejected \(b): \(r.dRejectedSums[b]) vs FD \(fdR)")
            }
            let fdN = (try at { $0.chosen.nllSums[b] += h } - (try at { $0.chosen.nllSums[b] -= h })) / (2 * h)
            #expect(abs(fdN - r.dChosenNLLSums[b]) < 1e-6, "\(objective) nll \(b)")
        }
    }
}
