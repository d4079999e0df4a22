import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftSAE

/// One SAE at one hook with one component: rows `x` `[n, d_in]` become
/// `x' = x + (δ·W_dec) ⊙ outScale`, δ = φ(f) − f, f = encode(x) — algebraically SAELens'
/// `x̂(φ(f)) + stopgrad(x − x̂(f))` (`use_error_term=True` with a hook on `hook_sae_acts_post`;
/// `b_dec` cancels), where `outScale` undoes the SAE's run-time input normalisation
/// (`constant_norm_rescale`: 1/c per row; `layer_norm`: σ per row; sae-formats-and-math.md §4.0)
/// and topk SAEs with `rescale_acts_by_decoder_norm` decode `δ ⊘ ‖W_dec[i]‖`.
///
/// Rows where δ is zero (component off, zero parameters, rows outside the mask) are returned
/// exactly as given, bit for bit; a disabled component does not even encode.
///
/// Backward: `dx'` `[n, d_in]` → `dδ = (dx' ⊙ outScale)·W_decᵀ`, computed only where the component
/// needs it (active latents for scale, one summed vector for a bias) → parameter gradients.
/// The error term carries no gradient, and f is treated as a constant: nothing upstream of the
/// hook needs a gradient. With several interventions at different hooks, the gradient reaching an
/// earlier hook passes later edits as the identity (`∂x'/∂x = I`, ignoring δ's dependence on x
/// through the encoder), unlike SAELens autograd, where it flows only through the later SAE's
/// reconstruction.
///
/// Use `forward(rows:)` / `backward(dOutput:)` on explicit rows (a trainer's fast path that caches
/// x and reruns only the later layers), or `install(into:recorder:)` to edit a `HookSet` and
/// `backward(hookGradient:recorder:)` with the gradient `HookedLanguageModel.backward(…, to: [hook])`
/// reports (d loss/d edited value = dx').
public struct LatentIntervention: Sendable {
    public let sae: SparseAutoencoder
    public let hook: HookPoint
    public var component: LatentComponent

    /// - Parameter hook: the hook to edit (default: the SAE's `hook_name`).
    public init(sae: SparseAutoencoder, hook: HookPoint? = nil, component: LatentComponent) throws {
        guard component.latentCount == sae.dSAE else {
            throw ComponentError.invalidSpec("component of \(component.latentCount) latents for an SAE with d_sae = \(sae.dSAE)")
        }
        self.sae = sae
        self.hook = try hook ?? sae.hookPoint()
        self.component = component
    }

    /// A fresh identity-initialised component of `spec` on `sae`.
    public init(sae: SparseAutoencoder, hook: HookPoint? = nil, spec: ComponentSpec, seed: UInt64 = 0) throws {
        try self.init(sae: sae, hook: hook, component: LatentComponent(spec: spec, latentCount: sae.dSAE, seed: seed))
    }

    /// The hook's TransformerLens name (the adapter-key prefix of the component's parameters).
    public var hookName: String { hook.description }

    // MARK: - Rows

    /// `x'` for rows `x` `[n, d_in]`, editing only rows where `rowMask` is true (nil: all).
    public func forward(rows x: Tensor, rowMask: [Bool]? = nil) -> (output: Tensor, cache: InterventionCache) {
        let (n, dIn) = x.matrixShape
        precondition(dIn == sae.dIn, "LatentIntervention.forward: rows of \(dIn), d_in is \(sae.dIn)")
        guard component.isEnabled else {
            return (x, InterventionCache(rowCount: n, delta: .zero, component: ComponentCache(storage: .none), outScale: nil))
        }
        guard let encoded = try? sae.encodeWithStatistics(x) else { preconditionFailure("LatentIntervention: SAE rejected [\(n), \(dIn)] rows") }
        let (f, stats) = encoded
        let outScale: [Float]? = switch sae.config.normalizeActivations {
        case .constantNormRescale: stats.coefficient!.map { 1 / $0 }
        case .layerNorm: stats.std!
        default: nil
        }
        let (delta, cc) = component.forward(f, rowMask: rowMask)
        var out = x
        addDecoded(delta, outScale: outScale, into: &out)
        return (out, InterventionCache(rowCount: n, delta: delta, component: cc, outScale: outScale))
    }

    /// Adds (+=) d loss/d parameter into `gradients` from `dOutput` = d loss/d x' `[n, d_in]`.
    public func backward(dOutput: Tensor, cache: InterventionCache, into gradients: inout [Tensor]) {
        precondition(dOutput.matrixShape == (cache.rowCount, sae.dIn),
                     "LatentIntervention.backward: dx' \(dOutput.shape) for \(cache.rowCount) rows of \(sae.dIn)")
        let dDelta = deltaGradient(dOutput, delta: cache.delta, outScale: cache.outScale)
        component.backward(dDelta, cache: cache.component, into: &gradients)
    }

    /// `backward` into fresh zero gradients (one per component parameter).
    public func backward(dOutput: Tensor, cache: InterventionCache) -> [Tensor] {
        var g = component.parameters.map { Tensor(shape: $0.shape) }
        backward(dOutput: dOutput, cache: cache, into: &g)
        return g
    }

    // MARK: - Decoding δ

    /// `1/‖W_dec[i]‖` for topk SAEs that rescale by decoder norms, else nil.
    var decoderScale: [Float]? { sae.decoderNorms.map { $0.map { 1 / $0 } } }

