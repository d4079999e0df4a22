import Foundation
import IsaerftCore
import IsaerftSAE
import IsaerftSAETraining

/// A stand-in `TrainableSAE` for the loop tests: a ReLU autoencoder (SAELens `standard` inference
/// without `b_dec` subtraction) trained by SGD with momentum on mse = mean_batch Σ_d (x̂ − x)².
/// Not the real training maths; it only has to be deterministic, stateful (momentum) and save as an
/// SAELens folder.
struct StandInSAE: TrainableSAE {
    let dIn: Int
    let dSAE: Int
    var lr: Float = 0.01
    var momentum: Float = 0.9
    var wEnc: Tensor, bEnc: Tensor, wDec: Tensor, bDec: Tensor
    var velocity: [String: Tensor]
    /// Returns a NaN loss at this step (tests of the non-finite-loss stop).
    var nanAtStep: Int? = nil

    init(dIn: Int, dSAE: Int, seed: UInt64) {
        self.dIn = dIn; self.dSAE = dSAE
        wEnc = Tensor.randomNormal([dIn, dSAE], std: 0.1, seed: seed)
        wDec = Tensor(shape: [dSAE, dIn])
        for i in 0..<dIn { for j in 0..<dSAE { wDec.scalars[j * dIn + i] = wEnc.scalars[i * dSAE + j] } }
        bEnc = Tensor(shape: [dSAE]); bDec = Tensor(shape: [dIn])
        velocity = ["W_enc": Tensor(shape: [dIn, dSAE]), "b_enc": Tensor(shape: [dSAE]), "W_dec": Tensor(shape: [dSAE, dIn]), "b_dec": Tensor(shape: [dIn])]
    }

    mutating func trainStep(_ x: Tensor, step: Int, totalSteps: Int) throws -> SAEStepReport {
        let n = x.matrixShape.rows
        var h = Tensor(shape: [n, dSAE])
        matmul(x, wEnc, into: &h)
        for r in 0..<n { for j in 0..<dSAE { h.scalars[r * dSAE + j] += bEnc.scalars[j] } }
        var f = h
        for i in 0..<f.count where f.scalars[i] < 0 { f.scalars[i] = 0 }
        var xHat = Tensor(shape: [n, dIn])
        matmul(f, wDec, into: &xHat)
        var e = xHat
        var mse = 0.0
        for r in 0..<n { for d in 0..<dIn {
            e.scalars[r * dIn + d] += bDec.scalars[d] - x.scalars[r * dIn + d]
            mse += Double(e.scalars[r * dIn + d]) * Double(e.scalars[r * dIn + d])
        } }
        mse /= Double(n)
        var dOut = e
        for i in 0..<dOut.count { dOut.scalars[i] *= 2 / Float(n) }
        var gWDec = Tensor(shape: [dSAE, dIn]); matmulTransposedA(f, dOut, into: &gWDec)
        var gBDec = Tensor(shape: [dIn]); for r in 0..<n { for d in 0..<dIn { gBDec.scalars[d] += dOut.scalars[r * dIn + d] } }
        var dh = Tensor(shape: [n, dSAE]); matmulTransposedB(dOut, wDec, into: &dh)
        for i in 0..<dh.count where h.scalars[i] <= 0 { dh.scalars[i] = 0 }
        var gWEnc = Tensor(shape: [dIn, dSAE]); matmulTransposedA(x, dh, into: &gWEnc)
        var gBEnc = Tensor(shape: [dSAE]); for r in 0..<n { for j in 0..<dSAE { gBEnc.scalars[j] += dh.scalars[r * dSAE + j] } }
        // Updates run on copies: an inout access to one stored property while the closure writes another
        // would overlap two accesses to `self`.
        let (lr, momentum) = (self.lr, self.momentum)
        var velocity = self.velocity
        func apply(_ name: String, _ p: Tensor, _ g: Tensor) -> Tensor {
            var v = velocity[name]!, p = p
            for i in 0..<p.count { v.scalars[i] = momentum * v.scalars[i] + g.scalars[i]; p.scalars[i] -= lr * v.scalars[i] }
            velocity[name] = v
            return p
        }
        wEnc = apply("W_enc", wEnc, gWEnc); bEnc = apply("b_enc", bEnc, gBEnc)
        wDec = apply("W_dec", wDec, gWDec); bDec = apply("b_dec", bDec, gBDec)
        self.velocity = velocity
        var fires = [Int32](repeating: 0, count: dSAE)
        var l0 = 0.0
        for r in 0..<n { for j in 0..<dSAE where f.scalars[r * dSAE + j] > 0 { fires[j] += 1; l0 += 1 } }
        let loss = step == nanAtStep ? Double.nan : mse
        return SAEStepReport(metrics: ["losses/overall_loss": loss, "losses/mse_loss": mse, "metrics/l0": l0 / Double(n),
                                       "details/current_learning_rate": Double(lr)], fireCounts: fires)
    }

    func checkpointTensors() -> [String: Tensor] {
        var t = ["W_enc": wEnc, "b_enc": bEnc, "W_dec": wDec, "b_dec": bDec]
        for (k, v) in velocity { t["velocity." + k] = v }
        return t
    }

    mutating func restore(from tensors: [String: Tensor]) throws {
        wEnc = tensors["W_enc"]!; bEnc = tensors["b_enc"]!; wDec = tensors["W_dec"]!; bDec = tensors["b_dec"]!
        for k in Array(velocity.keys) { velocity[k] = tensors["velocity." + k]! }
    }

    func inferenceSAE(metadata: SAETrainingMetadata) throws -> SparseAutoencoder {
        let meta: JSONValue = .object([
            ("model_name", .string(metadata.modelName)), ("hook_name", .string(metadata.hookName)),
            ("context_size", .int(metadata.contextSize)), ("prepend_bos", .bool(metadata.prependBOS)),
            ("dataset_path", .string(metadata.datasetPath)),
        ])
        let config = SAEConfig(architecture: .standard, dIn: dIn, dSAE: dSAE, applyBDecToInput: false,
                               normalizeActivations: metadata.normScalingFactor == nil ? .none : .expectedAverageOnlyIn, metadata: meta)
        let sae = try SparseAutoencoder(config: config, weights: SAEWeights(wEnc: wEnc, bEnc: bEnc, wDec: wDec, bDec: bDec))
        return try metadata.normScalingFactor.map { try sae.foldingNormScalingFactor($0) } ?? sae
    }
}
