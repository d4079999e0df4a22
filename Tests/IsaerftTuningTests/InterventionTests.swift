import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import IsaerftTuning
import Testing

/// `x' = x + δ·W_dec` (with output de-normalisation) against SAELens' two-decode form, exactness
/// when off, finite-difference backward, and the TransformerLens-shaped installation.
@Suite("Latent interventions")
struct InterventionTests {
    static func fixtureSAE(_ name: String) throws -> (SparseAutoencoder, Tensor) {
        let url = SharedData.fixturesRoot.appendingPathComponent("sae/\(name)")
        let x = try SafeTensorsFile(url: url.appendingPathComponent("reference.safetensors")).tensor("x")
        return (try SparseAutoencoder.load(folder: url), x.reshaped([x.count / 64, 64]))
    }

    static func randomized(_ c: LatentComponent, seed: UInt64) -> LatentComponent {
        var c = c
        c.parameters = c.parameters.enumerated().map { i, p in Tensor.randomNormal(p.shape, std: 0.3, seed: seed + UInt64(i)) }
        return c
    }

    static let saeNames = ["standard", "jumprelu", "layer_norm", "constant_norm", "topk_rescale", "gated"]
    static let specs: [ComponentSpec] = [.scale(), .bias(), .bias(activeOnly: true), .mlp(depth: 1, hiddenSize: 8)]

    @Test("x' = x̂(φ(f)) + (x − x̂(f)) (SAELens' splice) for every normalisation", arguments: saeNames, specs.indices)
    func matchesTwoDecodeForm(sae name: String, spec index: Int) throws {
        let (sae, x) = try Self.fixtureSAE(name)
        let n = x.matrixShape.rows
        let comp = Self.randomized(try LatentComponent(spec: Self.specs[index], latentCount: sae.dSAE, seed: 1), seed: 20)
        let intervention = try LatentIntervention(sae: sae, hook: .residPost(0), component: comp)
        let mask = (0..<n).map { $0 % 3 != 1 }
        let (out, _) = intervention.forward(rows: x, rowMask: mask)
        let (f, stats) = try sae.encodeWithStatistics(x)
        let (delta, _) = comp.forward(f, rowMask: mask)
        var phi = f
        let dd = delta.dense(rowCount: n, width: sae.dSAE)
        for i in 0..<phi.count { phi.scalars[i] += dd.scalars[i] }
        let y1 = sae.decode(phi, statistics: stats), y0 = sae.decode(f, statistics: stats)
        var want = x
        for i in 0..<want.count { want.scalars[i] = Float(Double(y1.scalars[i]) + (Double(x.scalars[i]) - Double(y0.scalars[i]))) }
        let scale = Double(x.scalars.map { abs($0) }.max()!)
        let r = compare(out, want, atol: 2e-5 * max(1, scale))
        #expect(r.passed, "\(name) \(Self.specs[index].kind): \(r)")
        for row in 0..<n where !mask[row] {
            #expect(out.scalars[(row * 64)..<(row * 64 + 64)].elementsEqual(x.scalars[(row * 64)..<(row * 64 + 64)]), "masked row \(row) changed")
        }
    }

    @Test("off or zero: x' is x bit for bit", arguments: specs.indices)
    func exactWhenOffOrZero(_ index: Int) throws {
        let (sae, x) = try Self.fixtureSAE("jumprelu")
        var comp = try LatentComponent(spec: Self.specs[index], latentCount: sae.dSAE, seed: 4)
        let fresh = try LatentIntervention(sae: sae, hook: .residPost(1), component: comp)
        #expect(fresh.forward(rows: x).output.scalars.elementsEqual(x.scalars) { $0.bitPattern == $1.bitPattern })
        comp = Self.randomized(comp, seed: 3)
        comp.isEnabled = false
        let off = try LatentIntervention(sae: sae, hook: .residPost(1), component: comp)
        #expect(off.forward(rows: x).output.scalars.elementsEqual(x.scalars) { $0.bitPattern == $1.bitPattern })
    }

