import Foundation
import IsaerftCore
import IsaerftModels

/// Collects the feature activations of a spliced SAE, one record per forward call (a whole pass,
/// or one position per KV-cache step while generating). A reference type so that the hook edit,
/// which is a value captured by the `HookSet`, can hand results back.
public final class SAEFeatureRecorder: @unchecked Sendable {
    /// Features of one call: `[batch, length, d_sae]` (`hook_sae_acts_post`), with where they were.
    public struct Record: Sendable {
        public var context: HookContext
        public var features: Tensor
    }

    private let lock = NSLock()
    private var storage: [Record] = []

    public init() {}

    public var records: [Record] { lock.withLock { storage } }

    public func removeAll() { lock.withLock { storage.removeAll() } }

    func append(_ r: Record) { lock.withLock { storage.append(r) } }

    /// All records joined along positions, `[batch, Σ length, d_sae]` (nil when empty; the records
    /// must share the batch size, as the calls of one `generate` do).
    public func concatenatedFeatures() -> Tensor? {
        let rs = records
        guard let first = rs.first else { return nil }
        let b = first.context.batch, d = first.features.shape.last ?? 0
        precondition(rs.allSatisfy { $0.context.batch == b }, "SAEFeatureRecorder: records of different batch sizes")
        let total = rs.reduce(0) { $0 + $1.context.length }
        var out = Tensor(shape: [b, total, d])
        var offset = 0
        for r in rs {
            let t = r.context.length
            for row in 0..<b { for p in 0..<t { for j in 0..<d {
                out.scalars[(row * total + offset + p) * d + j] = r.features.scalars[(row * t + p) * d + j]
            } } }
            offset += t
        }
        return out
    }
}

extension SparseAutoencoder {
    /// Splices the SAE into a forward pass: at `hook` (default: the cfg's `hook_name`) the
    /// activation `x` is replaced by the reconstruction `x̂ = decode(encode(x))`, or, with
    /// `keepError`, by `x̂ + (x − x̂)` — SAELens' `use_error_term`; formed in Double it is `x`
    /// exactly, so downstream values are unchanged while features are read.
    ///
    /// The edit works on TransformerLens-shaped values: `[b, p, d_in]`, or for `hook_z` SAEs
    /// `[b, p, n_heads, d_head]` flattened to rows of `n_heads·d_head`; with `hook_head_index` only
    /// that head's `[b, p, d_head]` slice is replaced. It sees one position per call during
    /// KV-cache generation, which is exact because every SAE acts per token.
    /// Several SAEs can be spliced into one `HookSet` (edits of one hook run in the order added).
    ///
    /// Gradients: the edit is gradient-aware (`HookSet.editWithGradient(_:_:)`). The model's backward
    /// maps d loss / d (spliced value) to d loss / d x = Jᵀ·g with J the Jacobian of x̂ (see
    /// `SAEPullback`) in both modes: with `keepError` the error term `x − x̂` carries no gradient,
    /// exactly like SAELens' `use_error_term=True`, which computes it under `no_grad`. With
    /// `hook_head_index` the other heads pass their gradient unchanged.
    ///
    /// Call `checkFits` first: a width that does not match `d_in` is a programmer error here
    /// (the edit cannot throw).
    /// - Parameter recorder: receives the features `[b, p, d_sae]` of every call.
    public func splice(into hooks: inout HookSet, at hook: HookPoint? = nil, keepError: Bool,
                       recorder: SAEFeatureRecorder? = nil) throws {
        let point = try hook ?? hookPoint()
        let sae = self
        let head = config.hookHeadIndex
        hooks.editWithGradient(point, { value, context in
            let shape = value.shape
            if let head {
                precondition(shape.count == 4 && head < shape[2] && shape[3] == sae.dIn,
                             "SAE splice at \(point): value \(shape) has no head \(head) of width d_in = \(sae.dIn)")
                let (b, t, h, dh) = (shape[0], shape[1], shape[2], shape[3])
                var rows = Tensor(shape: [b * t, dh])
                for r in 0..<(b * t) { for j in 0..<dh { rows.scalars[r * dh + j] = value.scalars[(r * h + head) * dh + j] } }
                let (out, pullback) = sae.spliceRows(rows, keepError: keepError, context: context, recorder: recorder)
                for r in 0..<(b * t) { for j in 0..<dh { value.scalars[(r * h + head) * dh + j] = out.scalars[r * dh + j] } }
                return { g in
                    var gRows = Tensor(shape: [b * t, dh])
                    for r in 0..<(b * t) { for j in 0..<dh { gRows.scalars[r * dh + j] = g.scalars[(r * h + head) * dh + j] } }
                    let dx = pullback(gRows)
                    for r in 0..<(b * t) { for j in 0..<dh { g.scalars[(r * h + head) * dh + j] = dx.scalars[r * dh + j] } }
                }
            }
            let fits = shape.last == sae.dIn
                || (sae.config.reshapeActivations == .hookZ && shape.count >= 2 && shape[shape.count - 1] * shape[shape.count - 2] == sae.dIn)
            precondition(fits, "SAE splice at \(point): value \(shape) does not give rows of d_in = \(sae.dIn) (call checkFits)")
            let (out, pullback) = sae.spliceRows(value.reshaped([value.count / sae.dIn, sae.dIn]), keepError: keepError,
                                                 context: context, recorder: recorder)
            value = out.reshaped(shape)
            return { g in g = pullback(g) }
        })
    }

    /// Encodes, records, decodes, and adds the error term for `[n, d_in]` rows; returns the pullback
    /// of the reconstruction (the error term carries no gradient).
    func spliceRows(_ rows: Tensor, keepError: Bool, context: HookContext, recorder: SAEFeatureRecorder?) -> (Tensor, SAEPullback) {
        let (f, stats) = encodeRows(rows)
        if let recorder {
            recorder.append(SAEFeatureRecorder.Record(context: context, features: f.reshaped([context.batch, context.length, dSAE])))
        }
        let (y, pullback) = reconstructRowsWithPullback(rows, features: f, statistics: stats)
        return (keepError ? Self.addingError(y, original: rows) : y, pullback)
    }
}
