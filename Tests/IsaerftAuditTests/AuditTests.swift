import Foundation
import IsaerftAnalysis
@testable import IsaerftAudit
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import IsaerftTuning
import Testing

/// fixtures/gpt2/tiny_a (GPT-2, d_model 64, 2 blocks, V 1000) and fixtures/sae/standard (d_in 64, d_sae 128,
/// blocks.0.hook_resid_post, Neuronpedia id set below).
enum AuditFixture {
    static let model: GPT2Model = try! GPT2Model.load(folder: SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a"))
    static let sae: SparseAutoencoder = try! SparseAutoencoder.load(folder: SharedData.fixturesRoot.appendingPathComponent("sae/standard"))
    static let hook = "blocks.0.hook_resid_post"
    /// Four short "texts" as token rows (ids < 1000; 999 plays BOS and is excluded).
    static let rows: [[Int]] = [[999, 5, 17, 230, 44, 9, 610], [999, 88, 3, 3, 71, 402], [999, 12, 640, 99, 5, 5, 7, 81], [999, 300, 301]]

    static func adapter(kind: ComponentKind, values: [Float], in dir: URL, records: Bool = true) throws -> AdapterFolder {
        let comp = AdapterComponent(hookName: hook, kind: kind,
                                    sae: AdapterSAE(path: "fixtures/sae/standard", neuronpediaID: "tiny-a/0-res-test", dIn: 64, dSAE: 128))
        let config = AdapterConfig(baseModelNameOrPath: "fixtures/gpt2/tiny_a", components: [comp],
                                   training: AdapterTraining(lossType: "sigmoid", beta: 0.1, lr: 0.01, steps: 20, seed: 1))
        let name = "\(hook).\(kind.rawValue)"
        try AdapterFolder.write(to: dir, config: config, tensors: [name: Tensor(shape: [128], scalars: values)])
        var rec = TrajectoryRecorder(totalSteps: 20, maxRecords: 16)
        for step in 0...20 {
            rec.record(step: step, tensors: [name: Tensor(shape: [128], scalars: values.map { $0 * Float(step) / 20 })], final: step == 20)
        }
        try rec.write(to: dir.appendingPathComponent(AdapterFolder.trajectoriesFile))
        if records {
            for step in [1, 10, 20] {
                try TrainingRecords.append(TrainingRecord(step: step, kind: .train, metrics: ["loss": 0.7 - 0.01 * Double(step), "rewards/accuracies": 0.5 + 0.02 * Double(step)]),
                                           to: dir.appendingPathComponent(AdapterFolder.recordsFile))
            }
            try TrainingRecords.append(.eval(step: 20, metrics: ["loss": 0.6]), to: dir.appendingPathComponent(AdapterFolder.recordsFile))
        }
        return try AdapterFolder.read(from: dir)
    }

    static func folder(_ label: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-audit-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u.appendingPathComponent("adapter")
    }

    static func decoderNorm(_ i: Int) -> Double {
        (0..<64).reduce(0.0) { $0 + pow(Double(sae.weights.wDec.scalars[i * 64 + $1]), 2) }.squareRoot()
    }
}

@Suite("Adapter audit")
struct AuditTests {
    /// Sparse values: five non-zero latents with distinct magnitudes.
    static let values: [Float] = (0..<128).map { i in [3: 0.5, 10: -0.9, 50: 0.2, 77: -0.1, 100: 1.5][i] ?? 0 }

