/// How a checkpoint stores a linear layer's weight.
public enum WeightLayout: Sendable {
    /// `[in, out]`, y = x·W + b (HF GPT-2 `Conv1D`).
    case inOut
    /// `[out, in]`, y = x·Wᵀ + b (`nn.Linear`, Llama/Gemma/Qwen, GGUF).
    case outIn
}

/// y[n, out] = x[n, in] · W + b. Matches HF `Conv1D` (`.inOut`) and `nn.Linear` (`.outIn`).
public func linearForward(out: inout Tensor, x: Tensor, weight: Tensor, bias: Tensor?, layout: WeightLayout) {
    // With a bias, the rows start as the bias and the product accumulates onto them: one pass over
    // `out` instead of BLAS zeroing it and a second pass adding the bias.
    if let bias { fillRows(&out, with: bias) }
    switch layout {
    case .inOut: matmul(x, weight, into: &out, accumulate: bias != nil)
    case .outIn: matmulTransposedB(x, weight, into: &out, accumulate: bias != nil)
    }
}

/// Sets every row of `x` `[rows, cols]` to `row` `[cols]`.
public func fillRows(_ x: inout Tensor, with row: Tensor) {
    let (rows, cols) = x.matrixShape
    precondition(row.count == cols, "fillRows: row \(row.shape) for rows of \(cols)")
    row.withUnsafeBufferPointer { pr in x.withUnsafeMutableBufferPointer { px in
        let pr = pr.baseAddress!, px = px.baseAddress!
        Parallel.forEach(rows, costPerItem: cols) { rs in for r in rs { (px + r * cols).update(from: pr, count: cols) } }
    } }
}

/// Backward of `linearForward`. Adds (+=) into `dx`, `dWeight` and `dBias` when they are non-nil;
/// a frozen layer passes nil weight gradients and costs one product.
public func linearBackward(dx: inout Tensor?, dWeight: inout Tensor?, dBias: inout Tensor?,
                           dOut: Tensor, x: Tensor, weight: Tensor, layout: WeightLayout) {
    if dx != nil {
        switch layout {
        case .inOut: matmulTransposedB(dOut, weight, into: &dx!, accumulate: true)   // dOut·Wᵀ, W [in,out]
        case .outIn: matmul(dOut, weight, into: &dx!, accumulate: true)              // dOut·W, W [out,in]
        }
    }
    if dWeight != nil {
        switch layout {
        case .inOut: matmulTransposedA(x, dOut, into: &dWeight!, accumulate: true)   // xᵀ·dOut
        case .outIn: matmulTransposedA(dOut, x, into: &dWeight!, accumulate: true)   // dOutᵀ·x
        }
    }
    if dBias != nil { biasBackward(dBias: &dBias!, dOut: dOut) }
}
