import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftRuns
import IsaerftSAE
import IsaerftSAETraining
import IsaerftTestSupport
import Testing

/// SAELens-computed training steps (`scripts/make_sae_train_fixtures.py`: SAELens 6.54.12 training
/// classes, torch 2.13.0 fp32, d_in 16, d_sae 48, batch 32, k 4, two Adam steps).
enum SAETrainFixture {
    static let cases = ["standard", "standard_nobdec", "topk", "topk_norescale", "batchtopk", "jumprelu_step",
                        "jumprelu_tanh", "gated"]

    struct Case {
        var name: String
        var file: SafeTensorsFile
        var meta: [String: Any]
        var config: SAETrainingConfig
        var totalSteps: Int
        var architecture: String
    }

    static func load(_ name: String) throws -> Case {
        let root = SharedData.fixturesRoot.appendingPathComponent("sae-train")
        let file = try SafeTensorsFile(url: root.appendingPathComponent("\(name).safetensors"))
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("\(name).json"))) as! [String: Any]
        let trainer = meta["trainer"] as! [String: Any]
        var cfg = meta["sae_cfg"] as! [String: Any]
        cfg["architecture"] = meta["architecture"]
        cfg["d_in"] = meta["d_in"]; cfg["d_sae"] = meta["d_sae"]
        cfg["dead_feature_window"] = meta["dead_feature_window"]
        cfg["lr"] = trainer["lr"]
        cfg["lr_warm_up_steps"] = trainer["lr_warm_up_steps"] ?? 0
        cfg["lr_decay_steps"] = trainer["lr_decay_steps"] ?? 0
        cfg["lr_scheduler_name"] = trainer["scheduler"] ?? "constant"
        if let s = trainer["scale"] { cfg["activation_norm_scale"] = s }
        let config = try JSONDecoder().decode(SAETrainingConfig.self, from: JSONSerialization.data(withJSONObject: cfg))
        return Case(name: name, file: file, meta: meta, config: config, totalSteps: trainer["total_steps"] as! Int,
                    architecture: meta["architecture"] as! String)
    }

    static func tensors(_ f: SafeTensorsFile, prefix: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for n in f.names where n.hasPrefix(prefix) { out[String(n.dropFirst(prefix.count))] = try f.tensor(n) }
        return out
    }

    static func scalar(_ f: SafeTensorsFile, _ name: String) throws -> Double { Double(try f.tensor(name).scalars[0]) }
}

/// Worst |got − want| over everything compared in one case, with its label.
struct Worst: CustomStringConvertible {
    var value = 0.0, label = ""
    mutating func note(_ c: Closeness, _ l: String) { if c.maxAbs > value { value = c.maxAbs; label = l } }
    var description: String { String(format: "%.2e at %@", value, label) }
}

@Suite("SAE training step parity with SAELens 6.54.12")
struct TrainingStepParityTests {
    // fp32 against torch fp32 (summation order only).
    static let atol = 1e-5, rtol = 1e-5

