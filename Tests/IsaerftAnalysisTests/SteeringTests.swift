import Foundation
import IsaerftAnalysis
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// Steering against TransformerLens' hook recipe (`fixtures/analysis`, tiny_a + `sae/standard`).
/// Tolerance: fp32 vs PyTorch fp32 through two blocks, summation order only; observed ≤ 4.1e-6
/// (full passes and generation logits), bound 1e-4.
@Suite("Steering")
struct SteeringTests {
    let model = AnalysisFixture.tinyA
    let sae = AnalysisFixture.standardSAE

    static func ints(_ v: JSONValue?) -> [Int] {
        guard case .array(let a)? = v else { return [] }
        return a.compactMap(\.intValue)
    }

    @Test("full-pass logits equal run_with_hooks for add / clamp / ablate at resid hooks")
    func forwardParity() throws {
        let m = try AnalysisFixture.manifest(), ref = try AnalysisFixture.reference()
        let tokens = Self.ints(m["tokens"]), latent = m["latent"]!.intValue!, p = m["prompt_positions"]!.intValue!
        let coeff = Float(m["coefficient"]!.doubleValue!), clamp = Float(m["clamp_value"]!.doubleValue!)
        let cases: [(String, [SteeringIntervention])] = [
            ("clean", []),
            ("add_all_resid_post0", [SteeringIntervention(latent: latent, mode: .add(coefficient: coeff))]),
            ("add_prompt_resid_post0", [SteeringIntervention(latent: latent, mode: .add(coefficient: coeff), positions: .prompt)]),
            ("add_all_resid_pre1", [SteeringIntervention(latent: latent, mode: .add(coefficient: coeff), hook: .residPre(1))]),
            ("add_all_resid_mid1", [SteeringIntervention(latent: latent, mode: .add(coefficient: coeff), hook: .residMid(1))]),
            ("clamp_all", [SteeringIntervention(latent: latent, mode: .clamp(value: clamp, conditional: false))]),
            ("clamp_conditional", [SteeringIntervention(latent: latent, mode: .clamp(value: clamp, conditional: true))]),
            ("ablate_all", [SteeringIntervention(latent: latent, mode: .ablate)]),
        ]
        let clean = try ref.tensor("forward.clean")
        for (name, interventions) in cases {
            let got = try Steering.logits(model: model, sae: sae, ids: tokens, interventions: interventions, promptLength: p)
            let want = try ref.tensor("forward.\(name)")
            let c = compare(got, want, atol: 1e-4)
            #expect(c.passed, "\(name): \(c)")
            if name != "clean" { #expect(!compare(want, clean, atol: 1e-2).passed, "\(name) should change the logits") }
        }
    }

    @Test("KV-cache generation equals TransformerLens' full recompute for each position policy", arguments: SteeringPositions.allCases)
    func generationParity(positions: SteeringPositions) throws {
        let m = try AnalysisFixture.manifest(), ref = try AnalysisFixture.reference()
        let prompt = Self.ints(m["generate_prompt"]), steps = m["generate_steps"]!.intValue!
        let s = SteeringIntervention(latent: m["latent"]!.intValue!, mode: .add(coefficient: Float(m["coefficient"]!.doubleValue!)), positions: positions)
        let out = try Steering.generate(model: model, sae: sae, prompt: prompt, maxNewTokens: steps, interventions: [s], keepLogits: true)
        let wantIDs = try ref.tensor("generate.\(positions.rawValue).ids").scalars.map { Int($0) }
        #expect(out.ids == wantIDs)   // exact: every step's top-two gap ≥ 0.12 (manifest)
        let got = Tensor(shape: [steps, model.vocabularySize], scalars: out.stepLogits.flatMap { $0 })
        let c = compare(got, try ref.tensor("generate.\(positions.rawValue).logits"), atol: 1e-4)
        #expect(c.passed, "\(positions): \(c)")
    }

    /// The cached path sees one position per step; absolute positions must make it equal a full
    /// recompute of the whole sequence every step. Same kernels, different matrix shapes: observed
    /// ≤ 3.1e-6, bound 1e-5.
    @Test("steering with the KV cache equals a full recompute; positions behave as specified")
    func cacheVersusRecompute() throws {
        let prompt = [5, 17, 3, 88, 41, 2, 60, 9]
        var logits: [SteeringPositions: [[Float]]] = [:]
        for positions in SteeringPositions.allCases {
            for mode: SteeringMode in [.add(coefficient: 4), .clamp(value: 3, conditional: false)] {
                let s = SteeringIntervention(latent: 7, mode: mode, positions: positions)
                let cached = try Steering.generate(model: model, sae: sae, prompt: prompt, maxNewTokens: 6, interventions: [s], keepLogits: true)
                let full = try Steering.generate(model: model, sae: sae, prompt: prompt, maxNewTokens: 6, interventions: [s], keepLogits: true, useCache: false)
                #expect(cached.ids == full.ids, "\(positions) \(mode)")
                let c = compare(cached.stepLogits.flatMap { $0 }, full.stepLogits.flatMap { $0 }, atol: 1e-5, rtol: 0)
                #expect(c.passed, "\(positions) \(mode): \(c)")
                if case .add = mode { logits[positions] = cached.stepLogits }
            }
        }
        let clean = try Steering.generate(model: model, sae: sae, prompt: prompt, maxNewTokens: 6, interventions: [], keepLogits: true)
        // Step 0 is predicted from the prompt only: "generated" leaves it clean, "prompt" and "all" agree
        // on it. (Same computation in separate passes; 1e-5 allows for OpenBLAS under concurrent tests.)
        #expect(compare(logits[.generated]![0], clean.stepLogits[0], atol: 1e-5, rtol: 0).passed)
        #expect(compare(logits[.prompt]![0], logits[.all]![0], atol: 1e-5, rtol: 0).passed)
        #expect(!compare(logits[.prompt]![0], clean.stepLogits[0], atol: 1e-3, rtol: 0).passed)
        // Later steps differ between all three policies.
        for (a, b) in [(SteeringPositions.prompt, SteeringPositions.generated), (.prompt, .all), (.generated, .all)] {
            #expect(!compare(logits[a]![3], logits[b]![3], atol: 1e-3, rtol: 0).passed, "\(a) vs \(b)")
        }
    }

    /// The hook value just before and just after `intervention`'s edit, within one forward pass
    /// (two separate passes need not agree bitwise while other threads use OpenBLAS).
    func aroundEdit(_ intervention: SteeringIntervention, ids: [Int]) throws -> (before: Tensor, after: Tensor) {
        final class Box: @unchecked Sendable { var before = Tensor(shape: [0]), after = Tensor(shape: [0]) }
        let box = Box()
        var hooks = HookSet()
        hooks.edit(.residPost(0)) { v, _ in box.before = v }
        try intervention.install(into: &hooks, sae: sae, promptLength: ids.count)
        hooks.edit(.residPost(0)) { v, _ in box.after = v }
        _ = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks, logits: .none))
        return (box.before, box.after)
    }

    @Test("clamp keeps the error term: ablating a silent latent, clamping it conditionally, or clamping to the current value changes nothing")
    func clampIdentities() throws {
        let ids = [5, 17, 3, 88, 41, 2, 60, 9, 33, 70]
        let x = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: HookSet(capture: [.residPost(0)]))).captured[.residPost(0)]!
        let f = try sae.encode(x.reshaped([ids.count, 64]))
        let silent = try #require((0..<128).first { i in (0..<ids.count).allSatisfy { f.scalars[$0 * 128 + i] == 0 } })
        let conditional = try aroundEdit(SteeringIntervention(latent: silent, mode: .clamp(value: 5, conditional: true)), ids: ids)
        #expect(conditional.after == conditional.before)   // no row chosen: untouched
        // dec(f′) − dec(f) with f′ = f: zero up to the rounding of two identical products (observed 0).
        let ablated = try aroundEdit(SteeringIntervention(latent: silent, mode: .ablate), ids: ids)
        #expect(compare(ablated.after, ablated.before, atol: 1e-6).passed)
        // An active latent clamped to its value at token p: that token is unchanged up to rounding.
        let p = try #require((0..<ids.count).first { f.scalars[$0 * 128 + 7] > 0 })
        let same = try aroundEdit(SteeringIntervention(latent: 7, mode: .clamp(value: f.scalars[p * 128 + 7], conditional: true)), ids: ids)
        let row = (p * 64)..<((p + 1) * 64)
        #expect(compare(Array(same.after.scalars[row]), Array(same.before.scalars[row]), atol: 1e-5, rtol: 0).passed)
        let removed = try aroundEdit(SteeringIntervention(latent: 7, mode: .ablate), ids: ids)
        let want = (0..<64).map { j in removed.before.scalars[p * 64 + j] - f.scalars[p * 128 + 7] * sae.weights.wDec.scalars[7 * 64 + j] }
        #expect(compare(Array(removed.after.scalars[row]), want, atol: 1e-5, rtol: 0).passed)
    }

    @Test("a unit-norm direction scales the coefficient by 1/‖W_dec[i]‖")
    func normalizedDirection() throws {
        let ids = [5, 17, 3, 88]
        let norm = Float((0..<64).reduce(0.0) { $0 + Double(sae.weights.wDec.scalars[7 * 64 + $1]) * Double(sae.weights.wDec.scalars[7 * 64 + $1]) }.squareRoot())
        let a = try Steering.logits(model: model, sae: sae, ids: ids, interventions: [
            SteeringIntervention(latent: 7, mode: .add(coefficient: 3), normalizeDirection: true)])
        let b = try Steering.logits(model: model, sae: sae, ids: ids, interventions: [SteeringIntervention(latent: 7, mode: .add(coefficient: 3 / norm))])
        #expect(compare(a, b, atol: 1e-5).passed)
    }

    @Test("steering a hook_z SAE adds W_dec[i] to the flattened heads at the chosen positions")
    func hookZ() throws {
        let z = try AnalysisFixture.sae("hook_z")
        let ids = [5, 17, 3, 88]
        let hook = try z.hookPoint()
        let before = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: HookSet(capture: [hook]))).captured[hook]!
        var hooks = try Steering.hookSet(model: model, sae: z, interventions: [SteeringIntervention(latent: 3, mode: .add(coefficient: 2), positions: .prompt)], promptLength: 2)
        hooks.capture = [hook]
        let after = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks)).captured[hook]!
        let d = z.dIn
        for p in 0..<4 { for j in 0..<d {
            let want = before.scalars[p * d + j] + (p < 2 ? 2 * z.weights.wDec.scalars[3 * d + j] : 0)
            #expect(abs(after.scalars[p * d + j] - want) <= 1e-6, "position \(p) element \(j)")
        } }
    }

    @Test("bad inputs throw one-line errors")
    func errors() throws {
        #expect(throws: AnalysisError.latentOutOfRange(128, dSAE: 128)) {
            try Steering.generate(model: model, sae: sae, prompt: [1], maxNewTokens: 1, interventions: [SteeringIntervention(latent: 128, mode: .ablate)])
        }
        #expect(throws: AnalysisError.invalidInput("steering: the prompt is empty")) {
            try Steering.generate(model: model, sae: sae, prompt: [], maxNewTokens: 1, interventions: [])
        }
        #expect(throws: SAEError.self) {
            try Steering.generate(model: model, sae: sae, prompt: [1], maxNewTokens: 1,
                                  interventions: [SteeringIntervention(latent: 1, mode: .ablate, hook: .residPost(7))])
        }
    }
}
