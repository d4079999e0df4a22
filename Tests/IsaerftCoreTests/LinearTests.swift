import IsaerftCore
import IsaerftTestSupport
import Testing

// BLAS products and the linear layer against `Reference` (Double). Inputs are N(0, 1) unless stated.
// Float products of length k = 37 against Double: the error is rounding of the Float sum, about
// √k · 2⁻²⁴ · Σ|terms| ≈ 1e-6 here; the bounds below leave ≥ 2× (mostly ~10×) headroom over what was observed.

@Suite("BLAS products and linear layers")
struct LinearTests {
    @Test("BLAS.gemm: all four transpositions, strided leading dimensions, alpha and beta")
    func gemmVariants() {
        let (m, n, k) = (5, 7, 37)
        for (tA, tB) in [(false, false), (true, false), (false, true), (true, true)] {
            // Leading dimensions wider than the matrices, so the stride handling is exercised.
            let lda = (tA ? m : k) + 3, ldb = (tB ? k : n) + 2, ldc = n + 4
            let a = Tensor.randomNormal([(tA ? k : m) * lda], seed: 11), b = Tensor.randomNormal([(tB ? n : k) * ldb], seed: 12)
            var c = Tensor.randomNormal([m * ldc], seed: 13)
            let start = c
            let want = Reference.gemm(transA: tA, transB: tB, m: m, n: n, k: k, alpha: 0.75, a: a.doubles, lda: lda,
                                      b: b.doubles, ldb: ldb, beta: -0.5, c: c.doubles, ldc: ldc)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                BLAS.gemm(transA: tA, transB: tB, m: m, n: n, k: k, alpha: 0.75, a: pa.baseAddress!, lda: lda,
                          b: pb.baseAddress!, ldb: ldb, beta: -0.5, c: pc.baseAddress!, ldc: ldc)
            } } }
            // Observed max |Δ| 2.1e-6 (elements up to ~20); padding columns of c must be untouched (exact).
            expectClose(compare(c, want, atol: 1e-5, rtol: 1e-5), "gemm transA \(tA) transB \(tB)")
            let padding = (0..<m).flatMap { i in (n..<ldc).map { i * ldc + $0 } }
            #expect(padding.allSatisfy { c.scalars[$0].bitPattern == start.scalars[$0].bitPattern }, "columns n..<ldc untouched")
        }
    }

    @Test("BLAS.gemm: beta = 0 ignores NaN in c; k = 0 gives beta·c")
    func gemmEdgeCases() {
        let (m, n, k) = (3, 5, 17)
        let a = Tensor.randomNormal([m, k], seed: 21), b = Tensor.randomNormal([k, n], seed: 22)
        var c = Tensor(shape: [m, n], repeating: .nan)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            BLAS.gemm(transA: false, transB: false, m: m, n: n, k: k, a: pa.baseAddress!, lda: k,
                      b: pb.baseAddress!, ldb: n, beta: 0, c: pc.baseAddress!, ldc: n)
        } } }
        // Observed max |Δ| 3.9e-7.
        expectClose(compare(c, Reference.matmul(a.doubles, b.doubles, m: m, k: k, n: n), atol: 1e-5, rtol: 1e-5),
                    "gemm beta 0 over NaN")
        var d = Tensor(shape: [m, n], repeating: 3)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in d.withUnsafeMutableBufferPointer { pd in
            BLAS.gemm(transA: false, transB: false, m: m, n: n, k: 0, alpha: 2, a: pa.baseAddress!, lda: k,
                      b: pb.baseAddress!, ldb: n, beta: 0.5, c: pd.baseAddress!, ldc: n)
        } } }
        #expect(d.scalars.allSatisfy { $0 == 1.5 }, "k = 0: an empty sum, so c = beta·c exactly")
    }

    @Test("Tensor matmul, matmulTransposedA, matmulTransposedB, with and without accumulate")
    func tensorProducts() {
        let (m, k, n) = (5, 37, 29)
        let a = Tensor.randomNormal([m, k], seed: 31), b = Tensor.randomNormal([k, n], seed: 32)
        let aT = Tensor.randomNormal([k, m], seed: 33), bT = Tensor.randomNormal([n, k], seed: 34)
        let start = Tensor.randomNormal([m, n], seed: 35)
        let cases: [(String, (inout Tensor, Bool) -> Void, [Double])] = [
            ("matmul", { matmul(a, b, into: &$0, accumulate: $1) }, Reference.matmul(a.doubles, b.doubles, m: m, k: k, n: n)),
            ("matmulTransposedA", { matmulTransposedA(aT, b, into: &$0, accumulate: $1) },
             Reference.matmulTransposedA(aT.doubles, b.doubles, m: m, k: k, n: n)),
            ("matmulTransposedB", { matmulTransposedB(a, bT, into: &$0, accumulate: $1) },
             Reference.matmulTransposedB(a.doubles, bT.doubles, m: m, k: k, n: n)),
        ]
        for (name, run, want) in cases {
            var c = Tensor(shape: [m, n], repeating: .nan)
            run(&c, false)
            // Observed max |Δ| 5.0e-6 (elements up to ~25, ulp(16) = 1.9e-6); 2.9e-6 for the TT product below.
            expectClose(compare(c, want, atol: 1e-5, rtol: 1e-5), name)
            var acc = start
            run(&acc, true)
            expectClose(compare(acc, Reference.add(start.doubles, want), atol: 1e-5, rtol: 1e-5), "\(name) accumulate")
        }
        // The fourth variant (both transposed) is only reachable through BLAS.gemm.
        var c = Tensor(shape: [m, n])
        aT.withUnsafeBufferPointer { pa in bT.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            BLAS.gemm(transA: true, transB: true, m: m, n: n, k: k, a: pa.baseAddress!, lda: m,
                      b: pb.baseAddress!, ldb: k, c: pc.baseAddress!, ldc: n)
        } } }
        expectClose(compare(c, Reference.matmulTransposedAB(aT.doubles, bT.doubles, m: m, k: k, n: n), atol: 1e-5, rtol: 1e-5),
                    "gemm TT")
    }

    @Test("linear forward, both layouts, with and without bias", arguments: [WeightLayout.inOut, .outIn], [true, false])
    func linearForwardMatches(layout: WeightLayout, withBias: Bool) {
        let (n, inF, outF) = (5, 37, 29)
        let x = Tensor.randomNormal([n, inF], seed: 41)
        let w = Tensor.randomNormal(layout == .inOut ? [inF, outF] : [outF, inF], std: 0.2, seed: 42)
        let bias = withBias ? Tensor.randomNormal([outF], seed: 43) : nil
        var out = Tensor(shape: [n, outF], repeating: .nan)
        linearForward(out: &out, x: x, weight: w, bias: bias, layout: layout)
        let want = Reference.linear(x: x.doubles, weight: w.doubles, bias: bias?.doubles, rows: n,
                                    inFeatures: inF, outFeatures: outF, layout: layout)
        // Observed max |Δ| 4.7e-7 (outputs ~ 1–3).
        expectClose(compare(out, want, atol: 1e-5, rtol: 1e-5), "linear \(layout) bias \(withBias)")
    }

    @Test("linear backward: twin, finite differences (x, W, b), accumulation, frozen weights",
          arguments: [WeightLayout.inOut, .outIn])
    func linearBackwardMatches(layout: WeightLayout) {
        let (n, inF, outF) = (5, 37, 29)
        let x = Tensor.randomNormal([n, inF], seed: 51)
        let w = Tensor.randomNormal(layout == .inOut ? [inF, outF] : [outF, inF], std: 0.2, seed: 52)
        let b = Tensor.randomNormal([outF], seed: 53)
        let dOut = Tensor.randomNormal([n, outF], seed: 54)
        var dx: Tensor? = Tensor(shape: x.shape), dW: Tensor? = Tensor(shape: w.shape), dB: Tensor? = Tensor(shape: [outF])
        linearBackward(dx: &dx, dWeight: &dW, dBias: &dB, dOut: dOut, x: x, weight: w, layout: layout)
        let ref = Reference.linearBackward(dOut: dOut.doubles, x: x.doubles, weight: w.doubles, rows: n,
                                           inFeatures: inF, outFeatures: outF, layout: layout)
        // Observed max |Δ| 8.3e-7 (dx), 1.3e-6 (dW), 3.7e-7 (dBias); gradients up to ~10.
        expectClose(compare(dx!, ref.dx, atol: 1e-5, rtol: 1e-5), "linear \(layout) dx vs twin")
        expectClose(compare(dW!, ref.dWeight, atol: 1e-5, rtol: 1e-5), "linear \(layout) dW vs twin")
        expectClose(compare(dB!, ref.dBias, atol: 1e-5, rtol: 1e-5), "linear \(layout) dBias vs twin")

        // Finite differences of the Double forward with L = Σ out ⊙ dOut. The function is linear in each
        // input, so differences are exact up to rounding ≈ 1e-16·|L|/h: the twin matches to 8e-10 (bound 1e-8);
        // the Float kernel to its rounding (observed 3.7e-7).
        let (xs, ws, bs, g) = (x.doubles, w.doubles, b.doubles, dOut.doubles)
        func lossX(_ v: [Double]) -> Double { dot(Reference.linear(x: v, weight: ws, bias: bs, rows: n, inFeatures: inF, outFeatures: outF, layout: layout), g) }
        func lossW(_ v: [Double]) -> Double { dot(Reference.linear(x: xs, weight: v, bias: bs, rows: n, inFeatures: inF, outFeatures: outF, layout: layout), g) }
        func lossB(_ v: [Double]) -> Double { dot(Reference.linear(x: xs, weight: ws, bias: v, rows: n, inFeatures: inF, outFeatures: outF, layout: layout), g) }
        let cx = coordinates(xs.count, seed: 1), cw = coordinates(ws.count, seed: 2), cb = coordinates(bs.count, seed: 3)
        expectClose(gradCheck(dx!, x: xs, coords: cx, atol: 1e-5, rtol: 1e-5, lossX), "linear \(layout) dx vs FD")
        expectClose(gradCheck(dW!, x: ws, coords: cw, atol: 1e-5, rtol: 1e-5, lossW), "linear \(layout) dW vs FD")
        expectClose(gradCheck(dB!, x: bs, coords: cb, atol: 1e-5, rtol: 1e-5, lossB), "linear \(layout) dBias vs FD")
        expectClose(gradCheck(ref.dx, x: xs, coords: cx, atol: 1e-8, rtol: 1e-8, lossX), "linear \(layout) twin dx vs FD")
        expectClose(gradCheck(ref.dWeight, x: ws, coords: cw, atol: 1e-8, rtol: 1e-8, lossW), "linear \(layout) twin dW vs FD")
        expectClose(gradCheck(ref.dBias, x: bs, coords: cb, atol: 1e-8, rtol: 1e-8, lossB), "linear \(layout) twin dBias vs FD")

        // Accumulation: a second call adds the same gradient again. Observed: exactly double for dx and dW (small
        // k, one BLAS block); dBias adds row by row into the total: 4.8e-7 (1 ulp). Bound 1e-6 relative.
        let once = (dx!, dW!, dB!)
        linearBackward(dx: &dx, dWeight: &dW, dBias: &dB, dOut: dOut, x: x, weight: w, layout: layout)
        for (name, twice, single) in [("dx", dx!, once.0), ("dW", dW!, once.1), ("dBias", dB!, once.2)] {
            let doubled = single.doubles.map { 2 * $0 }
            expectClose(compare(twice, doubled, atol: 1e-7, rtol: 1e-6), "linear \(layout) \(name) accumulates")
        }

        // Frozen layer: nil weight gradients, dx alone is still right.
        var dxOnly: Tensor? = Tensor(shape: x.shape), noW: Tensor? = nil, noB: Tensor? = nil
        linearBackward(dx: &dxOnly, dWeight: &noW, dBias: &noB, dOut: dOut, x: x, weight: w, layout: layout)
        #expect(noW == nil && noB == nil)
        #expect(bitwiseEqual(dxOnly!.scalars, once.0.scalars), "dx does not depend on whether weight gradients are wanted")
    }

    @Test("residual add and bias add / bias gradient")
    func residualAndBias() {
        let (rows, cols) = (5, 37)
        let a = Tensor.randomNormal([rows, cols], seed: 61), b = Tensor.randomNormal([rows, cols], seed: 62)
        var out = Tensor(shape: [rows, cols])
        residualForward(out: &out, a, b)
        // One Float addition of Float inputs: exact up to one rounding (≤ 2⁻²⁴ relative). Observed 2.4e-7 abs.
        expectClose(compare(out, Reference.add(a.doubles, b.doubles), atol: 0, rtol: 0x1p-24), "residual add")
        var acc = a
        accumulate(&acc, b)
        #expect(bitwiseEqual(acc.scalars, out.scalars), "accumulate(a, b) is the same Float addition as a + b")
        let bias = Tensor.randomNormal([cols], seed: 63)
        var x = a
        addBias(&x, bias)
        expectClose(compare(x, Reference.addBias(a.doubles, bias.doubles, rows: rows, cols: cols), atol: 0, rtol: 0x1p-24), "addBias")
        var dBias = Tensor(shape: [cols], repeating: 1)
        biasBackward(dBias: &dBias, dOut: b)
        let want = Reference.biasGradient(b.doubles, rows: rows, cols: cols).map { $0 + 1 }
        // Five Float additions: observed 3.3e-7.
        expectClose(compare(dBias, want, atol: 1e-6, rtol: 1e-6), "biasBackward accumulates onto 1")
    }
}