    @Test("two Adam steps: losses, gradients, clipping, updated parameters, moments, counters", arguments: SAETrainFixture.cases)
    func twoSteps(_ name: String) throws {
        let c = try SAETrainFixture.load(name)
        var sae = try TrainingSAE(config: c.config, parameters: SAETrainFixture.tensors(c.file, prefix: "init."))
        sae.stepsSinceFired = try c.file.tensor("init.since_fired").scalars
        if c.architecture == "batchtopk" { sae.topkThreshold = try SAETrainFixture.scalar(c.file, "init.topk_threshold") }
        var worst = Worst(), worstTensor = Worst()
        func check(_ got: Tensor, _ want: Tensor, _ label: String) {
            let r = compare(got, want, atol: Self.atol, rtol: Self.rtol)
            worstTensor.note(r, label)
            #expect(r.passed, "\(name) \(label): \(r)")
        }
        func checkScalar(_ got: Double?, _ want: Double, _ label: String) {
            guard let got else { Issue.record("\(name) \(label): missing"); return }
            let r = compare([got], [want], atol: Self.atol, rtol: Self.rtol)
            worst.note(r, label)
            #expect(r.passed, "\(name) \(label): \(r)")
        }
        for step in 0..<2 {
            let x = try c.file.tensor("x\(step)")
            let report = try sae.trainStep(x, step: step, totalSteps: c.totalSteps)
            let p = "s\(step)."
            for (k, v) in try SAETrainFixture.tensors(c.file, prefix: p + "loss.") {
                checkScalar(report.metrics["losses/\(k)"], Double(v.scalars[0]), "step \(step) \(k)")
            }
            checkScalar(report.metrics["metrics/grad_norm"], try SAETrainFixture.scalar(c.file, p + "grad_norm"), "step \(step) grad_norm")
            checkScalar(report.metrics["details/current_learning_rate"], try SAETrainFixture.scalar(c.file, p + "lr"), "step \(step) lr")
            checkScalar(report.metrics["metrics/l0"], try SAETrainFixture.scalar(c.file, p + "l0"), "step \(step) l0")
            let grads = sae.namedGradients, params = sae.namedParameters, state = sae.checkpointTensors()
            for (k, want) in try SAETrainFixture.tensors(c.file, prefix: p + "grad.") { check(grads[k]!, want, "step \(step) grad \(k)") }
            for (k, want) in try SAETrainFixture.tensors(c.file, prefix: p + "param.") { check(params[k]!, want, "step \(step) param \(k)") }
            for (k, want) in try SAETrainFixture.tensors(c.file, prefix: p + "exp_avg.") {
                check(state["optimizer.\(k).exp_avg"]!, want, "step \(step) exp_avg \(k)")
            }
            #expect(report.fireCounts.map(Float.init) == (try c.file.tensor(p + "fire_counts")).scalars, "\(name) step \(step) fire counts")
            #expect(sae.stepsSinceFired == (try c.file.tensor(p + "since_fired")).scalars, "\(name) step \(step) since fired")
            if c.architecture == "batchtopk" {
                checkScalar(sae.topkThreshold, try SAETrainFixture.scalar(c.file, p + "topk_threshold"), "step \(step) topk_threshold")
            }
        }
        let inference = try sae.inferenceSAE(metadata: SAETrainingMetadata(modelName: "m", hookName: "blocks.0.hook_resid_pre",
                                                                           contextSize: 8, prependBOS: true, datasetPath: "d"))
        let w = inference.weights
        let saved: [String: Tensor?] = ["W_enc": w.wEnc, "b_enc": w.bEnc, "W_dec": w.wDec, "b_dec": w.bDec, "threshold": w.threshold,
                                        "b_gate": w.bGate, "r_mag": w.rMag, "b_mag": w.bMag]
        for (k, want) in try SAETrainFixture.tensors(c.file, prefix: "inference.") {
            guard let got = saved[k] ?? nil else { Issue.record("\(name): inference tensor \(k) missing"); continue }
            check(got, want, "inference \(k)")
        }
        #expect(inference.config.architecture.rawValue == c.meta["inference_architecture"] as? String)
        print("[sae-train parity] \(name): worst tensor element |Δ| \(worstTensor); worst scalar (loss, norm, lr) |Δ| \(worst)")
    }

    @Test("checkpoint and restore continue bit-identically", arguments: ["topk", "batchtopk", "jumprelu_step", "gated"])
    func resume(_ name: String) throws {
        let c = try SAETrainFixture.load(name)
        var a = try TrainingSAE(config: c.config, parameters: SAETrainFixture.tensors(c.file, prefix: "init."))
        a.stepsSinceFired = try c.file.tensor("init.since_fired").scalars
        let x0 = try c.file.tensor("x0"), x1 = try c.file.tensor("x1")
        _ = try a.trainStep(x0, step: 0, totalSteps: c.totalSteps)
        var b = try TrainingSAE(config: c.config)
        try b.restore(from: a.checkpointTensors())
        _ = try a.trainStep(x1, step: 1, totalSteps: c.totalSteps)
        _ = try b.trainStep(x1, step: 1, totalSteps: c.totalSteps)
        #expect(a.checkpointTensors() == b.checkpointTensors())
    }

    @Test("a fresh SAE follows SAELens' initialisation")
    func initialisation() throws {
        for arch in SAETrainingArchitecture.allCases {
            let sae = try TrainingSAE(config: SAETrainingConfig(architecture: arch, dIn: 16, dSAE: 48, k: 4, seed: 3))
            let p = sae.namedParameters
            let wDec = p["W_dec"]!, wEnc = p["W_enc"]!
            for i in 0..<48 {
                let row = wDec.scalars[(i * 16)..<((i + 1) * 16)]
                let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                #expect(abs(norm - 0.1) < 1e-6, "\(arch) row \(i) norm \(norm)")
                for j in 0..<16 { #expect(wEnc[j, i] == wDec[i, j]) }
            }
            #expect(p["b_dec"]!.scalars.allSatisfy { $0 == 0 })
            if arch == .jumprelu { #expect(p["threshold"]!.scalars.allSatisfy { $0 == 0.01 }) }
        }
    }

    @Test("inference SAE saves a SAELens folder that loads back")
    func saveLoad() throws {
        let c = try SAETrainFixture.load("batchtopk")
        var sae = try TrainingSAE(config: c.config, parameters: SAETrainFixture.tensors(c.file, prefix: "init."))
        _ = try sae.trainStep(try c.file.tensor("x0"), step: 0, totalSteps: 10)
        let inf = try sae.inferenceSAE(metadata: SAETrainingMetadata(modelName: "gpt2", hookName: "blocks.3.hook_resid_post",
                                                                     contextSize: 128, prependBOS: true, datasetPath: "x"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-trainmath-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try inf.save(folder: dir)
        let back = try SparseAutoencoder.load(folder: dir)
        #expect(back.config.architecture == .jumprelu)
        #expect(back.config.hookName == "blocks.3.hook_resid_post")
        #expect(back.weights == inf.weights)
    }
}
