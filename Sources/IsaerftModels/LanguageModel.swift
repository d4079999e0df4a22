import IsaerftCore

/// What every model family offers: a forward pass with TransformerLens hook points, a frozen
/// backward to any hook, and KV-cache generation (an extension below).
public protocol HookedLanguageModel: Sendable {
    var vocabularySize: Int { get }
    var layerCount: Int { get }
    var contextLength: Int { get }
    var bosTokenID: Int? { get }
    var eosTokenID: Int? { get }
    /// The model's hook points in forward order.
    var hookPoints: [HookPoint] { get }
    /// One forward pass that reads and extends `cache` when it is non-nil.
    func forward(_ batch: TokenBatch, options: ForwardOptions, cache: inout KVCache?) throws -> ForwardResult
    /// Backpropagates d loss / d logits through the frozen model to `hooks` (see `GPT2Model.backward`).
    func backward(_ activations: ModelActivations, dLogits: Tensor, to hooks: Set<HookPoint>,
                  weightGradients: Bool) throws -> BackwardResult
    /// An empty cache for `batch` rows.
    func makeCache(batch: Int) -> KVCache
    /// log p(targets[r]) for each of the `batch · length` rows (negative target: 0), `[B, T]`,
    /// without materialising the full logits.
    func targetLogProbs(_ batch: TokenBatch, targets: [Int], hooks: HookSet) throws -> Tensor
}

/// Saved state of a forward pass, per model family.
public enum ModelActivations: Sendable {
    case gpt2(GPT2Activations)
    case decoder(DecoderActivations)
}

/// Gradients from one backward pass.
public struct BackwardResult {
    /// d loss / d (hook value after edits), TransformerLens shapes, for each requested hook.
    public var hookGradients: [HookPoint: Tensor]
    /// Weight gradients under the checkpoint's tensor names, when requested.
    public var weightGradients: [String: Tensor]?
    /// For a pass resumed at `ForwardOptions.start`: d loss / d `start.residual` `[B, T, d]` (before
    /// the edits of `blocks.start.hook_resid_pre`). Set when the backward reaches the start: always
    /// when `hooks` is empty, when it includes `blocks.start.hook_resid_pre`, or with weight gradients.
    public var startGradient: Tensor?

    public init(hookGradients: [HookPoint: Tensor], weightGradients: [String: Tensor]? = nil, startGradient: Tensor? = nil) {
        self.hookGradients = hookGradients; self.weightGradients = weightGradients; self.startGradient = startGradient
    }
}

extension HookedLanguageModel {
    public func forward(_ batch: TokenBatch, options: ForwardOptions = ForwardOptions()) throws -> ForwardResult {
        var cache: KVCache? = nil
        return try forward(batch, options: options, cache: &cache)
    }

    public func backward(_ activations: ModelActivations, dLogits: Tensor, to hooks: Set<HookPoint>) throws -> BackwardResult {
        try backward(activations, dLogits: dLogits, to: hooks, weightGradients: false)
    }

    /// Parses TransformerLens hook names against this model's hook points.
    public func hookPoints(named names: [String]) throws -> [HookPoint] {
        let available = Set(hookPoints)
        return try names.map { raw in
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let h = HookPoint(name: name) else {
                throw ModelError.unknownHook(name, available: Self.exampleNames(hookPoints))
            }
            if let l = h.layer, l >= layerCount { throw ModelError.hookOutOfRange(name, layerCount: layerCount) }
            guard available.contains(h) else { throw ModelError.unknownHook(name, available: Self.exampleNames(hookPoints)) }
            return h
        }
    }

    static func exampleNames(_ hooks: [HookPoint]) -> String {
        let block0 = hooks.filter { $0.layer == 0 }.map(\.description)
        let others = hooks.filter { $0.layer == nil }.map(\.description)
        return (others.prefix(2) + block0.prefix(6)).joined(separator: ", ") + ", …"
    }

    /// Generates up to `maxNewTokens` tokens after `prompt` with a KV cache: the prompt in one pass,
    /// then one position per step. Hook edits apply to every call (prompt and generated tokens);
    /// `HookContext.positionOffset` tells an edit where it is. Stops early at any of `stopTokens`
    /// (which is included in the output). Returns prompt + generated ids.
    public func generate(prompt: [Int], maxNewTokens: Int, sampling: SamplingParameters = .greedy,
                         hooks: HookSet = HookSet(), stopTokens: Set<Int> = [],
                         onEvent: (GenerationEvent) -> Void = { _ in }) throws -> [Int] {
        guard !prompt.isEmpty else { throw ModelError.emptyInput }
        let total = prompt.count + maxNewTokens
        if total > contextLength { throw ModelError.sequenceTooLong(total, maximum: contextLength) }
        var cache: KVCache? = makeCache(batch: 1)
        var sampler = Sampler(sampling)
        var ids = prompt
        var input = prompt
        for step in 0..<maxNewTokens {
            let out = try forward(TokenBatch(input), options: ForwardOptions(hooks: hooks, logits: .lastPosition), cache: &cache)
            let next = sampler.next(out.logits!.scalars[0..<vocabularySize])
            ids.append(next)
            onEvent(.token(next, step: step))
            if stopTokens.contains(next) { break }
            input = [next]
        }
        return ids
    }
}

/// Events reported while generating (libraries never print).
public enum GenerationEvent: Sendable {
    case token(Int, step: Int)
}

import Foundation
