import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftSAE

/// The result of a steered generation.
public struct SteeredGeneration: Sendable {
    /// Prompt followed by the generated ids.
    public var ids: [Int]
    public var promptLength: Int
    /// Next-token logits `[V]` of every step (empty unless `keepLogits`).
    public var stepLogits: [[Float]]
    public var newIDs: [Int] { Array(ids.dropFirst(promptLength)) }
}

public enum Steering {
    /// Generates up to `maxNewTokens` after `prompt` with `interventions` applied at their hooks.
    ///
    /// With `useCache` (the default) the prompt runs in one pass and each new token in a one-position
    /// KV-cache step; edits see absolute positions through `HookContext.positionOffset`, so steering
    /// `.generated` positions touches exactly the fed-back tokens. Without the cache every step
    /// recomputes the whole sequence (the reference the cached path must equal).
    public static func generate(model: any HookedLanguageModel, sae: SparseAutoencoder, prompt: [Int], maxNewTokens: Int,
                                interventions: [SteeringIntervention], sampling: SamplingParameters = .greedy,
                                stopTokens: Set<Int> = [], keepLogits: Bool = false, useCache: Bool = true,
                                otherEdits: (inout HookSet) -> Void = { _ in },
                                onEvent: (GenerationEvent) -> Void = { _ in }) throws -> SteeredGeneration {
        guard !prompt.isEmpty else { throw AnalysisError.invalidInput("steering: the prompt is empty") }
        guard maxNewTokens >= 0 else { throw AnalysisError.invalidInput("steering: max new tokens \(maxNewTokens) < 0") }
        if prompt.count + maxNewTokens > model.contextLength {
            throw ModelError.sequenceTooLong(prompt.count + maxNewTokens, maximum: model.contextLength)
        }
        var hooks = try hookSet(model: model, sae: sae, interventions: interventions, promptLength: prompt.count)
        otherEdits(&hooks)   // e.g. an ISaeRFT adapter, applied after the steering edits
        var cache: KVCache? = useCache ? model.makeCache(batch: 1) : nil
        var sampler = Sampler(sampling)
        var ids = prompt, input = prompt, logits: [[Float]] = []
        for step in 0..<maxNewTokens {
            let out = try model.forward(TokenBatch(input), options: ForwardOptions(hooks: hooks, logits: .lastPosition), cache: &cache)
            let row = out.logits!.scalars[0..<model.vocabularySize]
            if keepLogits { logits.append(Array(row)) }
            let next = sampler.next(row)
            ids.append(next)
            onEvent(.token(next, step: step))
            if stopTokens.contains(next) { break }
            input = useCache ? [next] : ids
        }
        return SteeredGeneration(ids: ids, promptLength: prompt.count, stepLogits: logits)
    }

    /// Logits `[T, V]` of one full forward pass over `ids` with `interventions` (positions
    /// `< promptLength` count as the prompt; default: all of `ids`).
    public static func logits(model: any HookedLanguageModel, sae: SparseAutoencoder, ids: [Int],
                              interventions: [SteeringIntervention], promptLength: Int? = nil) throws -> Tensor {
        let hooks = try hookSet(model: model, sae: sae, interventions: interventions, promptLength: promptLength ?? ids.count)
        let out = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: hooks))
        return out.logits!.reshaped([ids.count, model.vocabularySize])
    }

    /// The hooks of `interventions`, each checked against the model (edits of one hook run in order).
    public static func hookSet(model: any HookedLanguageModel, sae: SparseAutoencoder,
                               interventions: [SteeringIntervention], promptLength: Int) throws -> HookSet {
        var hooks = HookSet()
        for s in interventions {
            try s.check(model: model, sae: sae)
            try s.install(into: &hooks, sae: sae, promptLength: promptLength)
        }
        return hooks
    }
}
