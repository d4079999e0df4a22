import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftTestSupport
import Testing

/// Behaviour that needs no external reference: hook edits, KV-cache decoding, sampling, errors.
@Suite("GPT-2 hooks, cache and generation")
struct GPT2BehaviourTests {
    let model: GPT2Model = {
        let c = try! GPT2Config(vocabSize: 97, contextLength: 40, width: 32, layerCount: 3, headCount: 4)
        return GPT2Model(config: c, weights: .random(c, std: 0.2, seed: 11))
    }()
    let ids = [5, 17, 3, 88, 41, 2, 60, 9]

    @Test("replacing a hook with its own captured value changes nothing (bitwise)")
    func identityEdit() throws {
        let base = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: HookSet(capture: [.residMid(1)])))
        var hooks = HookSet()
        hooks.replace(.residMid(1), with: base.captured[.residMid(1)]!)
        let edited = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks))
        #expect(edited.logits! == base.logits!)
    }

    @Test("an edit changes downstream values and is what the cache records")
    func editPropagates() throws {
        var hooks = HookSet(capture: [.attnOut(2), .residMid(2)])
        hooks.edit(.attnOut(2)) { v, _ in v = Tensor(shape: v.shape) }   // zero-ablate layer 2's attention
        let out = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks))
        #expect(out.captured[.attnOut(2)]!.scalars.allSatisfy { $0 == 0 })
        let plain = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: HookSet(capture: [.residPre(2)])))
        // resid_mid = resid_pre + 0 exactly.
        #expect(out.captured[.residMid(2)]! == plain.captured[.residPre(2)]!)
        #expect(out.logits! != plain.logits!)
    }

    @Test("an edit that changes the shape is refused with a clear error")
    func badEdit() throws {
        var hooks = HookSet()
        hooks.edit(.residPost(0)) { v, _ in v = Tensor(shape: [1]) }
        #expect(throws: ModelError.self) { try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks)) }
    }

    @Test("editing the pattern reruns z from the edited pattern")
    func patternEdit() throws {
        var hooks = HookSet(capture: [.attnZ(0), .attnV(0)])
        // Attend only to position 0: z at every position equals v at position 0.
        hooks.edit(.attnPattern(0)) { p, _ in
            let (h, t) = (p.shape[1], p.shape[2])
            p = Tensor(shape: p.shape)
            for hh in 0..<h { for i in 0..<t { p[0, hh, i, 0] = 1 } }
        }
        let out = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks))
        let z = out.captured[.attnZ(0)]!, v = out.captured[.attnV(0)]!
        for i in 0..<ids.count { for h in 0..<4 { for d in 0..<8 {
            #expect(abs(z[0, i, h, d] - v[0, 0, h, d]) <= 1e-6)
        } } }
    }

    /// The last-position logits of each cached step equal a full recompute (same kernels, different
    /// BLAS shapes: observed ≤ 2e-6).
    @Test("KV-cache decoding equals recomputing the whole sequence")
    func cacheMatchesFull() throws {
        var cache: KVCache? = KVCache(layers: 3, batch: 1)
        var seen: [Int] = []
        for (step, id) in ids.enumerated() {
            let input = step == 0 ? Array(ids.prefix(3)) : [id]
            if step > 0 && step < 3 { continue }
            seen += input
            let stepOut = try model.forward(TokenBatch(input), options: ForwardOptions(logits: .lastPosition), cache: &cache)
            let full = try model.forward(TokenBatch(seen), options: ForwardOptions(logits: .lastPosition))
            let c = compare(stepOut.logits!, full.logits!, atol: 1e-5)
            #expect(c.passed, "step \(step): \(c)")
        }
    }

    @Test("hook edits apply during generation, with absolute positions")
    func editDuringGeneration() throws {
        var offsets: [Int] = []
        var hooks = HookSet()
        hooks.edit(.residPost(1)) { v, ctx in
            offsets.append(ctx.positionOffset)
            for i in 0..<v.count { v.scalars[i] *= 0.5 }
        }
        let prompt = Array(ids.prefix(4))
        let generated = try model.generate(prompt: prompt, maxNewTokens: 3, hooks: hooks)
        #expect(offsets == [0, 4, 5])
        // The same edit in a plain forward over the generated sequence predicts the same tokens.
        var hooks2 = HookSet()
        hooks2.edit(.residPost(1)) { v, _ in for i in 0..<v.count { v.scalars[i] *= 0.5 } }
        let full = try model.forward(TokenBatch(Array(generated.dropLast())), options: ForwardOptions(hooks: hooks2))
        let V = model.config.vocabSize
        for t in 3..<(generated.count - 1) {
            let row = Array(full.logits!.scalars[(t * V)..<((t + 1) * V)])
            #expect(argmax(row) == generated[t + 1], "position \(t)")
        }
    }

    @Test("sampling: seeded runs repeat, top-k 1 is greedy, temperature 0 is greedy")
    func sampling() throws {
        let prompt = Array(ids.prefix(3))
        let greedy = try model.generate(prompt: prompt, maxNewTokens: 6)
        let a = try model.generate(prompt: prompt, maxNewTokens: 6, sampling: SamplingParameters(temperature: 1.3, topP: 0.95, seed: 5))
        let b = try model.generate(prompt: prompt, maxNewTokens: 6, sampling: SamplingParameters(temperature: 1.3, topP: 0.95, seed: 5))
        #expect(a == b)
        let k1 = try model.generate(prompt: prompt, maxNewTokens: 6, sampling: SamplingParameters(temperature: 2, topK: 1, seed: 9))
        #expect(k1 == greedy)
        var seeds = Set<[Int]>()
        for s in 0..<6 { seeds.insert(try model.generate(prompt: prompt, maxNewTokens: 6, sampling: SamplingParameters(temperature: 3, seed: UInt64(s)))) }
        #expect(seeds.count > 1, "high-temperature sampling never varied with the seed")
    }

    @Test("the backward stops at the requested hook and matches a full backward")
    func earlyStop() throws {
        let batch = TokenBatch(ids)
        let out = try model.forward(batch, options: ForwardOptions(retainForBackward: true))
        let (_, d) = nextTokenLoss(logits: out.logits!, batch: batch)
        let early = try model.backward(out.activations!, dLogits: d, to: [.residPost(1)])
        let full = try model.backward(out.activations!, dLogits: d, to: [.residPost(1), .embed])
        #expect(early.hookGradients[.residPost(1)]! == full.hookGradients[.residPost(1)]!)
        #expect(early.hookGradients[.embed] == nil)
    }

    @Test("errors: token out of range, too long, unknown hook, out-of-range block")
    func errors() throws {
        #expect(throws: ModelError.tokenOutOfRange(97, vocabularySize: 97)) { try model.forward(TokenBatch([1, 97])) }
        #expect(throws: ModelError.sequenceTooLong(41, maximum: 40)) { try model.forward(TokenBatch(Array(repeating: 1, count: 41))) }
        #expect(throws: ModelError.self) { try model.hookPoints(named: ["blocks.0.hook_nope"]) }
        #expect(throws: ModelError.hookOutOfRange("blocks.3.hook_resid_post", layerCount: 3)) {
            try model.hookPoints(named: ["blocks.3.hook_resid_post"])
        }
        #expect(HookPoint(name: "blocks.01.hook_resid_post") == nil)
        for h in HookPoint.all(layerCount: 3) { #expect(HookPoint(name: h.description) == h) }
    }
}
