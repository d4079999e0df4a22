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
    @inlinable
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
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

    public static var threadCount: Int {
        #if canImport(Accelerate)
        return 0
        #else
        return Int(openblas_get_num_threads())
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
