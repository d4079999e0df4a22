import CKernels

/// Residual add and small element-wise helpers.

/// `out = a + b` (same shape). Matches `torch.add`.
public func residualForward(out: inout Tensor, _ a: Tensor, _ b: Tensor) {
    precondition(a.shape == b.shape && out.count == a.count, "residualForward: shapes \(a.shape), \(b.shape), out \(out.shape)")
    let n = a.count
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { po in
        isa_add(po.baseAddress!, pa.baseAddress!, pb.baseAddress!, n)
    } } }
}

/// Backward of a residual add: `d += dOut` (the gradient flows unchanged to both inputs).
public func accumulate(_ d: inout Tensor, _ dOut: Tensor) {
    precondition(d.count == dOut.count, "accumulate: \(d.shape) += \(dOut.shape)")
    let n = d.count
    dOut.withUnsafeBufferPointer { pg in d.withUnsafeMutableBufferPointer { pd in
        for i in 0..<n { pd[i] += pg[i] }
    } }
}

/// Adds `bias` [cols] to every row of `x` [rows, cols].
public func addBias(_ x: inout Tensor, _ bias: Tensor) {
    let (rows, cols) = x.matrixShape
    precondition(bias.count == cols, "addBias: bias \(bias.shape) for rows of \(cols)")
    bias.withUnsafeBufferPointer { pb in x.withUnsafeMutableBufferPointer { px in
        for r in 0..<rows { let o = r * cols; for c in 0..<cols { px[o + c] += pb[c] } }
    } }
}

/// `dBias[c] += Σ_r dOut[r, c]`.
public func biasBackward(dBias: inout Tensor, dOut: Tensor) {
    let (rows, cols) = dOut.matrixShape
    precondition(dBias.count == cols, "biasBackward: dBias \(dBias.shape) for \(cols) columns")
    dOut.withUnsafeBufferPointer { pg in dBias.withUnsafeMutableBufferPointer { pb in
        for r in 0..<rows { let o = r * cols; for c in 0..<cols { pb[c] += pg[o + c] } }
    } }
}
