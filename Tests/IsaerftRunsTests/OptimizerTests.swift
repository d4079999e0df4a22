import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftRuns
import IsaerftTestSupport
import Testing

/// torch.optim / HF / SAELens numbers from `scripts/make_sae_train_fixtures.py` (torch 2.13.0,
/// transformers 5.x, SAELens 6.54.12): `fixtures/sae-train/optim.{safetensors,json}`.
enum OptimFixture {
    static let root = SharedData.fixturesRoot.appendingPathComponent("sae-train")
    static func file() throws -> SafeTensorsFile { try SafeTensorsFile(url: root.appendingPathComponent("optim.safetensors")) }
    static func meta() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("optim.json"))) as! [String: Any]
    }
    static let names = ["weight", "bias", "scale"]
}

@Suite("Optimisers, clipping and schedules against torch")
struct OptimizerTests {
    // fp32 element-wise maths in the same order as torch's single-tensor path: observed ≤ 1e-7.
    static let tol = 1e-6

    @Test("Adam, Adam+L2, AdamW, SGD, momentum, Nesterov: 3 steps with clip_grad_norm_",
          arguments: ["adam", "adam_l2", "adamw", "sgd", "sgd_momentum", "sgd_nesterov"])
    func optimiser(_ name: String) throws {
        let f = try OptimFixture.file()
        let meta = try OptimFixture.meta()
        let c = (meta["cases"] as! [[String: Any]]).first { $0["name"] as? String == name }!
        let kind = OptimizerKind(rawValue: c["kind"] as! String)!
        let cfg = OptimizerConfig(kind: kind, weightDecay: c["weight_decay"] as? Double ?? 0,
                                  momentum: c["momentum"] as? Double ?? 0, nesterov: c["nesterov"] as? Bool ?? false)
        var opt = Optimizer(config: cfg)
        var params: [String: Tensor] = [:]
        for n in OptimFixture.names { params[n] = try f.tensor("init.\(n)") }
        let clip = c["clip"] as! Double
        var worst = 0.0
        for i in 0..<3 {
            var grads: [String: Tensor] = [:]
            for n in OptimFixture.names { grads[n] = try f.tensor("grad\(i).\(n)") }
            if clip > 0 {
                let norm = GradientClipping.clip(&grads, maxNorm: clip)
                let want = Double(try f.tensor("\(name).norm\(i)").scalars[0])
                #expect(abs(norm - want) <= Self.tol * max(1, abs(want)), "\(name) step \(i) norm \(norm) vs \(want)")
            }
            opt.step(&params, gradients: grads, learningRate: c["lr"] as! Double)
            for n in OptimFixture.names {
                let r = compare(params[n]!, try f.tensor("\(name).step\(i).\(n)"), atol: Self.tol, rtol: 0)
                worst = max(worst, r.maxAbs)
                #expect(r.passed, "\(name) step \(i) \(n): \(r)")
            }
        }
        print("[optim parity] \(name): worst |Δ| \(worst)")
    }

    @Test("fused clipping (gradientScale) equals clipping first")
    func fusedClip() throws {
        let f = try OptimFixture.file()
        var a = Optimizer(config: OptimizerConfig(kind: .adamw, weightDecay: 0.1)), b = a
        var pa: [String: Tensor] = [:]
        for n in OptimFixture.names { pa[n] = try f.tensor("init.\(n)") }
        var pb = pa
        var grads: [String: Tensor] = [:]
        for n in OptimFixture.names { grads[n] = try f.tensor("grad0.\(n)") }
        let norm = GradientClipping.globalNorm(OptimFixture.names.map { grads[$0]! })
        let coef = GradientClipping.coefficient(norm: norm, maxNorm: 1)
        #expect(coef < 1)
        a.step(&pa, gradients: grads, learningRate: 0.01, gradientScale: coef)
        GradientClipping.clip(&grads, maxNorm: 1)
        b.step(&pb, gradients: grads, learningRate: 0.01)
        #expect(pa == pb)
    }

    @Test("state round-trips through tensors")
    func stateRoundTrip() throws {
        var opt = Optimizer(config: OptimizerConfig(kind: .adam))
        var p = ["w": Tensor(shape: [3], scalars: [1, 2, 3])]
        let g = ["w": Tensor(shape: [3], scalars: [0.5, -1, 2])]
        opt.step(&p, gradients: g, learningRate: 0.1)
        var restored = Optimizer(config: OptimizerConfig(kind: .adam))
        try restored.restore(from: opt.stateTensors(), shapes: ["w": [3]])
        var p2 = p
        opt.step(&p, gradients: g, learningRate: 0.1)
        restored.step(&p2, gradients: g, learningRate: 0.1)
        #expect(p == p2)
        #expect(throws: OptimizerError.self) { try restored.restore(from: [:].merging(opt.stateTensors().filter { !$0.key.hasSuffix("exp_avg_sq") }) { a, _ in a }, shapes: ["w": [3]]) }
    }

    @Test("weight decay skips names containing bias")
    func noDecay() {
        let c = OptimizerConfig(kind: .adamw, weightDecay: 0.1)
        #expect(c.weightDecay(for: "layer.bias") == 0)
        #expect(c.weightDecay(for: "layer.weight") == 0.1)
    }

    @Test("HF and SAELens learning-rate schedules, SAELens coefficient warm-up")
    func schedules() throws {
        let f = try OptimFixture.file()
        let meta = try OptimFixture.meta()
        for s in meta["schedules"] as! [[String: Any]] {
            let key = s["key"] as! String, kind = s["kind"] as! String, total = s["total"] as! Int, lr = s["lr"] as! Double
            let warm = s["warmup"] as! Int
            let schedule: LearningRateSchedule
            switch kind {
            case "linear": schedule = .hfLinear(warmupSteps: warm)
            case "cosine": schedule = .hfCosine(warmupSteps: warm)
            case "constant" where key.hasPrefix("hf."): schedule = .hfConstant
            case "constant_with_warmup": schedule = .hfConstantWithWarmup(warmupSteps: warm)
            default:
                schedule = .saeLens(SAELensLRSchedule(main: SAELensLRSchedule.Main(rawValue: kind)!, warmUpSteps: warm,
                                                      decaySteps: s["decay"] as! Int, lrEnd: s["lr_end"] as! Double,
                                                      cycles: s["cycles"] as! Int))
            }
            let want = try f.tensor(key).scalars
            for k in 0..<total {
                let got = schedule.learningRate(step: k, totalSteps: total, baseLR: lr)
                #expect(abs(got - Double(want[k])) <= 1e-6 * lr, "\(key) step \(k): \(got) vs \(want[k])")
            }
        }
        for warm in [0, 3] {
            let want = try f.tensor("coef.\(warm)").scalars
            let c = CoefficientWarmUp(finalValue: 2.5, warmUpSteps: warm)
            for k in 0..<want.count { #expect(abs(c.value(step: k) - Double(want[k])) < 1e-6, "coef warm \(warm) step \(k)") }
        }
    }
}
