/// RMSNorm over the last axis: out = x · invRMS · scale with invRMS = 1/√(mean(x²) + eps).
/// Matches HF `LlamaRMSNorm` (pass scale = 1 + w for HF Gemma files, the raw value for GGUF Gemma).
/// Shapes: x, out `[n, d]`; scale `[d]` (nil: no scale, TransformerLens' `RMSNormPre`);
/// invRMS `[n]` is saved for the backward.
public func rmsNormForward(out: inout Tensor, invRMS: inout Tensor, x: Tensor, scale: Tensor?, eps: Float) {
    let (n, d) = x.matrixShape
    precondition(out.shape == x.shape && invRMS.count == n, "rmsNormForward: shapes")
    let s = scale?.scalars
    x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in invRMS.withUnsafeMutableBufferPointer { pr in
        let po = po.baseAddress!, pr = pr.baseAddress!
        Parallel.forEach(n, costPerItem: d * 3) { rows in
            for r in rows {
                let row = px.baseAddress! + r * d
                var ss: Float = 0
                for i in 0..<d { ss += row[i] * row[i] }
                let inv = 1 / (ss / Float(d) + eps).squareRoot()
                pr[r] = inv
                let o = po + r * d
                if let s { for i in 0..<d { o[i] = row[i] * inv * s[i] } } else { for i in 0..<d { o[i] = row[i] * inv } }
            }
        }
    } } }
}

/// Backward of `rmsNormForward`. Adds (+=) into dx and, when non-nil, dScale.
/// dx = inv · (g − x̂ · mean(g ⊙ x̂)) with g = dOut ⊙ scale and x̂ = x · inv.
public func rmsNormBackward(dx: inout Tensor, dScale: inout Tensor?, dOut: Tensor, x: Tensor, scale: Tensor?, invRMS: Tensor) {
    let (n, d) = x.matrixShape
    precondition(dx.shape == x.shape && dOut.shape == x.shape, "rmsNormBackward: shapes")
    let s = scale?.scalars
    dOut.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in dx.withUnsafeMutableBufferPointer { pdx in
        let pdx = pdx.baseAddress!
        Parallel.forEach(n, costPerItem: d * 5) { rows in
            for r in rows {
                let g = pg.baseAddress! + r * d, xr = px.baseAddress! + r * d, o = pdx + r * d
                let inv = invRMS.scalars[r]
                var dot: Float = 0
                for i in 0..<d { dot += g[i] * (s?[i] ?? 1) * xr[i] * inv }
                let m = dot / Float(d)
                for i in 0..<d { o[i] += inv * (g[i] * (s?[i] ?? 1) - xr[i] * inv * m) }
            }
        }
    } } }
    if dScale != nil {
        for r in 0..<n { let inv = invRMS.scalars[r]
            for i in 0..<d { dScale!.scalars[i] += dOut.scalars[r * d + i] * x.scalars[r * d + i] * inv } }
    }
}