    func addDecoded(_ delta: LatentDelta, outScale: [Float]?, into x: inout Tensor) {
        let dIn = sae.dIn, dSAE = sae.dSAE
        let wDec = sae.weights.wDec
        let decScale = decoderScale
        switch delta {
        case .zero: return
        case let .uniform(rows, vector):
            guard vector.contains(where: { $0 != 0 }), !rows.isEmpty else { return }
            var v = Tensor(shape: [1, dSAE], scalars: vector)
            if let decScale { for i in 0..<dSAE { v.scalars[i] *= decScale[i] } }
            var u = Tensor.uninitialized([1, dIn])
            matmul(v, wDec, into: &u)
            x.withUnsafeMutableBufferPointer { px in
                for r in rows {
                    let s = outScale?[r] ?? 1, row = px.baseAddress! + r * dIn
                    for j in 0..<dIn { row[j] += u.scalars[j] * s }
                }
            }
        case .sparse(let p):
            let nonZero = p.values.contains { $0 != 0 }
            guard nonZero else { return }
            let perRow = max(1, p.nonZeroCount / max(p.rowCount, 1))
            wDec.withUnsafeBufferPointer { pw in x.withUnsafeMutableBufferPointer { px in
                let px = px.baseAddress!, pw = pw.baseAddress!
                Parallel.forEach(p.rowCount, costPerItem: perRow * dIn) { rows in
                    var acc = [Float](repeating: 0, count: dIn)
                    for r in rows {
                        var touched = false
                        for k in p.rowStart[r]..<p.rowStart[r + 1] where p.values[k] != 0 {
                            let c = Int(p.columns[k])
                            let v = p.values[k] * (decScale?[c] ?? 1)
                            if !touched { for j in 0..<dIn { acc[j] = 0 }; touched = true }
                            let w = pw + c * dIn
                            for j in 0..<dIn { acc[j] += v * w[j] }
                        }
                        guard touched else { continue }
                        let s = outScale?[r] ?? 1, row = px + r * dIn
                        for j in 0..<dIn { row[j] += acc[j] * s }
                    }
                }
            } }
        case let .dense(rows, values):
            guard values.scalars.contains(where: { $0 != 0 }), !rows.isEmpty else { return }
            var v = values
            if let decScale { for r in 0..<rows.count { for i in 0..<dSAE { v.scalars[r * dSAE + i] *= decScale[i] } } }
            var u = Tensor.uninitialized([rows.count, dIn])
            matmul(v, wDec, into: &u)
            x.withUnsafeMutableBufferPointer { px in
                for (k, r) in rows.enumerated() {
                    let s = outScale?[r] ?? 1, row = px.baseAddress! + r * dIn
                    for j in 0..<dIn { row[j] += u.scalars[k * dIn + j] * s }
                }
            }
        }
    }

    /// d loss/dδ in the form of `delta`, from d loss/dx' `[n, d_in]`.
    func deltaGradient(_ g: Tensor, delta: LatentDelta, outScale: [Float]?) -> LatentDeltaGradient {
        let dIn = sae.dIn, dSAE = sae.dSAE
        let wDec = sae.weights.wDec
        let decScale = decoderScale
        switch delta {
        case .zero: return .zero
        case let .uniform(rows, _):
            var sum = Tensor(shape: [1, dIn])
            for r in rows { let s = outScale?[r] ?? 1; for j in 0..<dIn { sum.scalars[j] += g.scalars[r * dIn + j] * s } }
            var out = Tensor.uninitialized([1, dSAE])
            matmulTransposedB(sum, wDec, into: &out)
            if let decScale { for i in 0..<dSAE { out.scalars[i] *= decScale[i] } }
            return .rowSum(out.scalars)
        case .sparse(let p):
            var out = [Float](repeating: 0, count: p.nonZeroCount)
            let perRow = max(1, p.nonZeroCount / max(p.rowCount, 1))
            g.withUnsafeBufferPointer { pg in wDec.withUnsafeBufferPointer { pw in out.withUnsafeMutableBufferPointer { po in
                let pg = pg.baseAddress!, pw = pw.baseAddress!, po = po.baseAddress!
                Parallel.forEach(p.rowCount, costPerItem: perRow * dIn) { rows in
                    for r in rows {
                        let s = outScale?[r] ?? 1, gr = pg + r * dIn
                        for k in p.rowStart[r]..<p.rowStart[r + 1] {
                            let c = Int(p.columns[k]), w = pw + c * dIn
                            var dot: Float = 0
                            for j in 0..<dIn { dot += gr[j] * w[j] }
                            po[k] = dot * s * (decScale?[c] ?? 1)
                        }
                    }
                }
            } } }
            return .sparse(out)
        case let .dense(rows, _):
            var gr = Tensor.uninitialized([rows.count, dIn])
            for (k, r) in rows.enumerated() {
                let s = outScale?[r] ?? 1
                for j in 0..<dIn { gr.scalars[k * dIn + j] = g.scalars[r * dIn + j] * s }
            }
            var out = Tensor.uninitialized([rows.count, dSAE])
            matmulTransposedB(gr, wDec, into: &out)
            if let decScale { for k in 0..<rows.count { for i in 0..<dSAE { out.scalars[k * dSAE + i] *= decScale[i] } } }
            return .dense(out)
        }
    }
}

/// What `LatentIntervention.backward` needs from one forward call.
public struct InterventionCache: Sendable {
    public let rowCount: Int
    /// δ of this call (`.zero` when the component was off).
    public let delta: LatentDelta
    let component: ComponentCache
    /// Per-row output de-normalisation (nil: 1).
    let outScale: [Float]?
}
