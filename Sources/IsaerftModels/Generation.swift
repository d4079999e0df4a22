import IsaerftCore

/// Events reported while generating (libraries never print).
public enum GenerationEvent: Sendable {
    case token(Int, step: Int)
}

extension GPT2Model {
    /// Generates up to `maxNewTokens` tokens after `prompt` with a KV cache: the prompt in one pass,
    /// then one position per step. Hook edits apply to every call (prompt and generated tokens);
    /// `HookContext.positionOffset` tells an edit where it is. Stops early at any of `stopTokens`
    /// (which is included in the output). Returns prompt + generated ids.
    public func generate(prompt: [Int], maxNewTokens: Int, sampling: SamplingParameters = .greedy,
                         hooks: HookSet = HookSet(), stopTokens: Set<Int> = [],
                         onEvent: (GenerationEvent) -> Void = { _ in }) throws -> [Int] {
        guard !prompt.isEmpty else { throw ModelError.emptyInput }
        let total = prompt.count + maxNewTokens
        if total > config.contextLength { throw ModelError.sequenceTooLong(total, maximum: config.contextLength) }
        var cache: KVCache? = KVCache(layers: config.layerCount, batch: 1)
        var sampler = Sampler(sampling)
        var ids = prompt
        var input = prompt
        for step in 0..<maxNewTokens {
            let options = ForwardOptions(hooks: hooks, logits: .lastPosition)
            let out = try forward(TokenBatch(input), options: options, cache: &cache)
            let logits = out.logits!.scalars
            let next = sampler.next(logits[0..<config.vocabSize])
            ids.append(next)
            onEvent(.token(next, step: step))
            if stopTokens.contains(next) { break }
            input = [next]
        }
        return ids
    }
}
