import Foundation
import IsaerftCore

/// What `LatentComponent.backward` needs from its forward pass.
public struct ComponentCache: Sendable {
    enum Storage: Sendable {
        case none
        /// scale: the active latents f (pattern and values) of the selected rows.
        case scale(SparseLatents)
        /// bias on every selected row.
        case uniform(rows: [Int])
        /// bias on active latents: the pattern.
        case activeBias(SparseLatents)
        /// mlp: the selected rows and the layer inputs a₀ = f[rows], a₁ … a_k (post-ReLU).
        case mlp(rows: [Int], inputs: [Tensor])
    }
    var storage: Storage
}

extension LatentComponent {
    /// The scale processor with its derivative: `p(s)` and `p'(s)` (abs: `|s|`, sign with +1 at 0;
    /// with a limit L: `L·tanh(q/L)`, derivative `(1 − tanh²)·q'`).
    @inline(__always)
    func processedScale(_ s: Float) -> (value: Float, derivative: Float) {
        var q = s, dq: Float = 1
        if spec.scaleProcessor == .abs { q = Swift.abs(s); dq = s < 0 ? -1 : 1 }
        if let l = spec.scaleLimit {
            let t = Float(Foundation.tanh(Double(q / l)))
            return (l * t, (1 - t * t) * dq)
        }
        return (q, dq)
    }

    /// δ = φ(f) − f on the rows selected by `rowMask` (nil: every row), and the cache `backward` needs.
    /// - Parameter f: post-activation latents `[n, d_sae]` (`hook_sae_acts_post`).
    public func forward(_ f: Tensor, rowMask: [Bool]? = nil) -> (delta: LatentDelta, cache: ComponentCache) {
        let (n, d) = f.matrixShape
        precondition(d == latentCount, "LatentComponent.forward: latents of width \(d), component has \(latentCount)")
        precondition(rowMask == nil || rowMask!.count == n, "LatentComponent.forward: row mask of \(rowMask!.count) for \(n) rows")
        guard isEnabled else { return (.zero, ComponentCache(storage: .none)) }
        let rows = rowMask.map { m in (0..<n).filter { m[$0] } } ?? Array(0..<n)
        switch spec.kind {
        case .scale:
            let active = SparseLatents(f, rowMask: rowMask)
            let s = parameters[0].scalars
            let p = s.map { processedScale($0).value }
            var values = active.values
            for k in 0..<values.count { values[k] *= p[Int(active.columns[k])] }
            return (.sparse(active.with(values: values)), ComponentCache(storage: .scale(active)))
        case .bias where spec.activeOnly:
            let active = SparseLatents(f, rowMask: rowMask, keep: { $0 > 0 })
            let b = parameters[0].scalars
            return (.sparse(active.with(values: active.columns.map { b[Int($0)] })), ComponentCache(storage: .activeBias(active)))
        case .bias:
            return (.uniform(rows: rows, vector: parameters[0].scalars), ComponentCache(storage: .uniform(rows: rows)))
        case .mlp where spec.depth == -1:
            return (.uniform(rows: rows, vector: parameters[0].scalars), ComponentCache(storage: .uniform(rows: rows)))
        case .mlp:
            var a = rows.count == n ? f : Self.gather(f, rows)
            var inputs: [Tensor] = []
            let layers = spec.depth + 1
            for l in 0..<layers {
                let w = parameters[2 * l], b = parameters[2 * l + 1]
                var z = Tensor.uninitialized([rows.count, w.shape[0]])
                linearForward(out: &z, x: a, weight: w, bias: b, layout: .outIn)
                inputs.append(a)
                if l < layers - 1 { for i in 0..<z.count where !(z.scalars[i] > 0) { z.scalars[i] = 0 } }   // ReLU
                a = z
            }
            return (.dense(rows: rows, values: a), ComponentCache(storage: .mlp(rows: rows, inputs: inputs)))
        }
    }

    /// Adds (+=) d loss/d parameter into `gradients` (one tensor per parameter, shapes as `parameters`)
    /// from `dDelta` = d loss/d δ in the form of the delta `forward` returned.
    public func backward(_ dDelta: LatentDeltaGradient, cache: ComponentCache, into gradients: inout [Tensor]) {
        precondition(gradients.count == parameters.count && zip(gradients, parameters).allSatisfy { $0.shape == $1.shape },
                     "LatentComponent.backward: gradients do not match the parameters")
        switch (cache.storage, dDelta) {
        case (.none, _), (_, .zero):
            return
        case let (.scale(active), .sparse(g)):
            precondition(g.count == active.nonZeroCount, "LatentComponent.backward: \(g.count) gradients for \(active.nonZeroCount) entries")
            let s = parameters[0].scalars
            var ds = [Double](repeating: 0, count: latentCount)
            for k in 0..<g.count { ds[Int(active.columns[k])] += Double(g[k]) * Double(active.values[k]) }
            for i in 0..<latentCount where ds[i] != 0 { gradients[0].scalars[i] += Float(ds[i]) * processedScale(s[i]).derivative }
        case let (.activeBias(active), .sparse(g)):
            precondition(g.count == active.nonZeroCount, "LatentComponent.backward: \(g.count) gradients for \(active.nonZeroCount) entries")
            var db = [Double](repeating: 0, count: latentCount)
            for k in 0..<g.count { db[Int(active.columns[k])] += Double(g[k]) }
            for i in 0..<latentCount { gradients[0].scalars[i] += Float(db[i]) }
        case let (.uniform, .rowSum(g)):
            precondition(g.count == latentCount, "LatentComponent.backward: row sum of \(g.count) for \(latentCount) latents")
            for i in 0..<latentCount { gradients[0].scalars[i] += g[i] }
        case let (.mlp(rows, inputs), .dense(g)):
            precondition(g.shape == [rows.count, latentCount], "LatentComponent.backward: dδ \(g.shape) for \(rows.count) rows")
            var dz = g
            for l in stride(from: inputs.count - 1, through: 0, by: -1) {
                var dw: Tensor? = gradients[2 * l], db: Tensor? = gradients[2 * l + 1]
                var dx: Tensor? = l > 0 ? Tensor(shape: inputs[l].shape) : nil
                linearBackward(dx: &dx, dWeight: &dw, dBias: &db, dOut: dz, x: inputs[l], weight: parameters[2 * l], layout: .outIn)
                gradients[2 * l] = dw!; gradients[2 * l + 1] = db!
                if l > 0 {
                    dz = dx!
                    let a = inputs[l]   // post-ReLU output of layer l − 1
                    for i in 0..<dz.count where !(a.scalars[i] > 0) { dz.scalars[i] = 0 }
                }
            }
        default:
            preconditionFailure("LatentComponent.backward: gradient form does not match the cached forward")
        }
    }

    /// `backward` into fresh zero gradients.
    public func backward(_ dDelta: LatentDeltaGradient, cache: ComponentCache) -> [Tensor] {
        var g = parameters.map { Tensor(shape: $0.shape) }
        backward(dDelta, cache: cache, into: &g)
        return g
    }

    static func gather(_ x: Tensor, _ rows: [Int]) -> Tensor {
        let d = x.matrixShape.cols
        var out = Tensor.uninitialized([rows.count, d])
        x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
            for (i, r) in rows.enumerated() { (po.baseAddress! + i * d).update(from: px.baseAddress! + r * d, count: d) }
        } }
        return out
    }
}
