import IsaerftCore
import IsaerftModels

/// Loss, TRL metrics and component gradients of one micro-batch, for one or more interventions
/// in a frozen model.
///
/// Fast path (issue #6 "speed by design"): when the earliest intervention sits on the residual
/// stream (`blocks.L.hook_resid_post` or `hook_resid_pre`), the model below it never changes, so
/// `prepare` caches the activation there once per sequence; each step applies the intervention to
/// the cached rows, resumes the forward pass at the next block (`ForwardOptions.start`), requests
/// only the logits the loss reads, and backpropagates activation gradients down to the resume
/// point only. Any other hook uses the generic path: the whole model runs with the interventions
/// installed as hook edits, and the backward stops at the earliest hook.
/// Both paths compute the same numbers (up to the summation order of padded batches).
public final class TuneEngine: @unchecked Sendable {
    public let model: any HookedLanguageModel
    /// Sorted by layer (the order the forward pass meets them).
    public var interventions: [LatentIntervention]
    public let objective: Objective
    /// Token id used for padding (never scored, never attended to).
    public let pad: Int
    /// The residual width the fast path caches: the first SAE's d_in (a residual-stream SAE reads
    /// rows of d_model; other hooks take the generic path, which does not use it).
    var width: Int { interventions[0].sae.dIn }
    /// Fast path: the hook captured by `prepare` and the block the pass resumes at.
    let resumeCapture: HookPoint?
    let resumeLayer: Int?

    public init(model: any HookedLanguageModel, interventions: [LatentIntervention], objective: Objective,
                pad: Int = 0, fastPath: Bool = true) throws {
        guard !interventions.isEmpty else { throw TuneError.invalidOption("at least one SAE component is needed") }
        let sorted = interventions.sorted { ($0.hook.layer ?? -1, $0.hookName) < ($1.hook.layer ?? -1, $1.hookName) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.hook == b.hook {
            throw TuneError.invalidOption("two components at \(a.hookName): one SAE per hook")
        }
        self.model = model; self.interventions = sorted; self.objective = objective; self.pad = pad
        switch fastPath ? sorted[0].hook : .embed {
        case .residPost(let l): resumeCapture = .residPost(l); resumeLayer = l + 1
        case .residPre(let l): resumeCapture = .residPre(l); resumeLayer = l
        default: resumeCapture = nil; resumeLayer = nil
        }
    }

    /// True when steps resume from cached activations.
    public var usesFastPath: Bool { resumeLayer != nil }

    /// One micro-batch's outcome. `gradients[i]` holds intervention i's parameter gradients of
    /// `loss · gradientScale` (nil when gradients were not asked for).
    public struct Outcome {
        public var loss: Double
        public var metrics: [String: Double]
        public var gradients: [[Tensor]]?
        /// Sequences and scored tokens in the batch.
        public var sequences: Int
        public var tokens: Int
    }

    /// Forward (and, when `gradients` is true, backward) on the examples at `indices` of `data`.
    /// - Parameter gradientScale: multiplies d loss (1/accumulation steps for gradient accumulation).
    public func run(_ data: PreparedExamples, indices: [Int], gradients wantGradients: Bool,
                    gradientScale: Double = 1) throws -> Outcome {
        let batch = TuneBatch(examples: data.examples, indices: indices, objective: objective, pad: pad)
        let B = batch.tokens.batch, T = batch.tokens.length
        let masks = interventions.map { $0.component.spec.positions == .all && batch.tokens.mask == nil ? nil
            : $0.component.spec.positions.rowMask(promptLengths: batch.promptLengths, realLengths: batch.realLengths, length: T) }
        var hooks = HookSet()
        let recorders = interventions.map { _ in InterventionRecorder() }
        var firstCache: InterventionCache? = nil
        var options = ForwardOptions(logits: batch.scoring.logitsRequest, retainForBackward: wantGradients)
        if let resumeLayer {
            var x = Tensor(shape: [B * T, width])
            for (r, source) in batch.sources.enumerated() {
                let rows = data.residuals[source.example][source.rejected ? 1 : 0]
                x.scalars.withUnsafeMutableBufferPointer { dst in
                    rows.scalars.withUnsafeBufferPointer { src in
                        dst.baseAddress!.advanced(by: r * T * width).update(from: src.baseAddress!, count: src.count)
                    }
                }
            }
            let (xPrime, cache) = interventions[0].forward(rows: x, rowMask: masks[0])
            firstCache = cache
            options.start = ResidualStart(layer: resumeLayer, residual: xPrime.reshaped([B, T, width]))
            for i in 1..<interventions.count { interventions[i].install(into: &hooks, recorder: recorders[i], rowMask: masks[i]) }
        } else {
            for i in interventions.indices { interventions[i].install(into: &hooks, recorder: recorders[i], rowMask: masks[i]) }
        }
        options.hooks = hooks
        var out = try model.forward(batch.tokens, options: options)
        var logits = out.logits!
        out.logits = nil   // the only reference: the backward below rewrites it in place
        let scores = batch.scoring.logProbs(logits: logits)
        let reference: SequenceLogProbs? = objective.needsReference ? referenceScores(data, batch) : nil
        let result = try objective.evaluate(batch.objectiveInput(scores, reference: reference, objective: objective))
        guard result.loss.isFinite else { throw TuneError.nonFiniteLoss(result.loss) }
        var outcome = Outcome(loss: result.loss, metrics: result.metrics, gradients: nil,
                              sequences: B, tokens: scores.counts.reduce(0, +))
        guard wantGradients else { return outcome }

        let scale = gradientScale
        let dSums = (objective.isPreference ? result.stackedSums : result.dChosenSums).map { $0 * scale }
        let dNLL = objective.needsNLLMask ? result.stackedNLLSums.map { $0 * scale } : nil
        batch.scoring.backwardInPlace(logits: &logits, dSums: dSums, dNLLSums: dNLL)
        let dLogits = logits
        var wanted = Set(interventions.dropFirst(resumeLayer == nil ? 0 : 1).map(\.hook))
        if let resumeLayer, resumeLayer < model.layerCount, !wanted.isEmpty { wanted.insert(.residPre(resumeLayer)) }
        let back = try model.backward(out.activations!, dLogits: dLogits, to: wanted)
        var grads: [[Tensor]] = []
        for (i, intervention) in interventions.enumerated() {
            if i == 0, let resumeLayer, let cache = firstCache {
                guard let g = back.startGradient ?? back.hookGradients[.residPre(resumeLayer)] else {
                    throw TuneError.invalidOption("the backward pass did not reach block \(resumeLayer)")
                }
                grads.append(intervention.backward(dOutput: g.reshaped([B * T, width]), cache: cache))
            } else if intervention.component.isEnabled {
                grads.append(try intervention.backward(hookGradient: back.hookGradients[intervention.hook]!, recorder: recorders[i]))
            } else {
                grads.append(intervention.component.parameters.map { Tensor(shape: $0.shape) })
            }
        }
        outcome.gradients = grads
        return outcome
    }

    /// Reference scores of the batch's sequences, in the batch's stacking order.
    func referenceScores(_ data: PreparedExamples, _ batch: TuneBatch) -> SequenceLogProbs {
        let pairs = batch.sources.map { s in s.rejected ? data.referenceRejected[s.example] : data.referenceChosen[s.example] }
        return SequenceLogProbs(sums: pairs.map(\.0), counts: pairs.map(\.1))
    }
}
