import Foundation
import IsaerftCore
import IsaerftModels

/// Settings of `SparseAutoencoder.evaluate` (SAELens `EvalConfig` with everything on).
public struct SAEEvalOptions: Sendable {
    /// Prompts per forward pass (SAELens `batch_size_prompts`). The per-batch metrics
    /// (`explained_variance_legacy`, `relative_reconstruction_bias`) depend on it; memory is about
    /// 2 × batchSize × context × vocabulary floats of logits.
    public var batchSize: Int
    /// Token ids whose positions are left out of every metric and keep their original activation in
    /// the spliced pass (SAELens `exclude_special_tokens`; its default is the tokenizer's BOS, EOS, PAD, …).
    public var excludedTokens: Set<Int>
    /// Latents firing on more than this fraction of tokens count as dense (`LatentDensitySummary`).
    public var denseThreshold: Double

    public init(batchSize: Int = 8, excludedTokens: Set<Int> = [], denseThreshold: Double = 0.1) {
        self.batchSize = batchSize; self.excludedTokens = excludedTokens; self.denseThreshold = denseThreshold
    }
}

/// Progress of an evaluation (libraries never print).
public enum SAEEvalEvent: Sendable {
    /// `batch` of `batches` (1-based) is done: `tokens` tokens so far in `seconds`.
    case batchDone(batch: Int, batches: Int, tokens: Int, seconds: Double)
}

/// Collects the activation metrics inside the spliced pass's hook edit (the edit is an escaping
/// closure, so results come back through a reference).
private final class EvalCapture {
    var accumulator: SAEEvalAccumulator
    init(_ a: SAEEvalAccumulator) { accumulator = a }
}

extension SparseAutoencoder {
    /// Evaluates the SAE spliced into `model` at its hook over `contexts` (token rows of equal length,
    /// usually from `ContextPacker` with the SAE's `context_size` and `prepend_bos`), computing what
    /// SAELens 6.54.12's `run_evals` computes with `get_eval_everything_config` when its
    /// reconstruction and sparsity/variance passes see the same batches:
    ///
    /// per batch of `options.batchSize` rows, three forward passes (`get_recons_loss`):
    /// 1. clean: logits;
    /// 2. spliced: at the hook `x → decode(encode(x))` at kept positions (no error term; excluded
    ///    tokens keep `x`); `hook_z` values are flattened over heads, a `hook_head_index` replaces that
    ///    head only. The hook value also feeds `get_sparsity_and_variance_metrics` (the same `x`
    ///    SAELens reads with `run_with_cache`);
    /// 3. zero ablation: the whole hook value (or that head) set to 0 at every position.
    ///
    /// Memory is bounded by one batch: metrics are accumulated as running sums.
    /// The SAE is used as it is: an `expected_average_only_in` SAE whose scale was never folded sees
    /// unscaled activations, as with SAELens' identity `ActivationScaler`.
    /// - Throws: `SAEError` when the SAE does not fit the model; `ModelError` for bad token ids or
    ///   contexts longer than the model's.
    public func evaluate(on model: any HookedLanguageModel, contexts: [[Int]], options: SAEEvalOptions = SAEEvalOptions(),
                         onEvent: (SAEEvalEvent) -> Void = { _ in }) throws -> SAEEvalMetrics {
        let point = try hookPoint()
        try checkFits(model: model, modelName: nil, at: point)
        guard let length = contexts.first?.count, length > 0, contexts.allSatisfy({ $0.count == length }) else {
            throw ModelError.emptyInput
        }
        precondition(options.batchSize > 0, "evaluate: batch size \(options.batchSize)")
        let start = Date()
        var acc = SAEEvalAccumulator(dIn: dIn, dSAE: dSAE)
        let batchCount = (contexts.count + options.batchSize - 1) / options.batchSize
        for b in 0..<batchCount {
            let rows = Array(contexts[(b * options.batchSize)..<min(contexts.count, (b + 1) * options.batchSize)])
            acc = try evaluateBatch(rows, at: point, model: model, excluded: options.excludedTokens, accumulator: acc)
            onEvent(.batchDone(batch: b + 1, batches: batchCount, tokens: acc.totalTokens,
                               seconds: Date().timeIntervalSince(start)))
        }
        return acc.metrics(denseThreshold: options.denseThreshold)
    }

