import CKernels

/// LayerNorm over the last axis (biased variance), matching `torch.nn.LayerNorm`:
/// out = (x − μ) · rstd · w + b with rstd = 1/√(var(x) + eps).
/// Shapes: x, out `[n, d]`; weight, bias `[d]` (nil: affine-free, as TransformerLens' `LNPre`);
/// mean, rstd `[n]` are saved for the backward. Statistics accumulate in Double.
public func layerNormForward(out: inout Tensor, mean: inout Tensor, rstd: inout Tensor,
                             x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) {
    let (n, d) = x.matrixShape
    precondition(out.shape == x.shape && mean.count == n && rstd.count == n, "layerNormForward: shapes")
    // Statistics in Double: a Float running sum of d values with a large common offset loses
    // ≈ √d · ulp(Σx) (1.2e-4 relative to σ at d = 301, offset 300; see NormTests). Rows run in C.
    x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
    mean.withUnsafeMutableBufferPointer { pm in rstd.withUnsafeMutableBufferPointer { pr in
        let po = po.baseAddress!, pm = pm.baseAddress!, pr = pr.baseAddress!, px = px.baseAddress!
        withOptionalPointer(weight) { pw in withOptionalPointer(bias) { pb in
            Parallel.forEach(n, costPerItem: d * 4) { rows in
                isa_layernorm_rows(po, pm, pr, px, pw, pb, rows.lowerBound, rows.upperBound, d, eps)
            }
        } }
    } } } }
}

/// Calls `body` with the tensor's base address, or nil.
@inline(__always)
func withOptionalPointer<R>(_ t: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return body(nil) }
    return t.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Backward of `layerNormForward`. Adds (+=) into dx, and into dWeight / dBias when non-nil.
/// dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)) with g = dOut ⊙ w and x̂ = (x − μ)·rstd.
public func layerNormBackward(dx: inout Tensor, dWeight: inout Tensor?, dBias: inout Tensor?,
                              dOut: Tensor, x: Tensor, weight: Tensor?, mean: Tensor, rstd: Tensor) {
    let (n, d) = x.matrixShape
    precondition(dx.shape == x.shape && dOut.shape == x.shape, "layerNormBackward: shapes")
    dOut.withUnsafeBufferPointer { pg in x.withUnsafeBufferPointer { px in dx.withUnsafeMutableBufferPointer { pdx in
    mean.withUnsafeBufferPointer { pm in rstd.withUnsafeBufferPointer { pr in
        let pdx = pdx.baseAddress!, pg = pg.baseAddress!, px = px.baseAddress!, pm = pm.baseAddress!, pr = pr.baseAddress!
        withOptionalPointer(weight) { pw in
            Parallel.forEach(n, costPerItem: d * 6) { rows in
                isa_layernorm_backward_rows(pdx, pg, px, pw, pm, pr, rows.lowerBound, rows.upperBound, d)
            }
        }
    } } } } }
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
