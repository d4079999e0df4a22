#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// The one place that hands pointers to BLAS (OpenBLAS on Linux, Accelerate on macOS).
///
/// Row-major products `C = α·op(A)·op(B) + β·C`. Tensor-level wrappers check shapes; the pointer
/// form exists for strided views (attention heads inside a fused q|k|v buffer).
public enum BLAS {
    /// `c[m, n] = alpha · op(a) · op(b) + beta · c`, all row-major with leading dimensions given.
    /// `op(a)` is `[m, k]` (`a` stored `[m, k]`, or `[k, m]` when `transA`); likewise `op(b)` is `[k, n]`.
    ///
    /// On Linux, OpenBLAS runs single-threaded and large products are split here into one block of
    /// columns (or rows) per `Parallel` worker, so BLAS and the element-wise kernels share one pool of
    /// threads. (With OpenBLAS's own pool, its idle workers spin for a while after each product and
    /// took a third of the cores from the element-wise kernels that follow: measured 30–40% slower
    /// attention and GELU in a GPT-2 forward.) Each block is one single-threaded product with the
    /// same blocking, so results equal one unsplit call bit for bit, except OpenBLAS's transposed
    /// matrix-vector kernel (`m == 1`, `b` not transposed), whose sums round differently (≤ 1e-6 relative).
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        #if canImport(Accelerate)
        single(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
               beta: beta, c: c, ldc: ldc)
        #else
        _ = singleThreadedOpenBLAS
        // A matrix-vector product (m == 1) is bound by reading b, and two workers read faster than
        // one well below the size where a product's own work pays for the hand-off.
        let work = m * n * k
        guard Parallel.coreCount > 1, work >= (m == 1 ? 1 << 17 : 1 << 21), !Parallel.isInsideChunk else {
            single(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc)
            return
        }
        // Columns when there are at least as many as rows (each worker then reads half of b, the
        // usually larger operand), else rows; block edges on multiples of the kernels' tile sizes.
        let splitColumns = n >= m
        let unit = splitColumns ? 64 : 16
        let total = splitColumns ? n : m
        let units = (total + unit - 1) / unit
        Parallel.forEach(units, costPerItem: work / units + 1) { range in
            let lo = range.lowerBound * unit, hi = min(total, range.upperBound * unit)
            if splitColumns {
                single(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
                       b: transB ? b + lo * ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
            } else {
                single(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha, a: transA ? a + lo : a + lo * lda,
                       lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
            }
        }
        #endif
    }

    #if !canImport(Accelerate)
    /// Set once, before the first product: OpenBLAS's own pool stays idle (see `gemm`).
    private static let singleThreadedOpenBLAS: Void = { openblas_set_num_threads(1) }()
    #endif

    /// One BLAS call on the calling thread.
    private static func single(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                               alpha: Float, a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int,
                               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 1 {
            // One row (a KV-cache decode step): a matrix-vector product reads b once, where sgemm
            // would first pack all of b (measured: packing a 262,144 × 640 head took 60% of decode time).
            let incX = transA ? lda : 1
            if beta == 0 { c.update(repeating: 0, count: n) }   // y may hold garbage (NaN · 0 is NaN)
            #if canImport(Accelerate)
            if transB { cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb), a, Int32(incX), beta, c, 1) }
            else { cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb), a, Int32(incX), beta, c, 1) }
            #else
            if transB { cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(n), blasint(k), alpha, b, blasint(ldb), a, blasint(incX), beta, c, 1) }
            else { cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(n), alpha, b, blasint(ldb), a, blasint(incX), beta, c, 1) }
            #endif
            return
        }
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        #endif
    }

    /// The OpenBLAS kernel family in use ("SkylakeX", "Prescott", …), for benchmark reports.
    public static var coreName: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
        #endif
    }

    /// Threads one product uses: the `Parallel` workers on Linux (OpenBLAS itself runs single-threaded).
    public static var threadCount: Int {
        #if canImport(Accelerate)
        return 0
        #else
        return Parallel.coreCount
        #endif
    }
}

// MARK: - Tensor-level products (shape-checked)

/// `c[m, n] (+)= a[m, k] · b[k, n]`. Matrices are the tensors seen over their last axis.
public func matmul(_ a: Tensor, _ b: Tensor, into c: inout Tensor, accumulate: Bool = false) {
    let (m, k) = a.matrixShape, (kb, n) = b.matrixShape
    precondition(k == kb, "matmul: a is \(a.shape), b is \(b.shape): inner sizes differ")
    precondition(c.matrixShape == (m, n), "matmul: c is \(c.shape), expected [\(m), \(n)]")
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.gemm(transA: false, transB: false, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                  b: pb.baseAddress!, ldb: n, beta: accumulate ? 1 : 0, c: pc.baseAddress!, ldc: n)
    } } }
}

/// `c[m, n] (+)= a[m, k] · bᵀ` where `b` is `[n, k]` (the nn.Linear layout).
public func matmulTransposedB(_ a: Tensor, _ b: Tensor, into c: inout Tensor, accumulate: Bool = false) {
    let (m, k) = a.matrixShape, (n, kb) = b.matrixShape
    precondition(k == kb, "matmulTransposedB: a is \(a.shape), b is \(b.shape): inner sizes differ")
    precondition(c.matrixShape == (m, n), "matmulTransposedB: c is \(c.shape), expected [\(m), \(n)]")
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.gemm(transA: false, transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                  b: pb.baseAddress!, ldb: k, beta: accumulate ? 1 : 0, c: pc.baseAddress!, ldc: n)
    } } }
}

/// `c[m, n] (+)= aᵀ · b` where `a` is `[k, m]` and `b` is `[k, n]` (weight gradients).
public func matmulTransposedA(_ a: Tensor, _ b: Tensor, into c: inout Tensor, accumulate: Bool = false) {
    let (k, m) = a.matrixShape, (kb, n) = b.matrixShape
    precondition(k == kb, "matmulTransposedA: a is \(a.shape), b is \(b.shape): inner sizes differ")
    precondition(c.matrixShape == (m, n), "matmulTransposedA: c is \(c.shape), expected [\(m), \(n)]")
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.gemm(transA: true, transB: false, m: m, n: n, k: k, a: pa.baseAddress!, lda: m,
                  b: pb.baseAddress!, ldb: n, beta: accumulate ? 1 : 0, c: pc.baseAddress!, ldc: n)
    } } }
}
