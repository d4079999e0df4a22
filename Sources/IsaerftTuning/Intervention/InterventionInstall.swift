import Foundation
import IsaerftCore
import IsaerftModels

/// Keeps what an installed intervention's forward calls need for the backward: the edit is a
/// closure captured by the `HookSet`, so it hands its cache back through this reference.
/// One record per forward call through the edit; `backward(hookGradient:recorder:)` uses the last.
public final class InterventionRecorder: @unchecked Sendable {
    /// One forward call at the hook.
    public struct Record: Sendable {
        public var context: HookContext
        /// The hook value's TransformerLens shape.
        public var valueShape: [Int]
        public var cache: InterventionCache
    }

    private let lock = NSLock()
    private var storage: [Record] = []

    public init() {}

    public var records: [Record] { lock.withLock { storage } }
    public var last: Record? { lock.withLock { storage.last } }
    public func removeAll() { lock.withLock { storage.removeAll() } }
    func append(_ r: Record) { lock.withLock { storage.append(r) } }
}

extension LatentIntervention {
    /// Adds an edit at `hook` to `hooks` that applies this intervention (with the component as it is
    /// now: install again after updating parameters) and records each call in `recorder`.
    ///
    /// TransformerLens shapes: `[b, p, d_in]`; `hook_z` SAEs read `[b, p, n_heads, d_head]` as rows of
    /// `n_heads·d_head`; with `hook_head_index` only that head's `[b, p, d_head]` slice is edited.
    /// - Parameter rowMask: `[b·p]` rows (row `b·p_len + t`) to edit, nil for all; it must match
    ///   the batch of every forward call (use nil while generating with a KV cache).
    /// A disabled component installs nothing: the pass is the base model's, bit for bit.
    public func install(into hooks: inout HookSet, recorder: InterventionRecorder, rowMask: [Bool]? = nil) {
        install(into: &hooks, recorder: recorder) { _ in rowMask }
    }

    /// `install` with the row mask chosen per forward call from the hook's context (batch, length,
    /// absolute position of the call's first token): what generation with a KV cache needs, where
    /// every decode step is a new call. nil from `rowMask`: every row.
    public func install(into hooks: inout HookSet, recorder: InterventionRecorder, rowMask: @escaping @Sendable (HookContext) -> [Bool]?) {
        guard component.isEnabled else { return }
        let me = self
        hooks.edit(hook) { value, context in
            let shape = value.shape
            let rows = me.rows(of: value)
            let rowMask = rowMask(context)
            precondition(rowMask == nil || rowMask!.count == rows.matrixShape.rows,
                         "LatentIntervention at \(me.hook): row mask of \(rowMask!.count) for \(rows.matrixShape.rows) rows")
            let (out, cache) = me.forward(rows: rows, rowMask: rowMask)
            recorder.append(InterventionRecorder.Record(context: context, valueShape: shape, cache: cache))
            me.write(out, into: &value)
        }
    }

    /// Parameter gradients from the hook gradient (d loss/d edited value, TransformerLens shape, as
    /// `HookedLanguageModel.backward(…, to: [hook])` returns it) of the last recorded forward call.
    public func backward(hookGradient: Tensor, recorder: InterventionRecorder) throws -> [Tensor] {
        guard let record = recorder.last else { throw ComponentError.noForwardRecorded(hook: hook.description) }
        guard hookGradient.shape == record.valueShape else {
            throw ComponentError.shapeMismatch("gradient at \(hook)", expected: record.valueShape, found: hookGradient.shape)
        }
        return backward(dOutput: rows(of: hookGradient), cache: record.cache)
    }

    /// Checks that the hook's value gives rows of `d_in` (TransformerLens `shape`).
    public func checkFits(valueShape shape: [Int]) throws {
        let fits: Bool
        if let head = sae.config.hookHeadIndex {
            fits = shape.count == 4 && head < shape[2] && shape[3] == sae.dIn
        } else {
            fits = shape.last == sae.dIn
                || (sae.config.reshapeActivations == .hookZ && shape.count >= 2 && shape[shape.count - 1] * shape[shape.count - 2] == sae.dIn)
        }
        if !fits { throw ComponentError.widthMismatch(hook: hook.description, expected: sae.dIn, found: shape) }
    }

    /// The `[n, d_in]` rows of a hook value (or gradient).
    func rows(of value: Tensor) -> Tensor {
        let shape = value.shape
        if let head = sae.config.hookHeadIndex {
            precondition(shape.count == 4 && head < shape[2] && shape[3] == sae.dIn,
                         "LatentIntervention at \(hook): value \(shape) has no head \(head) of width d_in = \(sae.dIn)")
            let (n, h, dh) = (shape[0] * shape[1], shape[2], shape[3])
            var rows = Tensor.uninitialized([n, dh])
            for r in 0..<n { for j in 0..<dh { rows.scalars[r * dh + j] = value.scalars[(r * h + head) * dh + j] } }
            return rows
        }
        precondition((try? checkFits(valueShape: shape)) != nil,
                     "LatentIntervention at \(hook): value \(shape) does not give rows of d_in = \(sae.dIn)")
        return value.reshaped([value.count / sae.dIn, sae.dIn])
    }

    /// Writes `[n, d_in]` rows back into a hook value of the shape `rows(of:)` read.
    func write(_ rows: Tensor, into value: inout Tensor) {
        let shape = value.shape
        if let head = sae.config.hookHeadIndex {
            let (n, h, dh) = (shape[0] * shape[1], shape[2], shape[3])
            for r in 0..<n { for j in 0..<dh { value.scalars[(r * h + head) * dh + j] = rows.scalars[r * dh + j] } }
            return
        }
        value = rows.reshaped(shape)
    }
}
