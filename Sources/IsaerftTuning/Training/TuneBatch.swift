import IsaerftModels

/// The sequences of a micro-batch, stacked as TRL does for preference losses — every chosen
/// sequence, then every rejected one — right-padded to the longest, with what scoring needs.
struct TuneBatch {
    /// Index into the example list of each sequence's example, and whether it is the rejected one.
    var sources: [(example: Int, rejected: Bool)]
    var tokens: TokenBatch
    var promptLengths: [Int]
    var realLengths: [Int]
    /// Number of examples (pairs) in the batch; for preference batches `tokens.batch == 2 · pairs`.
    var pairs: Int
    var scoring: SequenceScoring

    init(examples: [TuneExample], indices: [Int], objective: Objective, pad: Int) {
        var rows: [[Int]] = [], prompts: [Int] = [], sources: [(Int, Bool)] = []
        for i in indices {
            rows.append(examples[i].promptIDs + examples[i].chosenIDs)
            prompts.append(examples[i].promptIDs.count); sources.append((i, false))
        }
        if objective.isPreference {
            for i in indices {
                rows.append(examples[i].promptIDs + (examples[i].rejectedIDs ?? []))
                prompts.append(examples[i].promptIDs.count); sources.append((i, true))
            }
        }
        self.sources = sources
        tokens = TokenBatch.padded(rows, pad: pad)
        promptLengths = prompts
        realLengths = rows.map(\.count)
        pairs = indices.count
        let loss = SequenceScoring.completionMask(tokens, promptLengths: prompts)
        let nll = objective.needsNLLMask ? SequenceScoring.realTokenMask(tokens, rows: 0..<indices.count) : nil
        scoring = SequenceScoring(batch: tokens, lossMask: loss, nllMask: nll, compact: true)
    }

    /// The objective's input from the policy scores, with reference sums/counts per sequence.
    func objectiveInput(_ scores: SequenceLogProbs, reference: SequenceLogProbs?, objective: Objective) -> ObjectiveInput {
        objective.isPreference ? ObjectiveInput(stacked: scores, reference: reference) : ObjectiveInput(chosen: scores)
    }
}
