import IsaerftCore
import IsaerftModels

/// Examples with what never changes during training, computed once (issue #6 "speed by design"):
/// the frozen model's activation at the resume point of each sequence (`[length, d_model]`), and
/// the reference log-probs (the same model with every component off — exactly the base model,
/// since an off component leaves the activation unchanged bit for bit).
public struct PreparedExamples: Sendable {
    public let examples: [TuneExample]
    /// Per example: the chosen sequence's then the rejected sequence's residual rows at the resume
    /// point (empty when the engine runs the whole model each step).
    var residuals: [[Tensor]]
    /// Per example: reference (sum, count) of the chosen and the rejected completion.
    var referenceChosen: [(Double, Int)]
    var referenceRejected: [(Double, Int)]

    public var count: Int { examples.count }
}

/// Progress while preparing (libraries never print).
public enum PreparationEvent: Sendable {
    case prepared(examples: Int, of: Int)
}

extension TuneEngine {
    /// Runs the frozen model once over every example: captures the residual stream where training
    /// resumes and scores the completions with the base model (reference log-probs).
    /// - Parameter batchSize: examples per forward pass.
    public func prepare(_ examples: [TuneExample], batchSize: Int = 8,
                        onEvent: (PreparationEvent) -> Void = { _ in }) throws -> PreparedExamples {
        var out = PreparedExamples(examples: examples, residuals: Array(repeating: [], count: examples.count),
                                   referenceChosen: Array(repeating: (0, 0), count: examples.count),
                                   referenceRejected: Array(repeating: (0, 0), count: examples.count))
        let d = width
        for lo in stride(from: 0, to: examples.count, by: max(1, batchSize)) {
            let indices = Array(lo..<min(lo + max(1, batchSize), examples.count))
            let batch = TuneBatch(examples: examples, indices: indices, objective: objective, pad: pad)
            var hooks = HookSet()
            if let capture = resumeCapture { hooks.capture.insert(capture) }
            let logits: LogitsRequest = objective.needsReference ? batch.scoring.logitsRequest : .none
            let result = try model.forward(batch.tokens, options: ForwardOptions(hooks: hooks, logits: logits))
            if let capture = resumeCapture {
                let x = result.captured[capture]!
                let T = batch.tokens.length
                for (r, source) in batch.sources.enumerated() {
                    let n = batch.realLengths[r]
                    let rows = Tensor(shape: [n, d], scalars: Array(x.scalars[(r * T * d)..<((r * T + n) * d)]))
                    out.residuals[source.example].append(rows)
                }
            }
            if objective.needsReference {
                let scores = batch.scoring.logProbs(logits: result.logits!)
                for (r, source) in batch.sources.enumerated() {
                    let v = (scores.sums[r], scores.counts[r])
                    if source.rejected { out.referenceRejected[source.example] = v } else { out.referenceChosen[source.example] = v }
                }
            }
            onEvent(.prepared(examples: indices.last! + 1, of: examples.count))
        }
        return out
    }
}
