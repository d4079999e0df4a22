/// LayerNorm over the last axis (biased variance), matching `torch.nn.LayerNorm`:
/// out = (x − μ) · rstd · w + b with rstd = 1/√(var(x) + eps).
/// Shapes: x, out `[n, d]`; weight, bias `[d]` (nil: affine-free, as TransformerLens' `LNPre`);
/// mean, rstd `[n]` are saved for the backward. Statistics accumulate in Double.
public func layerNormForward(out: inout Tensor, mean: inout Tensor, rstd: inout Tensor,
                             x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) {
    let (n, d) = x.matrixShape
    precondition(out.shape == x.shape && mean.count == n && rstd.count == n, "layerNormForward: shapes")
    let w = weight?.scalars, b = bias?.scalars
    x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
    mean.withUnsafeMutableBufferPointer { pm in rstd.withUnsafeMutableBufferPointer { pr in
        let po = po.baseAddress!, pm = pm.baseAddress!, pr = pr.baseAddress!
        Parallel.forEach(n, costPerItem: d * 4) { rows in
            for r in rows {
                let row = px.baseAddress! + r * d
                // Statistics in Double: a Float running sum of d values with a large common offset loses
                // ≈ √d · ulp(Σx) (1.2e-4 relative to σ at d = 301, offset 300; see NormTests).
                var s: Double = 0
                for i in 0..<d { s += Double(row[i]) }
                let muD = s / Double(d)
                var v: Double = 0
                for i in 0..<d { let c = Double(row[i]) - muD; v += c * c }
                let mu = Float(muD), rs = Float(1 / (v / Double(d) + Double(eps)).squareRoot())
                pm[r] = mu; pr[r] = rs
                let o = po + r * d
                switch (w, b) {
                case let (w?, b?): for i in 0..<d { o[i] = (row[i] - mu) * rs * w[i] + b[i] }
                case let (w?, nil): for i in 0..<d { o[i] = (row[i] - mu) * rs * w[i] }
                default: for i in 0..<d { o[i] = (row[i] - mu) * rs }
                }
            }
        }
    } } } }
}

/// Backward of `layerNormForward`. Adds (+=) into dx, and into dWeight / dBias when non-nil.
/// dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)) with g = dOut ⊙ w and x̂ = (x − μ)·rstd.
public func layerNormBackward(dx: inout Tensor, dWeight: inout Tensor?, dBias: inout Tensor?,
                              dOut: Tensor, x: Tensor, weight: Tensor?, mean: Tensor, rstd: Tensor) {
    let (n, d) = x.matrixShape
    precondition(dx.shape == x.shape && dOut.shape == x.shape, "layerNormBackward: shapes")
    let w = weight?.scalars
    dOut.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in dx.withUnsafeMutableBufferPointer { pdx in
        let pdx = pdx.baseAddress!
        Parallel.forEach(n, costPerItem: d * 6) { rows in
            for r in rows {
                let g = pg.baseAddress! + r * d, xr = px.baseAddress! + r * d, o = pdx + r * d
                let mu = mean.scalars[r], rs = rstd.scalars[r]
                var sumG: Float = 0, sumGX: Float = 0
                for i in 0..<d {
                    let gi = g[i] * (w?[i] ?? 1)
                    sumG += gi; sumGX += gi * (xr[i] - mu) * rs
                }
                let mG = sumG / Float(d), mGX = sumGX / Float(d)
                for i in 0..<d {
                    let gi = g[i] * (w?[i] ?? 1), xh = (xr[i] - mu) * rs
                    o[i] += rs * (gi - mG - xh * mGX)
                }
            }
        }
    } } }
    if dWeight != nil || dBias != nil {
        for r in 0..<n {
            let mu = mean.scalars[r], rs = rstd.scalars[r]
            for i in 0..<d {
                let g = dOut.scalars[r * d + i]
                if dWeight != nil { dWeight!.scalars[i] += g * (x.scalars[r * d + i] - mu) * rs }
                if dBias != nil { dBias!.scalars[i] += g }
            }
        }
    }
}
