import Foundation
import IsaerftCore
import IsaerftTestSupport
import Testing

// Parallel.forEach (the C pool) splits 0..<n into at most `coreCount` contiguous chunks when n × costPerItem ≥ 32 768 and
// runs serially otherwise. Each test checks that the parallel split covers every index exactly once and that
// kernels give bitwise the same result as serial, one-row-at-a-time calls (rows are independent, and each
// row's arithmetic does not depend on which chunk runs it).

/// Collects the ranges handed to the body from several threads.
private final class RangeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var ranges: [Range<Int>] = []
    func add(_ r: Range<Int>) { lock.lock(); ranges.append(r); lock.unlock() }
    var sorted: [Range<Int>] { lock.lock(); defer { lock.unlock() }; return ranges.sorted { $0.lowerBound < $1.lowerBound } }
}

@Suite("Parallel")
struct ParallelTests {
    @Test("forEach covers 0..<n exactly once, tiny and big n", arguments: [0, 1, 3, 17, 32_767, 100_003])
    func coverage(n: Int) {
        let log = RangeLog()
        var values = [Float](repeating: .nan, count: n)
        values.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress
            Parallel.forEach(n) { range in
                log.add(range)
                for i in range { p![i] = Float(Foundation.sin(Double(i))) }
            }
        }
        let ranges = log.sorted
        #expect(ranges.allSatisfy { !$0.isEmpty }, "no empty chunk is handed out")
        #expect(ranges.first?.lowerBound ?? 0 == 0 && ranges.last?.upperBound ?? 0 == n, "chunks span 0..<\(n)")
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "chunks are contiguous, disjoint")
        // Below 32 768 units of work the body runs once, on the caller's thread.
        if n > 0 && n < 32_768 { #expect(ranges.count == 1) }
        if n >= 32_768 { #expect(ranges.count == min(Parallel.coreCount, n)) }
        #expect(bitwiseEqual(values, (0..<n).map { Float(Foundation.sin(Double($0))) }), "identical to serial")
    }

    @Test("row kernels: one big (parallel) call equals row-by-row (serial) calls bitwise")
    func rowKernelsMatchSerial() {
        let (n, d) = (1_001, 37)                     // LayerNorm cost 1 001 · 148 ≥ 32 768: parallel
        let x = Tensor.randomNormal([n, d], std: 2, seed: 601)
        let w = Tensor.randomNormal([d], seed: 602), b = Tensor.randomNormal([d], seed: 603)
        var out = Tensor(shape: [n, d]), mean = Tensor(shape: [n]), rstd = Tensor(shape: [n])
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, eps: 1e-5)
        var rms = Tensor(shape: [n, d]), inv = Tensor(shape: [n])
        rmsNormForward(out: &rms, invRMS: &inv, x: x, scale: w, eps: 1e-6)
        var logp = Tensor(shape: [n, d])
        logSoftmaxForward(out: &logp, x: x)
        var rowsLN = [Float](), rowsRMS = [Float](), rowsLogp = [Float]()
        for r in 0..<n {
            let xr = x.rows(r..<(r + 1))
            var o = Tensor(shape: [1, d]), m = Tensor(shape: [1]), s = Tensor(shape: [1])
            layerNormForward(out: &o, mean: &m, rstd: &s, x: xr, weight: w, bias: b, eps: 1e-5)
            rowsLN += o.scalars
            rmsNormForward(out: &o, invRMS: &m, x: xr, scale: w, eps: 1e-6)
            rowsRMS += o.scalars
            logSoftmaxForward(out: &o, x: xr)
            rowsLogp += o.scalars
        }
        #expect(bitwiseEqual(out.scalars, rowsLN), "layerNorm parallel vs serial")
        #expect(bitwiseEqual(rms.scalars, rowsRMS), "rmsNorm parallel vs serial")
        #expect(bitwiseEqual(logp.scalars, rowsLogp), "logSoftmax parallel vs serial")
    }

    @Test("element-wise kernels: one big (parallel) GELU call equals small (serial) calls bitwise")
    func geluMatchesSerial() {
        let n = 4_099                                 // 257 blocks of 16 · 320 ≥ 32 768: parallel
        let x = Tensor.randomNormal([n], std: 3, seed: 611), dOut = Tensor.randomNormal([n], seed: 612)
        for kind in [GELUKind.tanh, .exact] {
            var out = Tensor(shape: [n]), dx = Tensor(shape: [n])
            geluForward(out: &out, x: x, kind: kind)
            geluBackward(dx: &dx, dOut: dOut, x: x, kind: kind)
            var pieces = [Float](), dPieces = [Float]()
            for start in stride(from: 0, to: n, by: 100) {          // 100 is not a multiple of 16: lanes shift
                let r = start..<min(n, start + 100)
                let xs = Tensor(shape: [r.count], scalars: Array(x.scalars[r]))
                var o = Tensor(shape: [r.count]), d = Tensor(shape: [r.count])
                geluForward(out: &o, x: xs, kind: kind)
                geluBackward(dx: &d, dOut: Tensor(shape: [r.count], scalars: Array(dOut.scalars[r])), x: xs, kind: kind)
                pieces += o.scalars
                dPieces += d.scalars
            }
            #expect(bitwiseEqual(out.scalars, pieces), "gelu \(kind) forward parallel vs serial")
            #expect(bitwiseEqual(dx.scalars, dPieces), "gelu \(kind) backward parallel vs serial")
        }
    }

    @Test("attention at a parallel size (B·H chunks) matches the reference, forward and backward")
    func attentionParallelSize() {
        // Forward cost B·H·Tq·Tk·D = 2·4·24·24·37 ≈ 170 000 ≥ 32 768: the heads run in parallel chunks.
        let g = AttentionGeometry(batch: 2, queryLength: 24, heads: 4, kvHeads: 2, headDim: 37, window: 9)
        let c = AttentionCase(name: "parallel", geometry: g, keyMask: AttentionCase.leftPadded(keyLength: 24, pads: 5))
        let got = attentionKernelForward(c)
        let want = Reference.attention(q: c.q.doubles, k: c.k.doubles, v: c.v.doubles, keyMask: c.keyMask, geometry: g)
        // As in AttentionTests; D = 37 dot products: observed max |Δ| 1.5e-7 (probs), 4.4e-7 (z).
        expectClose(compare(got.probs, want.probs, atol: 1e-6, rtol: 1e-6), "parallel probs")
        expectClose(compare(got.z, want.z, atol: 2e-6, rtol: 1e-6), "parallel z")
        let dZ = Tensor.randomNormal([g.batch * g.queryLength, g.heads * g.headDim], seed: 621)
        var dProbs = Tensor(shape: g.probsShape), dv = Tensor(shape: c.v.shape)
        var dq = Tensor(shape: c.q.shape), dk = Tensor(shape: c.k.shape)
        attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: got.probs, v: c.v, geometry: g)
        attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: got.probs, q: c.q, k: c.k, geometry: g)
        let ref = Reference.attentionBackward(dZ: dZ.doubles, q: c.q.doubles, k: c.k.doubles, v: c.v.doubles,
                                              keyMask: c.keyMask, geometry: g)
        // Observed max |Δ| 4.8e-7 (dq), 6.3e-7 (dk), 9.0e-7 (dv); gradients up to ~10.
        expectClose(compare(dq, ref.dq, atol: 1e-5, rtol: 1e-5), "parallel dq")
        expectClose(compare(dk, ref.dk, atol: 1e-5, rtol: 1e-5), "parallel dk")
        expectClose(compare(dv, ref.dv, atol: 1e-5, rtol: 1e-5), "parallel dv")
    }

    @Test("a forEach inside a chunk runs serially on that thread, and every index is still covered")
    func nestedCallsRunSerially() {
        let log = RangeLog()
        let inner = RangeLog()
        Parallel.forEach(4, costPerItem: 1 << 20) { outer in
            log.add(outer)
            #expect(Parallel.isInsideChunk)
            for i in outer {
                Parallel.forEach(1_000, costPerItem: 1 << 20) { r in inner.add((i * 1_000 + r.lowerBound)..<(i * 1_000 + r.upperBound)) }
            }
        }
        #expect(!Parallel.isInsideChunk, "the depth is restored after the call")
        let outer = log.sorted, nested = inner.sorted
        #expect(outer.count == min(Parallel.coreCount, 4))
        #expect(nested.count == 4, "each nested call is one serial range: \(nested)")
        #expect(nested.map(\.count) == [1_000, 1_000, 1_000, 1_000])
    }

    @Test("concurrent callers (as under swift test --parallel) each get all their chunks")
    func concurrentCallers() async {
        let n = 200_000
        let sums = await withTaskGroup(of: Double.self) { group in
            for t in 0..<8 {
                group.addTask {
                    var total = 0.0
                    for _ in 0..<20 {
                        var values = [Float](repeating: 0, count: n)
                        values.withUnsafeMutableBufferPointer { buffer in
                            let p = buffer.baseAddress!
                            Parallel.forEach(n) { range in for i in range { p[i] = Float(i % 7 + t) } }
                        }
                        total += values.reduce(0.0) { $0 + Double($1) }
                    }
                    return total
                }
            }
            var all: [Double] = []
            for await s in group { all.append(s) }
            return all.sorted()
        }
        let want = (0..<8).map { t in 20 * (0..<n).reduce(0.0) { $0 + Double($1 % 7 + t) } }.sorted()
        #expect(sums == want)
    }

    @Test("a BLAS product split over the workers equals one single-threaded call bitwise",
          arguments: [(64, 3_000, 40, false, true), (3_000, 48, 40, true, false), (1, 9_000, 64, false, true),
                      (1, 9_000, 64, false, false)] as [(Int, Int, Int, Bool, Bool)])
    func splitProductsMatchOneCall(m: Int, n: Int, k: Int, transA: Bool, transB: Bool) {
        let a = Tensor.randomNormal([m * k], seed: 611), b = Tensor.randomNormal([k * n], seed: 612)
        let c0 = Tensor.randomNormal([m * n], seed: 613)
        func product(serial: Bool) -> [Float] {
            var c = c0
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                let (pa, pb, pc) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                let call = {
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: pa, lda: transA ? m : k,
                              b: pb, ldb: transB ? k : n, beta: 0.25, c: pc, ldc: n)
                }
                // Inside a chunk the product is one call on that thread; outside, it is split.
                if serial { Parallel.forEach(2, costPerItem: 1 << 20) { r in if r.contains(0) { call() } } } else { call() }
            } } }
            return c.scalars
        }
        #expect(m * n * k >= (m == 1 ? 1 << 17 : 1 << 21), "the shape is large enough to be split")
        let split = product(serial: false), whole = product(serial: true)
        if m == 1 && !transB {
            // OpenBLAS's transposed matrix-vector kernel sums each output in an order that depends on where
            // its block of columns starts, so only this case is not bitwise: sums of 64 products, observed
            // max |Δ| 9.5e-7 (values up to 14).
            expectClose(compare(split, whole, atol: 1e-5, rtol: 1e-6), "split vᵀ·W")
        } else {
            #expect(split == whole, "bitwise: \(compare(split, whole, atol: 0, rtol: 0))")
        }
    }
}
