// Short vector loops for the sparse kernels, written with SIMD16 so that they vectorise without
// fast-math and without `addProduct` (which becomes a libm fmaf call per lane at the baseline
// x86-64 target) (a plain Float dot product is a serial reduction under strict IEEE ordering; measured
// ≈ 2 GFLOP/s in the top-k row pass before this).

/// `Σ a[j]·b[j]` over `n` values (16 lanes, then the remainder).
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var j = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while j + 16 <= n {
        acc += ra.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
            * rb.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
        j += 16
    }
    var s = acc.sum()
    while j < n { s += a[j] * b[j]; j += 1 }
    return s
}

/// `y[j] += alpha · x[j]` over `n` values.
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    var j = 0
    let rx = UnsafeRawPointer(x), ry = UnsafeMutableRawPointer(y)
    let va = SIMD16<Float>(repeating: alpha)
    while j + 16 <= n {
        let v = ry.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
            + va * rx.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self)
        ry.storeBytes(of: v, toByteOffset: j * 4, as: SIMD16<Float>.self)
        j += 16
    }
    while j < n { y[j] += alpha * x[j]; j += 1 }
}

/// Index of the first of `n` values (from `start`) greater than `bound`, or `n` when none is.
@inline(__always)
func firstGreater(_ row: UnsafePointer<Float>, from start: Int, count n: Int, than bound: Float) -> Int {
    var j = start
    let r = UnsafeRawPointer(row), vb = SIMD16<Float>(repeating: bound)
    while j + 16 <= n {
        if any(r.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) .> vb) { break }
        j += 16
    }
    while j < n { if row[j] > bound { return j }; j += 1 }
    return n
}
