import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftTestSupport
import Testing

/// A gradient-aware edit site: edits at `edit`, gradient checked at the earlier hook `grad`.
struct GradientEditCase: CustomStringConvertible, Sendable {
    let family: String, edit: HookPoint, grad: HookPoint
    var description: String { "\(family): edits at \(edit), gradient at \(grad)" }
}

let gradientEditCases = [
    GradientEditCase(family: "gpt2/tiny_a", edit: .residPost(0), grad: .residPre(0)),
    GradientEditCase(family: "gpt2/tiny_a", edit: .attnV(1), grad: .residMid(0)),
    GradientEditCase(family: "llama/gemma3_f", edit: .attnZ(2), grad: .residPre(2)),
    GradientEditCase(family: "llama/gemma3_f", edit: .mlpPost(4), grad: .residPre(3)),
]

/// Two non-commuting edits with their VJPs: `v ← v + ½·tanh(v)`, then `v ← v·M` over the last
/// axis (M = I + 0.15·N(0,1)/√n, seeded). Applying the VJPs in the wrong order changes the result.
func addNonlinearEdits(_ hooks: inout HookSet, at h: HookPoint) {
    hooks.editWithGradient(h, { v, _ in
        let input = v
        for i in 0..<v.count { v.scalars[i] += 0.5 * Foundation.tanh(input.scalars[i]) }
        return { g in
            for i in 0..<g.count { let t = Foundation.tanh(input.scalars[i]); g.scalars[i] *= 1 + 0.5 * (1 - t * t) }
        }
    })
    hooks.editWithGradient(h, { v, _ in
        let n = v.shape.last!, rows = v.count / n, m = mixingMatrix(n)
        let input = v
        for r in 0..<rows { for j in 0..<n {
            var s: Float = 0
            for k in 0..<n { s += input.scalars[r * n + k] * m[k * n + j] }
            v.scalars[r * n + j] = s
        } }
        return { g in
            let up = g
            for r in 0..<rows { for k in 0..<n {
                var s: Float = 0
                for j in 0..<n { s += up.scalars[r * n + j] * m[k * n + j] }
                g.scalars[r * n + k] = s
            } }
        }
    })
}

func mixingMatrix(_ n: Int) -> [Float] {
    var rng = SplitMix64(seed: UInt64(1000 + n))
    return (0..<(n * n)).map { i in
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12), u2 = Double(rng.next() >> 11) / Double(1 << 53)
        let z = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
        return Float((i / n == i % n ? 1 : 0) + 0.15 * z / Double(n).squareRoot())
    }
}

@Suite("Gradient-aware hook edits")
struct GradientEditTests {
    func load(_ family: String) throws -> (any HookedLanguageModel, TokenBatch) {
        if family.hasPrefix("gpt2/") {
            let f = try GPT2Fixture(String(family.dropFirst(5)))
            return (f.model, TokenBatch(ids: try f.ids("single.input_ids")))
        }
        let f = try DecoderFixture(String(family.dropFirst(6)))
        return (f.model, TokenBatch(ids: try f.ids("single.input_ids")))
    }

    /// Central differences of the mean next-token loss (fp32 forward, difference in Double) with
    /// step 1e-2 on the 8 coordinates of the largest analytic gradient. Loss rounding (~5e-7) over
    /// 2·step gives ~3e-5 of noise and the O(step²) truncation a few 1e-5: bound 1e-4 + 3e-2·|g|.
    @Test("backward through gradient-aware edits matches finite differences", arguments: gradientEditCases)
    func finiteDifferences(c: GradientEditCase) throws {
        let (model, batch) = try load(c.family)
        var hooks = HookSet()
        addNonlinearEdits(&hooks, at: c.edit)
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let (_, dLogits) = nextTokenLoss(logits: out.logits!, batch: batch)
        let g = try model.backward(out.activations!, dLogits: dLogits, to: [c.grad, c.edit])
        let analytic = g.hookGradients[c.grad]!
        func loss(bump i: Int, by h: Float) throws -> Double {
            var hs = HookSet()
            hs.edit(c.grad) { v, _ in v.scalars[i] += h }
            addNonlinearEdits(&hs, at: c.edit)
            return nextTokenLoss(logits: try model.forward(batch, options: ForwardOptions(hooks: hs)).logits!, batch: batch).loss
        }
        let coords = analytic.scalars.indices.sorted { abs(analytic.scalars[$0]) > abs(analytic.scalars[$1]) }.prefix(8)
        var worst = 0.0
        for i in coords {
            let step: Float = 1e-2
            let numeric = (try loss(bump: i, by: step) - loss(bump: i, by: -step)) / (2 * Double(step))
            let a = Double(analytic.scalars[i])
            worst = max(worst, abs(numeric - a) / max(abs(numeric), 1e-12))
            #expect(abs(numeric - a) <= 1e-4 + 3e-2 * abs(numeric), "\(c) coordinate \(i): analytic \(a), numeric \(numeric)")
        }
        #expect(worst < 3e-2, "\(c): worst relative error \(worst)")
        print("gradient-edit FD \(c): worst relative error \(worst)")
    }

    /// The gradient reported at the edited hook is with respect to the value after the edits: with
    /// no edits at `blocks.1.hook_resid_pre`, it equals the gradient at `blocks.0.hook_resid_post`.
    @Test("the edited hook's gradient is taken after its edits")
    func gradientAfterEdits() throws {
        let (model, batch) = try load("gpt2/tiny_a")
        var hooks = HookSet()
        addNonlinearEdits(&hooks, at: .residPost(0))
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let (_, dLogits) = nextTokenLoss(logits: out.logits!, batch: batch)
        let g = try model.backward(out.activations!, dLogits: dLogits, to: [.residPost(0), .residPre(1)])
        #expect(g.hookGradients[.residPost(0)]!.scalars == g.hookGradients[.residPre(1)]!.scalars)
    }

    /// Plain edits stay the identity: an additive plain edit leaves every gradient unchanged bit for bit.
    @Test("plain edits count as the identity", arguments: ["gpt2/tiny_a", "llama/gemma3_f"])
    func plainEditsIdentity(family: String) throws {
        let (model, batch) = try load(family)
        let base = try model.forward(batch, options: ForwardOptions(retainForBackward: true))
        let (_, dLogits) = nextTokenLoss(logits: base.logits!, batch: batch)
        let want = try model.backward(base.activations!, dLogits: dLogits, to: [.residPre(0)])
        var hooks = HookSet()
        hooks.edit(.residPost(0)) { v, _ in for i in 0..<v.count { v.scalars[i] *= 1 } }
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let got = try model.backward(out.activations!, dLogits: dLogits, to: [.residPre(0)])
        #expect(got.hookGradients[.residPre(0)]!.scalars == want.hookGradients[.residPre(0)]!.scalars)
    }

    @Test("a gradient-aware edit where backward has no gradient is refused")
    func unsupportedHook() throws {
        let (model, batch) = try load("gpt2/tiny_a")
        var hooks = HookSet()
        hooks.editWithGradient(.attnScores(0), { _, _ in { _ in } })
        let out = try model.forward(batch, options: ForwardOptions(hooks: hooks, retainForBackward: true))
        let (_, dLogits) = nextTokenLoss(logits: out.logits!, batch: batch)
        #expect(throws: ModelError.gradientEditUnsupported("blocks.0.attn.hook_attn_scores")) {
            try model.backward(out.activations!, dLogits: dLogits, to: [.residPre(0)])
        }
    }
}
