import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftSAE
import IsaerftTestSupport
@testable import IsaerftTuning
import Testing

func temporaryFolder(_ label: String) throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

@Suite("Adapter folders, trajectories, records")
struct AdapterTests {
    static let sae = AdapterSAE(release: "rel", saeID: "blocks.0.hook_resid_post", path: "/x/sae", sha256: "ab12", neuronpediaID: "m/0-res", dIn: 4, dSAE: 6)

    static func config(_ components: [AdapterComponent]) -> AdapterConfig {
        AdapterConfig(baseModelNameOrPath: "gpt2", revision: nil, components: components,
                      training: AdapterTraining(lossType: "sigmoid", beta: 0.1, lr: 1e-2, steps: 10, seed: 42),
                      data: AdapterData(train: "data/preferences/train.jsonl", format: .standard, tokenization: TokenizationSettings()))
    }

    @Test("write → read round-trips config and tensors bit for bit; the config has the §7 keys; other files survive a rewrite")
    func roundTrip() throws {
        let dir = try temporaryFolder("adapter").appendingPathComponent("run")
        let comps = [AdapterComponent(hookName: "blocks.0.hook_resid_post", kind: .scale, sae: Self.sae),
                     AdapterComponent(hookName: "blocks.1.hook_resid_post", kind: .mlp, depth: 1, hiddenSize: 3, sae: Self.sae)]
        var rng = SplitMix64(seed: 1)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in try Self.config(comps).tensorShapes() {
            tensors[name] = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.nextNormal() })
        }
        #expect(tensors["blocks.1.hook_resid_post.mlp.0.weight"]?.shape == [3, 6] && tensors["blocks.1.hook_resid_post.mlp.1.weight"]?.shape == [6, 3])
        try AdapterFolder.write(to: dir, config: Self.config(comps), tensors: tensors)
        try TrainingRecords.append(TrainingRecord(step: 1, kind: .train, metrics: ["loss": 0.69]), to: dir.appendingPathComponent("records.jsonl"))
        let back = try AdapterFolder.read(from: dir)
        #expect(back.config == Self.config(comps))
        #expect(back.tensors.keys.sorted() == tensors.keys.sorted())
        for (k, t) in tensors { #expect(back.tensors[k]!.scalars.map(\.bitPattern) == t.scalars.map(\.bitPattern)) }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(json["peft_type"] as? String == "ISAERFT" && json["task_type"] as? String == "CAUSAL_LM" && json.keys.contains("revision"))
        let c0 = (json["components"] as! [[String: Any]])[0]
        #expect(Set(c0.keys) == ["hook_name", "kind", "depth", "hidden_size", "scale_processor", "positions", "active_only", "sae"])
        #expect(Set((c0["sae"] as! [String: Any]).keys) == ["release", "sae_id", "path", "sha256", "neuronpedia_id", "d_in", "d_sae"])
        #expect((json["training"] as! [String: Any])["loss_type"] as? String == "sigmoid")
        // Rewriting keeps records.jsonl and leaves no partial folders behind.
        try AdapterFolder.write(to: dir, config: Self.config(comps), tensors: tensors)
        #expect(try TrainingRecords.read(from: dir.appendingPathComponent("records.jsonl")).count == 1)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: dir.deletingLastPathComponent().path)
        #expect(siblings == ["run"])
    }

    @Test("read errors: missing folder/file, unknown peft_type, wrong shape, stray tensor, missing tensor")
    func readErrors() throws {
        let dir = try temporaryFolder("adapter-bad")
        func message(_ body: () throws -> Void) -> String { do { try body(); return "no error" } catch { return "\(error)" } }
        #expect(message { _ = try AdapterFolder.read(from: dir.appendingPathComponent("nope")) }.hasSuffix("nope: no such file"))
        #expect(message { _ = try AdapterFolder.read(from: dir) }.hasSuffix("adapter_config.json: no such file"))
        try Data("{\"peft_type\":\"LORA\",\"target_modules\":[\"q\"]}".utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(message { _ = try AdapterFolder.read(from: dir) }.contains("peft_type is \"LORA\", expected \"ISAERFT\""))
        let comp = [AdapterComponent(hookName: "h", kind: .bias, sae: Self.sae)]
        #expect(message { try AdapterFolder.write(to: dir, config: Self.config(comp), tensors: ["h.bias": Tensor(shape: [5])]) }
                .contains("tensor h.bias has shape [5], expected [6]"))
        #expect(message { try AdapterFolder.write(to: dir, config: Self.config(comp), tensors: ["h.bias": Tensor(shape: [6]), "h.scale": Tensor(shape: [6])]) }
                .contains("tensor h.scale belongs to no component"))
        #expect(message { try AdapterFolder.write(to: dir, config: Self.config(comp), tensors: [:]) }.contains("tensor h.bias is missing"))
        // A file whose tensor does not match d_sae.
        try AdapterFolder.write(to: dir, config: Self.config(comp), tensors: ["h.bias": Tensor(shape: [6])])
        try SafeTensors.write([("h.bias", Tensor(shape: [7]))], to: dir.appendingPathComponent("adapter_model.safetensors"))
        #expect(message { _ = try AdapterFolder.read(from: dir) }.contains("tensor h.bias has shape [7], expected [6]"))
        try Data("{\"peft_type\":\"ISAERFT\",\"components\":[]}".utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        #expect(message { _ = try AdapterFolder.read(from: dir) }.contains("missing field base_model_name_or_path"))
    }

    @Test("trajectory recorder: bounded to maxRecords, steps multiples of the interval plus the final step; file round-trips")
    func trajectories() throws {
        var r = TrajectoryRecorder(maxRecords: 8)
        var last: [Float] = []
        for step in 0...100 {
            let v = Tensor(shape: [3], scalars: [Float(step), -Float(step), 1])
            last = v.scalars
            r.record(step: step, tensors: ["h.scale": v, "h.mlp.0.weight": Tensor(shape: [200])], final: step == 100)
            #expect(r.steps.count <= 8)
        }
        #expect(r.steps.last == 100 && r.steps.first == 0)
        #expect(r.steps.dropLast().allSatisfy { $0 % r.interval == 0 })
        #expect(r.skipped.isEmpty)
        let url = try temporaryFolder("traj").appendingPathComponent("trajectories.safetensors")
        try r.write(to: url)
        let t = try Trajectories.read(from: url)
        #expect(t.steps == r.steps && t.interval == r.interval)
        #expect(t.series("h.scale", index: 0) == r.steps.map(Float.init) && t.series("h.scale", index: 1) == r.steps.map { -Float($0) })
        #expect(t.values["h.scale"]!.scalars.suffix(3).map { $0 } == last)
        var sized = TrajectoryRecorder(totalSteps: 1000, maxRecords: 256, maxValuesPerParameter: 100)
        for step in 0...1000 { sized.record(step: step, tensors: ["a": Tensor(shape: [2]), "big": Tensor(shape: [101])], final: step == 1000) }
        #expect(sized.interval == 4 && sized.steps.count == 251 && sized.skipped == ["big"])   // ceil(1000 / 254) = 4: no thinning
    }

    @Test("records.jsonl: TRL names, eval_ prefix, torn last line ignored")
    func records() throws {
        let url = try temporaryFolder("rec").appendingPathComponent("records.jsonl")
        try TrainingRecords.append(TrainingRecord(step: 3, kind: .train, metrics: [TRLMetric.loss: 0.5, TRLMetric.rewardsAccuracies: 0.75]), to: url)
        try TrainingRecords.append(.eval(step: 3, metrics: [TRLMetric.loss: 0.6, TRLMetric.rewardsMargins: 0.1]), to: url)
        let h = try FileHandle(forWritingTo: url); try h.seekToEnd(); try h.write(contentsOf: Data("{\"step\":4,\"ki".utf8)); try h.close()
        let rs = try TrainingRecords.read(from: url)
        #expect(rs.count == 2 && rs[1].metrics["eval_loss"] == 0.6 && rs[1].value("rewards/margins") == 0.1 && rs[0].value("loss") == 0.5)
        #expect(TrainingRecord(step: 1, kind: .train, metrics: ["rewards/chosen": 1.5]).jsonLine() == "{\"step\":1,\"kind\":\"train\",\"rewards/chosen\":1.5}")
    }

    @Test("merge: bias → b·W_dec (Double reference), scale → decoder rows × (1 + s); mlp and per-token normalisation refused")
    func merge() throws {
        guard let url = SharedData.fixture("sae/standard") else { print("skipped: fixtures/sae/standard absent"); return }
        let sae = try SparseAutoencoder.load(folder: url)
        var rng = SplitMix64(seed: 3)
        let b = Tensor(shape: [sae.dSAE], scalars: (0..<sae.dSAE).map { _ in rng.nextNormal() })
        let v = try AdapterMerge.steeringVector(bias: b, sae: sae)
        var worst = 0.0
        for j in 0..<sae.dIn {
            var want = 0.0
            for i in 0..<sae.dSAE { want += Double(b.scalars[i]) * Double(sae.weights.wDec.scalars[i * sae.dIn + j]) }
            worst = max(worst, abs(Double(v.scalars[j]) - want))
        }
        #expect(worst < 1e-5, "worst |v − b·W_dec| = \(worst)")   // one Float rounding of a Double sum
        // Exactness of the splice identity: x + (dec(f + b) − dec(f)) = x + v for random rows.
        let x = Tensor.randomNormal([5, sae.dIn], seed: 9)
        let f = try sae.encode(x)
        var fb = f
        for r in 0..<5 { for i in 0..<sae.dSAE { fb.scalars[r * sae.dSAE + i] += b.scalars[i] } }
        let d0 = sae.decode(f), d1 = sae.decode(fb)
        var worstSplice: Float = 0
        for r in 0..<5 { for j in 0..<sae.dIn { worstSplice = max(worstSplice, abs(d1.scalars[r * sae.dIn + j] - d0.scalars[r * sae.dIn + j] - v.scalars[j])) } }
        #expect(worstSplice < 1e-4, "worst splice difference \(worstSplice)")   // fp32 decode of two nearby sums
        let s = Tensor(shape: [sae.dSAE], scalars: (0..<sae.dSAE).map { _ in rng.nextNormal() * 0.5 })
        let merged = try AdapterMerge.scaledSAE(scale: s, processor: .identity, sae: sae, adapterPath: "/a")
        for i in [0, 7, sae.dSAE - 1] {
            #expect(merged.weights.wDec.scalars[i * sae.dIn] == sae.weights.wDec.scalars[i * sae.dIn] * (1 + s.scalars[i]))
        }
        #expect(merged.config.metadata["isaerft_merge_note"]?.stringValue?.contains("ORIGINAL") == true)
        var ln = sae.config
        ln.normalizeActivations = .layerNorm
        let lnSAE = try SparseAutoencoder(config: ln, weights: sae.weights)
        #expect(throws: AdapterError.self) { _ = try AdapterMerge.steeringVector(bias: b, sae: lnSAE) }
    }
}