    @Test("bias: up/down by value and effect |b|·‖W_dec‖ match a hand computation; trajectories attached")
    func biasRanking() throws {
        let adapter = try AuditFixture.adapter(kind: .bias, values: Self.values, in: AuditFixture.folder("bias"))
        let labels = LatentLabels([LatentExplanation(index: 100, description: "kindness <&>")])
        let report = try Audit.run(adapter: adapter, sae: AuditFixture.sae, labels: labels)
        let c = report.components[0]
        #expect(c.up.map(\.index) == [100, 3, 50] && c.down.map(\.index) == [10, 77])
        let want = [3, 10, 50, 77, 100].map { ($0, abs(Double(Self.values[$0])) * AuditFixture.decoderNorm($0)) }.sorted { $0.1 > $1.1 }
        #expect(c.byEffect.map(\.index) == want.map(\.0))
        for (l, w) in zip(c.byEffect, want) { #expect(abs(l.effect! - w.1) <= 1e-9 * max(1, w.1), "latent \(l.index)") }
        #expect(c.up[0].label == "kindness <&>" && c.up[0].url == "https://www.neuronpedia.org/tiny-a/0-res-test/100")
        #expect(c.trajectorySteps.first == 0 && c.trajectorySteps.last == 20)
        #expect(c.up[0].trajectory?.last == 1.5 && c.up[0].trajectory?.first == 0)
        #expect(c.movedCount == 5 && abs(c.maxAbs - 1.5) < 1e-12)
    }

    @Test("scale on data: effect = |s_i|·E_t|f_i(t)|·‖W_dec[i]‖ over non-BOS tokens, checked against a direct loop; examples found")
    func scaleOnData() throws {
        let dir = try AuditFixture.folder("scale")
        // Scale latents that fire on this data: pick the 5 most frequent.
        let model = AuditFixture.model, sae = AuditFixture.sae
        let reader = try LatentReader(model: model, sae: sae, hook: HookPoint(name: AuditFixture.hook)!)
        var sumAbs = [Double](repeating: 0, count: 128), active = [Double](repeating: 0, count: 128), n = 0.0
        for row in AuditFixture.rows {
            let f = try reader.features([row]).reshaped([row.count, 128])
            for t in 1..<row.count {
                n += 1
                for i in 0..<128 { let v = Double(f.scalars[t * 128 + i]); sumAbs[i] += abs(v); if v > 0 { active[i] += 1 } }
            }
        }
        let firing = (0..<128).filter { active[$0] > 0 }
        try #require(firing.count >= 3, "the fixture SAE should fire on the test rows")
        var values = [Float](repeating: 0, count: 128)
        for (k, i) in firing.prefix(6).enumerated() { values[i] = (k % 2 == 0 ? 1 : -1) * Float(k + 1) * 0.1 }
        // A large value on a latent that never fires on the data has no effect and must not be listed by effect.
        let silent = (0..<128).first { active[$0] == 0 }
        if let silent { values[silent] = 5 }
        let adapter = try AuditFixture.adapter(kind: .scale, values: values, in: dir)
        let data = AuditData(rows: AuditFixture.rows, description: "four rows")
        var options = AuditOptions(); options.top = 10
        let report = try Audit.run(adapter: adapter, sae: sae, model: model, data: data, options: options)
        let c = report.components[0]
        let effect = (0..<128).map { abs(Double(values[$0])) * (sumAbs[$0] / n) * AuditFixture.decoderNorm($0) }
        let want = (0..<128).filter { effect[$0] > 0 }.sorted { effect[$0] != effect[$1] ? effect[$0] > effect[$1] : $0 < $1 }.prefix(10)
        #expect(c.byEffect.map(\.index) == Array(want))
        var worst = 0.0
        for l in c.byEffect { worst = max(worst, abs(l.effect! - effect[l.index]) / max(effect[l.index], 1e-12)) }
        #expect(worst < 1e-9, "worst relative effect difference \(worst)")   // same Float features, Double sums in the same order
        for l in c.byEffect { #expect(abs(l.frequency! - active[l.index] / n) < 1e-12) }
        #expect(report.dataTokens == Int(n))
        if let silent { #expect(!c.byEffect.contains { $0.index == silent } && c.up.first?.index == silent) }
        let listed = c.byEffect.filter { $0.frequency! > 0 }
        #expect(!listed.isEmpty && listed.allSatisfy { !$0.examples.isEmpty && $0.examples.allSatisfy { $0.activation > 0 } })
        #expect(listed.allSatisfy { $0.examples.allSatisfy { e in AuditFixture.rows[e.row][e.position] != 999 } })   // BOS never an example centre
    }

    @Test("files: audit.md/json/html written atomically; the HTML is self-contained (only Neuronpedia links) and escapes labels")
    func files() throws {
        let dir = try AuditFixture.folder("files")
        let adapter = try AuditFixture.adapter(kind: .bias, values: Self.values, in: dir)
        let labels = LatentLabels([LatentExplanation(index: 100, description: "<script>alert(1)</script>")])
        let report = try Audit.run(adapter: adapter, sae: AuditFixture.sae, model: AuditFixture.model,
                                   data: AuditData(rows: AuditFixture.rows, description: "rows"), labels: labels)
        let out = dir.deletingLastPathComponent().appendingPathComponent("report")
        let html = try report.write(to: out)
        let names = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(names == ["audit.html", "audit.json", "audit.md"])
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(!page.contains("<script") && page.contains("&lt;script&gt;"))
        #expect(!page.lowercased().contains("src="))
        let hrefs = page.components(separatedBy: "href=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(!hrefs.isEmpty && hrefs.allSatisfy { $0.hasPrefix("https://www.neuronpedia.org/") })
        #expect(!page.contains("http://") && !page.contains("url(") && !page.contains("@import"))
        #expect(page.contains("<svg") && page.contains("<polyline"))   // trajectories and the training curve
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("audit.json"))) as! [String: Any]
        let comp = (json["components"] as! [[String: Any]])[0]
        #expect(((comp["up"] as! [[String: Any]])[0]["index"] as? Int) == 100)
        #expect((json["records"] as! [Any]).count == 4)
        let md = try String(contentsOf: out.appendingPathComponent("audit.md"), encoding: .utf8)
        #expect(md.contains("| 1 | [100](https://www.neuronpedia.org/tiny-a/0-res-test/100) |"))
    }

    @Test("mlp: value = mean δ_i over the data with δ = F(f); a zero last layer moves nothing")
    func mlpZero() throws {
        let dir = try AuditFixture.folder("mlp")
        let comp = AdapterComponent(hookName: AuditFixture.hook, kind: .mlp, depth: 1, hiddenSize: 4, sae: AdapterSAE(dIn: 64, dSAE: 128))
        let config = AdapterConfig(baseModelNameOrPath: "tiny", components: [comp])
        var rng = SplitMix64(seed: 5)
        var tensors: [String: Tensor] = [:]
        for (name, shape) in try config.tensorShapes() {
            let zero = name.contains(".mlp.1.")
            tensors[name] = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in zero ? 0 : rng.nextNormal() })
        }
        tensors["\(AuditFixture.hook).mlp.1.bias"]!.scalars[9] = 0.25   // F(f)_9 = 0.25 everywhere
        try AdapterFolder.write(to: dir, config: config, tensors: tensors)
        let report = try Audit.run(adapter: try AdapterFolder.read(from: dir), sae: AuditFixture.sae, model: AuditFixture.model,
                                   data: AuditData(rows: AuditFixture.rows, description: "rows"))
        let c = report.components[0]
        #expect(c.up.map(\.index) == [9] && c.down.isEmpty && c.byEffect.map(\.index) == [9])
        #expect(abs(c.up[0].value - 0.25) < 1e-7 && abs(c.up[0].meanAbsChange! - 0.25) < 1e-7)
    }
}