    /// One batch: the three passes of `get_recons_loss` and the activation metrics.
    private func evaluateBatch(_ rows: [[Int]], at point: HookPoint, model: any HookedLanguageModel,
                               excluded: Set<Int>, accumulator: SAEEvalAccumulator) throws -> SAEEvalAccumulator {
        let batch = TokenBatch(ids: rows)
        let length = batch.length
        let kept = rows.flatMap { $0.map { !excluded.contains($0) } }
        var targets = [Int](repeating: -1, count: kept.count)
        for (b, row) in rows.enumerated() { for t in 0..<(length - 1) { targets[b * length + t] = row[t + 1] } }

        let clean = try Self.flatLogits(model.forward(batch, options: ForwardOptions(logits: .all)))
        let cleanLSE = SAEEvalAccumulator.rowLogSumExp(clean)
        var cleanCE = [Double](repeating: .nan, count: kept.count)
        for r in 0..<kept.count where targets[r] >= 0 { cleanCE[r] = cleanLSE[r] - Double(clean.scalars[r * clean.matrixShape.cols + targets[r]]) }

        let capture = EvalCapture(accumulator)
        var splice = HookSet()
        let sae = self
        splice.edit(point) { value, _ in sae.replaceForEvaluation(&value, kept: kept, length: length, capture: capture) }
        let spliced = try Self.flatLogits(model.forward(batch, options: ForwardOptions(hooks: splice, logits: .all)))
        let withSAE = SAEEvalAccumulator.klAndCrossEntropy(clean: clean, cleanLSE: cleanLSE, other: spliced, targets: targets)

        var ablate = HookSet()
        let head = config.hookHeadIndex
        ablate.edit(point) { value, _ in Self.zeroAblate(&value, head: head) }
        let ablated = try Self.flatLogits(model.forward(batch, options: ForwardOptions(hooks: ablate, logits: .all)))
        let withAblation = SAEEvalAccumulator.klAndCrossEntropy(clean: clean, cleanLSE: cleanLSE, other: ablated, targets: targets)

        var acc = capture.accumulator
        acc.addLogits(cleanCE: cleanCE, sae: withSAE, ablation: withAblation, kept: kept, targets: targets)
        acc.totalTokens += kept.count
        acc.batches += 1
        return acc
    }

    /// `[B, T, V]` logits as `[B·T, V]`.
    private static func flatLogits(_ result: ForwardResult) throws -> Tensor {
        guard let l = result.logits else { throw ModelError.emptyInput }
        return l.reshaped([l.count / l.shape[l.rank - 1], l.shape[l.rank - 1]])
    }

    /// SAELens' replacement hooks (`standard_replacement_hook`, `all_head_replacement_hook`,
    /// `single_head_replacement_hook`): rows of d_in → `decode(encode(rows))`, written back where the
    /// token is kept; the rows, reconstructions and features go to the accumulator.
    fileprivate func replaceForEvaluation(_ value: inout Tensor, kept: [Bool], length: Int, capture: EvalCapture) {
        let shape = value.shape
        let n = kept.count
        var rows: Tensor
        if let head = config.hookHeadIndex {
            precondition(shape.count == 4 && shape[3] == dIn && shape[0] * shape[1] == n, "SAE evaluation: value \(shape)")
            let h = shape[2]
            rows = Tensor(shape: [n, dIn])
            for r in 0..<n { for j in 0..<dIn { rows.scalars[r * dIn + j] = value.scalars[(r * h + head) * dIn + j] } }
        } else {
            precondition(value.count == n * dIn, "SAE evaluation: value \(shape) does not give \(n) rows of d_in = \(dIn)")
            rows = value.reshaped([n, dIn])
        }
        let (f, stats) = encodeRows(rows)
        let xHat = decodeRows(f, statistics: stats)
        capture.accumulator.addActivations(x: rows, xHat: xHat, f: f, keep: kept, length: length)
        if let head = config.hookHeadIndex {
            let h = shape[2]
            for r in 0..<n where kept[r] { for j in 0..<dIn { value.scalars[(r * h + head) * dIn + j] = xHat.scalars[r * dIn + j] } }
        } else {
            for r in 0..<n where kept[r] { for j in 0..<dIn { value.scalars[r * dIn + j] = xHat.scalars[r * dIn + j] } }
        }
    }

    /// `standard_zero_ablate_hook` / `single_head_zero_ablate_hook`.
    fileprivate static func zeroAblate(_ value: inout Tensor, head: Int?) {
        guard let head else {
            value.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = 0 } }
            return
        }
        let s = value.shape
        let (h, dh) = (s[2], s[3])
        for r in 0..<(s[0] * s[1]) { for j in 0..<dh { value.scalars[(r * h + head) * dh + j] = 0 } }
    }
}
