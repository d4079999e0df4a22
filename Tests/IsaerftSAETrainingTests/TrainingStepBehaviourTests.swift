import IsaerftCore
import IsaerftSAETraining
import Testing

@Suite("SAE training behaviour")
struct TrainingStepBehaviourTests {
    /// Rows of x are sparse non-negative mixtures of 12 fixed directions in d_in 16.
    static func batch(_ rng: inout SplitMix64, dictionary: Tensor, rows: Int) -> Tensor {
        var x = Tensor(shape: [rows, 16])
        for r in 0..<rows {
            for _ in 0..<2 {
                let atom = Int(rng.next() % 12), a = 0.5 + rng.nextUnitFloat()
                for j in 0..<16 { x.scalars[r * 16 + j] += a * dictionary.scalars[atom * 16 + j] }
            }
        }
        return x
    }

    @Test("training lowers the reconstruction error and reports the contract's metrics", arguments: SAETrainingArchitecture.allCases)
    func learns(_ arch: SAETrainingArchitecture) throws {
        let config = SAETrainingConfig(architecture: arch, dIn: 16, dSAE: 32, k: 3, l1Coefficient: 1e-3, l0Coefficient: 1e-4,
                                       jumpReLUInitThreshold: 0.001, lr: 1e-2, seed: 5)
        var sae = try TrainingSAE(config: config)
        let dictionary = Tensor.randomNormal([12, 16], std: 1, seed: 9)
        var rng = SplitMix64(seed: 11)
        var first = 0.0, last = 0.0
        for step in 0..<150 {
            let r = try sae.trainStep(Self.batch(&rng, dictionary: dictionary, rows: 64), step: step, totalSteps: 150)
            let mse = try #require(r.metrics["losses/mse_loss"])
            if step == 0 {
                first = mse
                for key in ["losses/overall_loss", "metrics/l0", "metrics/explained_variance", "details/current_learning_rate", "metrics/grad_norm"] {
                    #expect(r.metrics[key] != nil, "\(arch): metric \(key) missing")
                }
                #expect(r.fireCounts.count == 32)
            }
            last = mse
        }
        #expect(last < 0.5 * first, "\(arch): mse \(first) → \(last)")
    }

    @Test("invalid configurations are refused with a reason")
    func invalid() {
        #expect(throws: TrainingSAEError.self) { try TrainingSAE(config: SAETrainingConfig(architecture: .topk, dIn: 4, dSAE: 8, k: 9)) }
        #expect(throws: TrainingSAEError.self) {
            try TrainingSAE(config: SAETrainingConfig(architecture: .jumprelu, dIn: 4, dSAE: 8, jumpReLUSparsityLoss: .quadratic))
        }
        var sae = try! TrainingSAE(config: SAETrainingConfig(architecture: .standard, dIn: 4, dSAE: 8,
                                                             normalizeActivations: .expectedAverageOnlyIn))
        #expect(throws: TrainingSAEError.self) { try sae.trainStep(Tensor(shape: [2, 4]), step: 0, totalSteps: 1) }
        #expect(throws: TrainingSAEError.self) { try sae.trainStep(Tensor(shape: [2, 5]), step: 0, totalSteps: 1) }
    }
}
