import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// The Jacobian of x̂ = decode(encode(x)) against PyTorch autograd through SAELens, and through a
/// spliced SAE inside a model.
@Suite("SAE backward")
struct SAEBackwardTests {
    /// `gradient.safetensors` (scripts/make_sae_fixtures.py): `x_grad` = d/dx Σ sae(x)·g by torch
    /// autograd, SAELens 6.54.12, fp32. Only summation order differs; bound 1e-5 relative to the
    /// largest |x_grad| of the fixture (plus 1e-5 of each element).
    @Test("Jᵀg matches torch autograd through SAELens", arguments: SAEFixture.all)
    func autograd(name: String) throws {
        let sae = try SAEFixture.load(name)
        let x = try SAEFixture.reference(name).tensor("x")
        let grad = try SafeTensorsFile(url: SAEFixture.root.appendingPathComponent(name).appendingPathComponent("gradient.safetensors"))
        let g = try grad.tensor("g"), want = try grad.tensor("x_grad")
        let got = try sae.reconstructionVJP(x, upstream: g)
        let scale = Double(want.scalars.map { abs($0) }.max()!)
        let c = compare(got, want, atol: 1e-5 * scale, rtol: 1e-5)
        #expect(c.passed, "\(name): \(c)")
        print("SAE backward \(name): max |Δ| \(c.maxAbs) = \(c.maxAbs / scale) of max |x_grad| \(scale)")
    }

    /// The reconstruction `reconstructWithPullback` returns is `reconstruct`'s, bit for bit.
    @Test("the pullback's forward equals reconstruct", arguments: SAEFixture.all)
    func forwardUnchanged(name: String) throws {
        let sae = try SAEFixture.load(name)
        let x = try SAEFixture.reference(name).tensor("x")
        #expect(try sae.reconstructWithPullback(x).reconstruction == sae.reconstruct(x))
    }

    /// Continuous SAEs (ReLU, layer_norm, hook_z) spliced without the error term into tiny_a: the
    /// gradient at blocks.0.hook_resid_pre against central differences of the mean next-token loss
    /// (fp32 forward, difference in Double, step 3e-3, the 8 largest coordinates). Loss rounding
    /// (~5e-7) gives ~1e-4 of noise; a ReLU crossing inside the step moves one latent's share
    /// only: bound 2e-4 + 3e-2·|g|.
    @Test("a spliced SAE's gradient matches finite differences", arguments: ["standard", "standard_bdec", "layer_norm", "hook_z"])
    func splicedFiniteDifferences(name: String) throws {
        let model = SAESpliceTests.tinyA
        let sae = try SAEFixture.load(name)
        let batch = TokenBatch([5, 17, 3, 88, 41, 2, 60, 9, 33, 70])
        var hooks = HookSet()
        try sae.splice(into: &hooks, keepError: false)
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let (_, dLogits) = nextTokenLoss(logits: out.logits!, batch: batch)
        let analytic = try model.backward(out.activations!, dLogits: dLogits, to: [.residPre(0)]).hookGradients[.residPre(0)]!
        func loss(bump i: Int, by h: Float) throws -> Double {
            var hs = HookSet()
            hs.edit(.residPre(0)) { v, _ in v.scalars[i] += h }
            try sae.splice(into: &hs, keepError: false)
            return nextTokenLoss(logits: try model.forward(batch, options: ForwardOptions(hooks: hs)).logits!, batch: batch).loss
        }
        var worst = 0.0
        for i in analytic.scalars.indices.sorted(by: { abs(analytic.scalars[$0]) > abs(analytic.scalars[$1]) }).prefix(8) {
            let step: Float = 3e-3
            let numeric = (try loss(bump: i, by: step) - loss(bump: i, by: -step)) / (2 * Double(step))
            let a = Double(analytic.scalars[i])
            worst = max(worst, abs(numeric - a) / abs(numeric))
            #expect(abs(numeric - a) <= 2e-4 + 3e-2 * abs(numeric), "\(name) coordinate \(i): analytic \(a), numeric \(numeric)")
        }
        print("spliced SAE \(name): worst relative error vs finite differences \(worst)")
    }

    /// With the error term the hook's value is x itself, and the gradient below the hook is Jᵀ·g of
    /// the gradient g at the hook (SAELens' use_error_term=True computes the error under no_grad).
    /// Same code on the same rows: bit for bit.
    @Test("with the error term the gradient below the hook is Jᵀg", arguments: ["standard", "jumprelu", "gated", "topk"])
    func errorTermGradient(name: String) throws {
        let model = SAESpliceTests.tinyA
        let sae = try SAEFixture.load(name)
        let hook = try sae.hookPoint()
        switch hook {
        case .residPost(let l): try check(sae, hook, below: .mlpOut(l), model: model)
        case .mlpOut(let l): try check(sae, hook, below: .mlpPost(l), model: model)
        default: Issue.record("\(name): unexpected hook \(hook)")
        }
    }

    /// `below` receives the gradient of the spliced hook's pre-edit value through one linear identity
    /// (resid_post → mlp_out) or through W_out (mlp_out → mlp.hook_post).
    func check(_ sae: SparseAutoencoder, _ hook: HookPoint, below: HookPoint, model: GPT2Model) throws {
        let batch = TokenBatch([5, 17, 3, 88, 41, 2, 60, 9, 33, 70])
        var hooks = HookSet(capture: [hook])
        try sae.splice(into: &hooks, keepError: true)
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let clean = try model.forward(batch, options: ForwardOptions(hooks: HookSet(capture: [hook])))
        #expect(out.captured[hook]! == clean.captured[hook]!, "the error term keeps the value")
        #expect(out.logits! == clean.logits!)
        let (_, dLogits) = nextTokenLoss(logits: out.logits!, batch: batch)
        let grads = try model.backward(out.activations!, dLogits: dLogits, to: [hook, below])
        let jtg = try sae.reconstructionVJP(clean.captured[hook]!, upstream: grads.hookGradients[hook]!)
        if case .residPost = hook {
            #expect(grads.hookGradients[below]!.scalars == jtg.scalars)
        } else {
            // mlp_out = post·W_out + b: d post = d mlp_out · W_outᵀ.
            let l = hook.layer!, w = model.weights.blocks[l].mlpProjWeight
            let (n, d) = (jtg.count / sae.dIn, sae.dIn)
            var want = Tensor(shape: [n, w.shape[0]])
            matmulTransposedB(jtg.reshaped([n, d]), w, into: &want)
            let c = compare(grads.hookGradients[below]!.reshaped([n, w.shape[0]]), want, atol: 1e-6, rtol: 1e-5)
            #expect(c.passed, "\(c)")
        }
        // And it is not the clean model's gradient (the Jacobian matters).
        let cleanRetained = try model.forward(batch, options: ForwardOptions(retainForBackward: true))
        let cleanGrad = try model.backward(cleanRetained.activations!, dLogits: dLogits, to: [below]).hookGradients[below]!
        #expect(cleanGrad.scalars != grads.hookGradients[below]!.scalars)
    }
}