    /// loss = Σ x' ⊙ G; gradients of every parameter against central differences.
    @Test("backward matches finite differences", arguments: ["jumprelu", "layer_norm", "constant_norm", "topk_rescale"], specs.indices)
    func finiteDifferences(sae name: String, spec index: Int) throws {
        let (sae, x) = try Self.fixtureSAE(name)
        let n = x.matrixShape.rows
        var iv = try LatentIntervention(sae: sae, hook: .residPost(0),
                                        component: Self.randomized(try LatentComponent(spec: Self.specs[index], latentCount: sae.dSAE, seed: 1), seed: 7))
        let mask = (0..<n).map { $0 != 0 }
        let g = Tensor.randomNormal([n, 64], std: 1, seed: 8)
        func loss(_ v: LatentIntervention) -> Double {
            let o = v.forward(rows: x, rowMask: mask).output
            var s = 0.0
            for i in 0..<o.count { s += (Double(o.scalars[i]) - Double(x.scalars[i])) * Double(g.scalars[i]) }
            return s
        }
        let (_, cache) = iv.forward(rows: x, rowMask: mask)
        let grads = iv.backward(dOutput: g, cache: cache)
        var worst = 0.0
        for p in 0..<iv.component.parameters.count {
            let count = iv.component.parameters[p].count
            for i in stride(from: 0, to: count, by: max(1, count / 40)) {
                let h: Float = 1e-2
                let keep = iv.component.parameters[p].scalars[i]
                iv.component.parameters[p].scalars[i] = keep + h
                let up = loss(iv)
                iv.component.parameters[p].scalars[i] = keep - h
                let down = loss(iv)
                iv.component.parameters[p].scalars[i] = keep
                let fd = (up - down) / Double(2 * h)
                let err = abs(fd - Double(grads[p].scalars[i]))
                worst = max(worst, err / max(1, abs(fd)))
                #expect(err <= 5e-3 * max(1, abs(fd)), "\(name) \(Self.specs[index].kind) p\(p)[\(i)]: backward \(grads[p].scalars[i]), FD \(fd)")
            }
        }
        print("intervention \(name) \(Self.specs[index].kind): worst relative FD error \(worst)")
    }

    @Test("installed at hook_z with a head index: edits one head's slice, backward reads the same slice")
    func hookZHead() throws {
        let model = try GPT2Model.load(folder: SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a"))
        let meta = JSONValue.object([("model_name", .string("isaerft/tiny_a")), ("hook_name", .string("blocks.0.attn.hook_z")),
                                     ("hook_head_index", .int(2))])
        let config = SAEConfig(architecture: .standard, dIn: 16, dSAE: 24, metadata: meta)
        let w = SAEWeights(wEnc: .randomNormal([16, 24], std: 0.5, seed: 1), bEnc: .randomNormal([24], std: 0.1, seed: 2),
                           wDec: .randomNormal([24, 16], std: 0.3, seed: 3), bDec: .randomNormal([16], std: 0.1, seed: 4))
        let sae = try SparseAutoencoder(config: config, weights: w)
        let iv = try LatentIntervention(sae: sae, component: Self.randomized(try LatentComponent(spec: .scale(), latentCount: 24), seed: 9))
        #expect(iv.hook == .attnZ(0))
        let batch = TokenBatch(ids: [[5, 17, 3, 88, 41], [2, 60, 9, 33, 70]])
        let plain = try model.forward(batch, options: ForwardOptions(hooks: HookSet(capture: [.attnZ(0)]), logits: .none)).captured[.attnZ(0)]!
        var hooks = HookSet(capture: [.attnZ(0)])
        let recorder = InterventionRecorder()
        iv.install(into: &hooks, recorder: recorder)
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let edited = out.captured[.attnZ(0)]!
        #expect(edited.shape == [2, 5, 4, 16])
        var rows = Tensor(shape: [10, 16])
        for r in 0..<10 { for j in 0..<16 { rows.scalars[r * 16 + j] = plain.scalars[(r * 4 + 2) * 16 + j] } }
        let want = iv.forward(rows: rows).output
        for r in 0..<10 { for h in 0..<4 { for j in 0..<16 {
            let v = edited.scalars[(r * 4 + h) * 16 + j]
            #expect(v == (h == 2 ? want.scalars[r * 16 + j] : plain.scalars[(r * 4 + h) * 16 + j]))
        } } }
        let g = Tensor.randomNormal([2, 5, 4, 16], std: 1, seed: 5)
        let grads = try iv.backward(hookGradient: g, recorder: recorder)
        var gRows = Tensor(shape: [10, 16])
        for r in 0..<10 { for j in 0..<16 { gRows.scalars[r * 16 + j] = g.scalars[(r * 4 + 2) * 16 + j] } }
        #expect(grads == iv.backward(dOutput: gRows, cache: recorder.last!.cache))
        #expect(throws: ComponentError.self) { try iv.backward(hookGradient: g, recorder: InterventionRecorder()) }
    }
}
