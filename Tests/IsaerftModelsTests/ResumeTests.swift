import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftTestSupport
import Testing

/// A model and batch under test: the GPT-2 fixture and the Gemma-3-like decoder fixture (6 layers,
/// sliding window 8 on layers 0–4, global layer 5), single rows and padded batches.
struct ResumeCase: CustomStringConvertible, Sendable {
    let family: String    // "gpt2/tiny_a" or "llama/gemma3_f"
    let padded: Bool
    var description: String { family + (padded ? " (padded batch)" : "") }

    func load() throws -> (any HookedLanguageModel, TokenBatch) {
        if family.hasPrefix("gpt2/") {
            let f = try GPT2Fixture(String(family.dropFirst(5)))
            return (f.model, try Self.batch(f.reference, ids: f.ids, padded: padded))
        }
        let f = try DecoderFixture(String(family.dropFirst(6)))
        return (f.model, try Self.batch(f.reference, ids: f.ids, padded: padded))
    }

    static func batch(_ r: SafeTensorsFile, ids: (String) throws -> [[Int]], padded: Bool) throws -> TokenBatch {
        guard padded else { return TokenBatch(ids: try ids("single.input_ids")) }
        return TokenBatch(ids: try ids("batch.input_ids"), mask: try ids("batch.attention_mask").map { $0.map { $0 != 0 } })
    }
}


let resumeCases = [ResumeCase(family: "gpt2/tiny_a", padded: false), ResumeCase(family: "gpt2/tiny_a", padded: true),
                   ResumeCase(family: "llama/gemma3_f", padded: false), ResumeCase(family: "llama/gemma3_f", padded: true)]

@Suite("Forward passes resumed from a residual stream")
struct ResumeTests {
    /// The start layers tried: the first block, a middle one, the last block, and layerCount
    /// (final norm and head only). For gemma3_f block 3 is sliding and block 5 global.
    static func startLayers(_ model: any HookedLanguageModel) -> [Int] {
        Array(Set([1, model.layerCount / 2, model.layerCount - 1, model.layerCount])).sorted()
    }

    /// The residual entering block `layer` as the full pass captured it.
    static func captureHook(_ layer: Int, _ model: any HookedLanguageModel) -> HookPoint {
        layer < model.layerCount ? .residPre(layer) : .residPost(model.layerCount - 1)
    }

    /// Same kernels on the same inputs: logits must be identical bit for bit.
    @Test("resumed logits equal the full pass's bit for bit", arguments: resumeCases)
    func logits(c: ResumeCase) throws {
        let (model, batch) = try c.load()
        let layers = Self.startLayers(model)
        let full = try model.forward(batch, options: ForwardOptions(hooks: HookSet(capture: Set(layers.map { Self.captureHook($0, model) }))))
        for layer in layers {
            let start = ResidualStart(layer: layer, residual: full.captured[Self.captureHook(layer, model)]!)
            let resumed = try model.forward(batch, options: ForwardOptions(start: start))
            let diff = zip(resumed.logits!.scalars, full.logits!.scalars).map { abs($0 - $1) }.max()!
            #expect(resumed.logits!.shape == full.logits!.shape)
            #expect(resumed.logits!.scalars == full.logits!.scalars, "\(c) start \(layer): max |Δ| \(diff)")
        }
    }

    /// The backward of the resumed pass runs the same kernels in the same order as the full
    /// pass's backward above the start: gradients are identical bit for bit.
    @Test("gradients at and after the start equal the full pass's bit for bit", arguments: resumeCases)
    func gradients(c: ResumeCase) throws {
        let (model, batch) = try c.load()
        let L = model.layerCount
        for layer in Self.startLayers(model) {
            let startHook = Self.captureHook(layer, model)
            let later: [HookPoint] = layer < L ? [.residPre(layer), .mlpOut(layer), .residMid(L - 1), .lnFinalNormalized] : [.lnFinalNormalized]
            let wanted = Set(later + [startHook])
            let full = try model.forward(batch, options: ForwardOptions(hooks: HookSet(capture: [startHook]), retainForBackward: true))
            let (_, dLogits) = nextTokenLoss(logits: full.logits!, batch: batch)
            let gFull = try model.backward(full.activations!, dLogits: dLogits, to: wanted)

            let start = ResidualStart(layer: layer, residual: full.captured[startHook]!)
            let resumed = try model.forward(batch, options: ForwardOptions(retainForBackward: true, start: start))
            #expect(resumed.logits!.scalars == full.logits!.scalars)
            let gRes = try model.backward(resumed.activations!, dLogits: dLogits, to: Set(later))
            for h in later {
                #expect(gRes.hookGradients[h]!.scalars == gFull.hookGradients[h]!.scalars, "\(c) start \(layer): gradient at \(h)")
            }
            // With no hooks asked for, a resumed backward runs to the start and reports its gradient.
            let gStart = try model.backward(resumed.activations!, dLogits: dLogits, to: [])
            let want = gFull.hookGradients[startHook]!
            #expect(gStart.startGradient?.shape == want.shape)
            #expect(gStart.startGradient?.scalars == want.scalars, "\(c) start \(layer): start gradient")
        }
    }

    @Test("hooks before the start are refused (capture, edit, gradient)", arguments: [resumeCases[0], resumeCases[2]])
    func hooksBeforeStart(c: ResumeCase) throws {
        let (model, batch) = try c.load()
        let full = try model.forward(batch, options: ForwardOptions(hooks: HookSet(capture: [.residPre(1)])))
        let start = ResidualStart(layer: 1, residual: full.captured[.residPre(1)]!)
        #expect(throws: ModelError.hookBeforeStart("blocks.0.hook_mlp_out", start: "blocks.1.hook_resid_pre")) {
            try model.forward(batch, options: ForwardOptions(hooks: HookSet(capture: [.mlpOut(0)]), start: start))
        }
        var edit = HookSet()
        edit.edit(.embed) { _, _ in }
        #expect(throws: ModelError.hookBeforeStart("hook_embed", start: "blocks.1.hook_resid_pre")) {
            try model.forward(batch, options: ForwardOptions(hooks: edit, start: start))
        }
        let resumed = try model.forward(batch, options: ForwardOptions(retainForBackward: true, start: start))
        let (_, dLogits) = nextTokenLoss(logits: resumed.logits!, batch: batch)
        #expect(throws: ModelError.hookBeforeStart("blocks.0.hook_resid_post", start: "blocks.1.hook_resid_pre")) {
            try model.backward(resumed.activations!, dLogits: dLogits, to: [.residPost(0)])
        }
        #expect(throws: ModelError.self) {
            try model.forward(batch, options: ForwardOptions(start: ResidualStart(layer: model.layerCount + 1, residual: start.residual)))
        }
        #expect(throws: ModelError.self) {
            try model.forward(batch, options: ForwardOptions(start: ResidualStart(layer: 1, residual: Tensor(shape: [1, 2, 3]))))
        }
    }
}
