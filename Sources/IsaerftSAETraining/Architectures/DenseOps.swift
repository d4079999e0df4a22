import IsaerftCore

// Building blocks shared by the architectures: flat loops over `[n, d_in]` and `[n, d_sae]` buffers
// and BLAS products. Shapes: y, u, x̂ `[n, d]`; h, f `[n, m]`; W_encT, W_dec `[m, d]`.

/// `u = y − b_dec` when `apply`, else `u = y` (SAELens `process_sae_in`).
func centredInput(_ y: Tensor, bDec: Tensor, apply: Bool, into u: inout Tensor) {
    Workspace.ensure(&u, y.shape)
    let d = bDec.count
    y.withUnsafeBufferPointer { yp in bDec.withUnsafeBufferPointer { bp in u.withUnsafeMutableBufferPointer { up in
        let n = yp.count / d
        for r in 0..<n { for j in 0..<d { up[r * d + j] = apply ? yp[r * d + j] - bp[j] : yp[r * d + j] } }
    } } }
}

/// `h = u · W_Tᵀ + bias` (`W_T` `[m, d]`, the nn.Linear layout) into `h` `[n, m]`.
func encoderPreActivations(_ u: Tensor, weightT: Tensor, bias: Tensor, into h: inout Tensor) {
    let n = u.shape[0], m = weightT.shape[0]
    Workspace.ensure(&h, [n, m])
    // Rows start as the bias and the product accumulates onto them (beta = 1): one write pass
    // instead of OpenBLAS' beta pass plus a read-modify-write bias pass.
    bias.withUnsafeBufferPointer { bp in h.withUnsafeMutableBufferPointer { hp in
        let b = bp.baseAddress!, p = hp.baseAddress!
        Parallel.forEach(n, costPerItem: m) { rows in for r in rows { (p + r * m).update(from: b, count: m) } }
    } }
    matmulTransposedB(u, weightT, into: &h, accumulate: true)
}

/// `t[r, :] += bias` for every row.
func addRowBias(_ t: inout Tensor, _ bias: Tensor) {
    let m = bias.count
    bias.withUnsafeBufferPointer { bp in t.withUnsafeMutableBufferPointer { tp in
        let b = bp.baseAddress!, p = tp.baseAddress!
        Parallel.forEach(tp.count / m, costPerItem: m) { rows in
            for r in rows { let row = p + r * m; for j in 0..<m { row[j] += b[j] } }
        }
    } }
}

/// `x̂ = f · W_dec + b_dec` into `xhat` `[n, d]`.
func denseDecode(_ f: Tensor, wDec: Tensor, bDec: Tensor, into xhat: inout Tensor) {
    Workspace.ensure(&xhat, [f.shape[0], wDec.shape[1]])
    matmul(f, wDec, into: &xhat)
    addRowBias(&xhat, bDec)
}

/// Reconstruction statistics of `xhat` against `y`; writes `dxhat = scale · 2(x̂ − y)/n`, the
/// gradient of `scale · mean_batch Σ_d (x̂ − y)²`. Returns (mean_batch Σ_d (x̂ − y)², explained variance).
@discardableResult
func reconstructionGradient(_ xhat: Tensor, target y: Tensor, scale: Double = 1, into dxhat: inout Tensor) -> (mse: Double, explainedVariance: Double) {
    Workspace.ensure(&dxhat, xhat.shape)
    let (n, d) = xhat.matrixShape
    var sq = 0.0
    var mean = [Double](repeating: 0, count: d), sumSq = 0.0
    let g = Float(2 * scale / Double(n))
    xhat.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in dxhat.withUnsafeMutableBufferPointer { dp in
        for r in 0..<n {
            var s: Float = 0
            for j in 0..<d {
                let e = xp[r * d + j] - yp[r * d + j]
                s += e * e
                dp[r * d + j] = g * e
                let yv = Double(yp[r * d + j])
                mean[j] += yv; sumSq += yv * yv
            }
            sq += Double(s)
        }
    } } }
    var meanNormSq = 0.0
    for j in 0..<d { let mj = mean[j] / Double(n); meanNormSq += mj * mj }
    let variance = sumSq / Double(n) - meanNormSq
    let mse = sq / Double(n)
    return (mse, variance > 0 ? 1 - mse / variance : 0)
}

