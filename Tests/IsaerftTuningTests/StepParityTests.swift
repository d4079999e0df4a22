import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import IsaerftTuning
import Testing

/// `fixtures/tuning` (scripts/make_tuning_fixtures.py, TRL 1.16.0): one SGD step of a component on
/// `fixtures/gpt2/tiny_a` at `blocks.0.hook_resid_post`, through the generic path — full forward with
/// the installed intervention, sequence log-probs, objective, d logits, model backward to the hook,
/// intervention backward, SGD — against torch autograd through TRL's own loss code.
@Suite("ISaeRFT step parity with TRL")
struct StepParityTests {
    struct Case: Decodable {
        var name: String, sae: String, component: String, objective: String, `init`: String
        var spec: ComponentSpec
        var loss: Double
        var metrics: [String: Double]
        var parameters: Int
    }
    struct Pair: Decodable { var prompt: [Int], chosen: [Int], rejected: [Int] }
    struct SFTRow: Decodable { var prompt: [Int], completion: [Int] }
    struct Meta: Decodable {
        var lr: Double, beta: Double, simpo_gamma: Double, cpo_alpha: Double, pad: Int
        var pairs: [Pair], sft: [SFTRow], cases: [Case]
    }

    static let root = SharedData.fixturesRoot.appendingPathComponent("tuning")
    static let meta: Meta = try! JSONDecoder().decode(Meta.self, from: Data(contentsOf: root.appendingPathComponent("cases.json")))
    static let tensors: SafeTensorsFile = try! SafeTensorsFile(url: root.appendingPathComponent("cases.safetensors"))
    static let model: GPT2Model = try! GPT2Model.load(folder: SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a"))
    static let saes: [String: SparseAutoencoder] = [
        "sae_jumprelu": try! SparseAutoencoder.load(folder: root.appendingPathComponent("sae_jumprelu")),
        "sae_layernorm": try! SparseAutoencoder.load(folder: root.appendingPathComponent("sae_layernorm")),
    ]
    static var caseNames: [String] { meta.cases.map(\.name) }

    /// The batch, scoring and objective of one fixture objective, as the trainer would build them.
    static func setUp(_ objective: String) -> (batch: TokenBatch, scoring: SequenceScoring, objective: Objective, prompts: [Int], lengths: [Int]) {
        let beta = meta.beta
        if objective == "sft" {
            let rows = meta.sft.map { $0.prompt + $0.completion }
            let batch = TokenBatch.padded(rows, pad: meta.pad)
            let prompts = meta.sft.map(\.prompt.count)
            return (batch, SequenceScoring(batch: batch, promptLengths: prompts), .sft, prompts, rows.map(\.count))
        }
        let rows = meta.pairs.map { $0.prompt + $0.chosen } + meta.pairs.map { $0.prompt + $0.rejected }
        let prompts = (meta.pairs + meta.pairs).map(\.prompt.count)
        let batch = TokenBatch.padded(rows, pad: meta.pad)
        let loss = SequenceScoring.completionMask(batch, promptLengths: prompts)
        let obj: Objective
        var nll: [[Bool]]? = nil
        switch objective {
        case "dpo": obj = .dpo(beta: beta)
        case "ipo": obj = .ipo(beta: beta)
        case "hinge": obj = .hinge(beta: beta)
        case "orpo": obj = .orpo(beta: beta); nll = SequenceScoring.realTokenMask(batch, rows: 0..<meta.pairs.count)
        default: obj = .simpo(beta: beta, gamma: meta.simpo_gamma, cpoAlpha: meta.cpo_alpha)
        }
        return (batch, SequenceScoring(batch: batch, lossMask: loss, nllMask: nll), obj, prompts, rows.map(\.count))
    }

    /// One step through the generic path: returns loss, metrics, gradients and parameters after SGD.
    static func step(_ c: Case, parameters: [Tensor]) throws -> (ObjectiveResult, [Tensor], [Tensor]) {
        let sae = saes[c.sae]!
        let (batch, scoring, objective, prompts, lengths) = setUp(c.objective)
        let component = try LatentComponent(spec: c.spec, latentCount: sae.dSAE, parameters: parameters)
        let intervention = try LatentIntervention(sae: sae, component: component)
        let rowMask = c.spec.positions == .all ? nil : c.spec.positions.rowMask(promptLengths: prompts, realLengths: lengths, length: batch.length)

        var reference: SequenceLogProbs? = nil
        if objective.needsReference {   // the same model with the component off
            let base = try model.forward(batch, options: ForwardOptions(logits: scoring.logitsRequest))
            reference = scoring.logProbs(logits: base.logits!)
        }
        var hooks = HookSet()
        let recorder = InterventionRecorder()
        intervention.install(into: &hooks, recorder: recorder, rowMask: rowMask)
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, logits: scoring.logitsRequest, retainForBackward: true))
        let scores = scoring.logProbs(logits: out.logits!)
        let input = objective.isPreference ? ObjectiveInput(stacked: scores, reference: reference) : ObjectiveInput(chosen: scores)
        let result = try objective.evaluate(input)
        let dLogits = objective.isPreference
            ? scoring.backward(logits: out.logits!, dSums: result.stackedSums, dNLLSums: result.stackedNLLSums)
            : scoring.backward(logits: out.logits!, dSums: result.dChosenSums)
        let back = try model.backward(out.activations!, dLogits: dLogits, to: [intervention.hook])
        let grads = try intervention.backward(hookGradient: back.hookGradients[intervention.hook]!, recorder: recorder)
        let lr = Float(meta.lr)
        let after = zip(parameters, grads).map { p, g in Tensor(shape: p.shape, scalars: zip(p.scalars, g.scalars).map { $0 - lr * $1 }) }
        return (result, grads, after)
    }

    @Test("one SGD step equals torch + TRL within 1e-5", arguments: caseNames)
    func stepParity(name: String) throws {
        let c = Self.meta.cases.first { $0.name == name }!
        let before = try (0..<c.parameters).map { try Self.tensors.tensor("\(name)/before.\($0)") }
        if c.`init` == "identity" {   // the fixture's identity init is Swift's, bit for bit
            let fresh = try LatentComponent(spec: c.spec, latentCount: Self.saes[c.sae]!.dSAE, seed: 0)
            #expect(fresh.parameters == before, "\(name): identity init differs from LatentComponent(spec:latentCount:seed: 0)")
            #expect(fresh.isIdentity)
        }
        let (result, grads, after) = try Self.step(c, parameters: before)
        var worstGrad = 0.0, worstAfter = 0.0
        for i in 0..<c.parameters {
            let g = compare(grads[i], try Self.tensors.tensor("\(name)/grad.\(i)"), atol: 1e-5)
            let a = compare(after[i], try Self.tensors.tensor("\(name)/after.\(i)"), atol: 1e-5)
            worstGrad = max(worstGrad, g.maxAbs); worstAfter = max(worstAfter, a.maxAbs)
            #expect(g.passed, "\(name) gradient \(i): \(g)")
            #expect(a.passed, "\(name) parameters after the step \(i): \(a)")
        }
        #expect(abs(result.loss - c.loss) <= 1e-5 * max(1, abs(c.loss)), "\(name): loss \(result.loss), TRL \(c.loss)")
        var worstMetric = 0.0
        for (k, want) in c.metrics {
            guard let got = result.metrics[k] else { Issue.record("\(name): metric \(k) missing"); continue }
            let err = abs(got - want)
            worstMetric = max(worstMetric, err / max(1, abs(want)))
            #expect(err <= 2e-5 * max(1, abs(want)), "\(name): metric \(k) = \(got), TRL \(want)")
        }
        print("step parity \(name): worst |Δgrad| \(worstGrad), |Δparam| \(worstAfter), |Δloss| \(abs(result.loss - c.loss)), metric rel \(worstMetric)")
    }

    @Test("components off: logits equal the base model's bit for bit; fresh components within 1e-6")
    func offAndFresh() throws {
        let (batch, _, _, _, _) = Self.setUp("dpo")
        let base = try Self.model.forward(batch).logits!
        let torchBase = try Self.tensors.tensor("batch/base_logits")
        // Real positions only: padding positions' outputs differ by convention and are never scored.
        let V = base.shape[2], T = batch.length
        var got: [Float] = [], want: [Float] = []
        for b in 0..<batch.batch { for t in 0..<T where batch.mask?[b][t] ?? true {
            got += base.scalars[((b * T + t) * V)..<((b * T + t + 1) * V)]
            want += torchBase.scalars[((b * T + t) * V)..<((b * T + t + 1) * V)]
        } }
        let vsTorch = compare(got, want, atol: 1e-4, rtol: 0)
        #expect(vsTorch.passed, "base logits against transformers: \(vsTorch)")
        print("base logits against transformers (real positions): max |Δ| \(vsTorch.maxAbs)")
        let sae = Self.saes["sae_jumprelu"]!
        for spec in [ComponentSpec.scale(), .scale(.abs), .bias(), .bias(activeOnly: true), .mlp(depth: 1, hiddenSize: 16), .mlp(depth: 0), .mlp(depth: -1)] {
            var intervention = try LatentIntervention(sae: sae, spec: spec, seed: 3)
            var hooks = HookSet()
            let recorder = InterventionRecorder()
            intervention.install(into: &hooks, recorder: recorder)
            let fresh = try Self.model.forward(batch, options: ForwardOptions(hooks: hooks)).logits!
            let r = compare(fresh, base, atol: 1e-6)
            #expect(r.passed, "\(spec.kind) fresh: \(r)")
            #expect(recorder.records.count == 1)
            intervention.component.isEnabled = false
            intervention.component.parameters = intervention.component.parameters.map { Tensor.randomNormal($0.shape, std: 0.5, seed: 9) }
            var offHooks = HookSet()
            intervention.install(into: &offHooks, recorder: recorder)
            let off = try Self.model.forward(batch, options: ForwardOptions(hooks: offHooks)).logits!
            #expect(off.scalars.elementsEqual(base.scalars) { $0.bitPattern == $1.bitPattern }, "\(spec.kind) off: not bitwise")
        }
    }
}