/// Column sums of `t` `[n, m]`, `[m]` (parallel over column blocks).
func columnSums(_ t: Tensor) -> [Float] {
    let (n, m) = t.matrixShape
    var out = [Float](repeating: 0, count: m)
    t.withUnsafeBufferPointer { tp in out.withUnsafeMutableBufferPointer { op in
        let p = tp.baseAddress!, o = op.baseAddress!
        forEachColumnBlock(m, rows: n) { cols in
            for r in 0..<n { let row = p + r * m; for j in cols { o[j] += row[j] } }
        }
    } }
    return out
}

/// Runs `body` over column ranges of a `[rows, m]` matrix in parallel (each range owned by one worker).
@inline(__always)
func forEachColumnBlock(_ m: Int, rows: Int, _ body: (Range<Int>) -> Void) {
    let block = 256
    let blocks = (m + block - 1) / block
    Parallel.forEach(blocks, costPerItem: block * rows) { range in
        body((range.lowerBound * block)..<min(m, range.upperBound * block))
    }
}

/// `out[d] (+)= Σ_j v[j] · W[j, d]` for `W` `[m, d]` (`vᵀ·W`), `alpha` scaling the product.
func vectorTimesMatrix(_ v: [Float], _ w: Tensor, alpha: Float, into out: inout Tensor, accumulate: Bool) {
    let (m, d) = w.matrixShape
    precondition(v.count == m && out.count == d, "vectorTimesMatrix: v \(v.count), W \(w.shape), out \(out.shape)")
    v.withUnsafeBufferPointer { vp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
        BLAS.gemm(transA: false, transB: false, m: 1, n: d, k: m, alpha: alpha, a: vp.baseAddress!, lda: m,
                  b: wp.baseAddress!, ldb: d, beta: accumulate ? 1 : 0, c: op.baseAddress!, ldc: d)
    } } }
}

/// `g[i, :] += s[i] · W[i, :]` (decoder-norm gradients: `s_i = ∂L/∂n_i / n_i`).
func addRowScaled(_ g: inout Tensor, _ w: Tensor, scales s: [Float]) {
    let (m, d) = w.matrixShape
    w.withUnsafeBufferPointer { wp in g.withUnsafeMutableBufferPointer { gp in s.withUnsafeBufferPointer { sp in
        let wb = wp.baseAddress!, gb = gp.baseAddress!, sb = sp.baseAddress!
        Parallel.forEach(m, costPerItem: d) { rows in
            for i in rows where sb[i] != 0 { let si = sb[i]; for j in 0..<d { gb[i * d + j] += si * wb[i * d + j] } }
        }
    } } }
}

/// `∂L/∂n_i / n_i` from `∂L/∂n_i` (0 where the norm is 0, as SAELens' masked norm backward).
func normGradientScales(_ dn: [Float], norms: [Float]) -> [Float] {
    zip(dn, norms).map { $1 > 0 ? $0 / $1 : 0 }
}

/// The gradient of `b_dec` through `u = y − b_dec` when b_dec is applied to the input:
/// `db_dec −= Σ_r du_r = (Σ_r dpre_r) · W_Tᵀ`-style products, given the column sums of the
/// pre-activation gradient (`db` `[m]`) and the encoder weights `W_T` `[m, d]`.
func subtractEncoderInputGradient(_ db: [Float], weightT: Tensor, from gBDec: inout Tensor) {
    vectorTimesMatrix(db, weightT, alpha: -1, into: &gBDec, accumulate: true)
}
