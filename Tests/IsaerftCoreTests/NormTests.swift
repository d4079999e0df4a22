import IsaerftCore
import IsaerftTestSupport
import Testing

// LayerNorm and RMSNorm against `Reference` (Double), d = 37, n = 5. Outputs are O(1), so Float rounding of
// the row statistics and of each element gives errors of a few 1e-7; the bounds leave ~10× headroom.

@Suite("LayerNorm and RMSNorm")
struct NormTests {
    static let n = 5, d = 37

    @Test("LayerNorm forward and saved statistics, affine and affine-free", arguments: [true, false])
    func layerNormForwardMatches(affine: Bool) {
        let (n, d) = (Self.n, Self.d)
        let x = Tensor.randomNormal([n, d], std: 2, seed: 101)
        let w = affine ? tensor([d], Tensor.randomNormal([d], std: 0.3, seed: 102).doubles.map { $0 + 1 }) : nil
        let b = affine ? Tensor.randomNormal([d], seed: 103) : nil
        var out = Tensor(shape: [n, d]), mean = Tensor(shape: [n]), rstd = Tensor(shape: [n])
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, eps: 1e-5)
        let want = Reference.layerNorm(x: x.doubles, weight: w?.doubles, bias: b?.doubles, n: n, d: d, eps: 1e-5)
        // Observed max |Δ| 2.3e-7 (outputs up to ~3).
        expectClose(compare(out, want, atol: 5e-6, rtol: 5e-6), "layerNorm affine \(affine)")
        let stats = (0..<n).map { Reference.layerNormStatistics(x.doubles, row: $0, d: d, eps: 1e-5) }
        // Observed max |Δ| 2.9e-8 (mean), max rel 2e-8 (rstd).
        expectClose(compare(mean, stats.map { $0.mean }, atol: 1e-6, rtol: 1e-6), "layerNorm saved mean")
        expectClose(compare(rstd, stats.map { $0.rstd }, atol: 0, rtol: 1e-6), "layerNorm saved rstd")
    }

    @Test("LayerNorm on rows with a large common offset (x = 300 + N(0, 1))")
    func layerNormLargeOffset() {
        let (n, d) = (5, 301)
        let x = tensor([n, d], Tensor.randomNormal([n, d], seed: 104).doubles.map { $0 + 300 })
        var out = Tensor(shape: [n, d]), mean = Tensor(shape: [n]), rstd = Tensor(shape: [n])
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: nil, bias: nil, eps: 1e-5)
        let want = Reference.layerNorm(x: x.doubles, weight: nil, bias: nil, n: n, d: d, eps: 1e-5)
        // The reference uses the same Float inputs, so only the kernel's arithmetic counts. The saved Float μ is
        // rounded by ≤ ulp(300)/2 = 1.5e-5, which shifts every x − μ by that much (σ = 1). Observed max |Δ| 9.3e-6;
        // bound 3e-5. With the former Float running sums (the doc promised Double) it was 1.2e-4.
        expectClose(compare(out, want, atol: 3e-5, rtol: 0), "layerNorm offset 300")
    }

    @Test("LayerNorm backward: twin, finite differences (x, w, b), accumulation", arguments: [true, false])
    func layerNormBackwardMatches(affine: Bool) {
        let (n, d) = (Self.n, Self.d)
        let x = Tensor.randomNormal([n, d], std: 2, seed: 111)
        let w = affine ? tensor([d], Tensor.randomNormal([d], std: 0.3, seed: 112).doubles.map { $0 + 1 }) : nil
        let b = affine ? Tensor.randomNormal([d], seed: 113) : nil
        let dOut = Tensor.randomNormal([n, d], seed: 114)
        var out = Tensor(shape: [n, d]), mean = Tensor(shape: [n]), rstd = Tensor(shape: [n])
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, eps: 1e-5)
        var dx = Tensor(shape: [n, d])
        var dW: Tensor? = affine ? Tensor(shape: [d]) : nil, dB: Tensor? = affine ? Tensor(shape: [d]) : nil
        layerNormBackward(dx: &dx, dWeight: &dW, dBias: &dB, dOut: dOut, x: x, weight: w, mean: mean, rstd: rstd)
        let ref = Reference.layerNormBackward(dOut: dOut.doubles, x: x.doubles, weight: w?.doubles, n: n, d: d, eps: 1e-5)
        // dx is a difference of O(1) terms scaled by rstd ≈ 0.5: observed max |Δ| 1.6e-7 vs twin;
        // dW 5e-7, dBias 2.9e-7 vs twin.
        expectClose(compare(dx, ref.dx, atol: 5e-6, rtol: 5e-6), "layerNorm dx vs twin")

        let (xs, ws, bs, g) = (x.doubles, w?.doubles, b?.doubles, dOut.doubles)
        func loss(_ x: [Double], _ w: [Double]?, _ b: [Double]?) -> Double {
            dot(Reference.layerNorm(x: x, weight: w, bias: b, n: n, d: d, eps: 1e-5), g)
        }
        let cx = coordinates(xs.count, seed: 4)
        // Twin vs FD: both Double, observed 1.8e-9. Kernel vs FD: Float rounding, observed 2.8e-7.
        expectClose(gradCheck(ref.dx, x: xs, coords: cx, atol: 1e-7, rtol: 1e-7) { loss($0, ws, bs) }, "layerNorm twin dx vs FD")
        expectClose(gradCheck(dx, x: xs, coords: cx, atol: 5e-6, rtol: 5e-6) { loss($0, ws, bs) }, "layerNorm dx vs FD")
        if let ws, let bs, let dW, let dB {
            expectClose(compare(dW, ref.dWeight, atol: 5e-6, rtol: 5e-6), "layerNorm dW vs twin")
            expectClose(compare(dB, ref.dBias, atol: 5e-6, rtol: 5e-6), "layerNorm dBias vs twin")
            let cw = coordinates(d, seed: 5), cb = coordinates(d, seed: 6)
            expectClose(gradCheck(ref.dWeight, x: ws, coords: cw, atol: 1e-7, rtol: 1e-7) { loss(xs, $0, bs) }, "layerNorm twin dW vs FD")
            expectClose(gradCheck(ref.dBias, x: bs, coords: cb, atol: 1e-7, rtol: 1e-7) { loss(xs, ws, $0) }, "layerNorm twin dB vs FD")
            expectClose(gradCheck(dW, x: ws, coords: cw, atol: 5e-6, rtol: 5e-6) { loss(xs, $0, bs) }, "layerNorm dW vs FD")
            expectClose(gradCheck(dB, x: bs, coords: cb, atol: 5e-6, rtol: 5e-6) { loss(xs, ws, $0) }, "layerNorm dB vs FD")
        }

        // Accumulation: the second call adds the same values again. dx gets one Float addition per element
        // (a + a = 2a exactly); dW and dBias add row by row into the running total, so ((a₁ + a₂ + …) + a₁) + …
        // differs from 2·Σ by rounding: bound 1e-6 relative, observed 2.8e-7 relative (9.5e-7 absolute).
        let once = (dx, dW, dB)
        layerNormBackward(dx: &dx, dWeight: &dW, dBias: &dB, dOut: dOut, x: x, weight: w, mean: mean, rstd: rstd)
        #expect(bitwiseEqual(dx.scalars, once.0.scalars.map { 2 * $0 }), "layerNorm dx accumulates")
        if affine {
            expectClose(compare(dW!, once.1!.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "layerNorm dW accumulates")
            expectClose(compare(dB!, once.2!.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "layerNorm dBias accumulates")
        }
    }

    @Test("RMSNorm forward and saved invRMS, with and without scale", arguments: [true, false])
    func rmsNormForwardMatches(scaled: Bool) {
        let (n, d) = (Self.n, Self.d)
        let x = Tensor.randomNormal([n, d], std: 2, seed: 121)
        let s = scaled ? tensor([d], Tensor.randomNormal([d], std: 0.3, seed: 122).doubles.map { $0 + 1 }) : nil
        var out = Tensor(shape: [n, d]), inv = Tensor(shape: [n])
        rmsNormForward(out: &out, invRMS: &inv, x: x, scale: s, eps: 1e-6)
        let want = Reference.rmsNorm(x: x.doubles, scale: s?.doubles, n: n, d: d, eps: 1e-6)
        // Observed max |Δ| 2.1e-7 (outputs up to ~3).
        expectClose(compare(out, want, atol: 5e-6, rtol: 5e-6), "rmsNorm scaled \(scaled)")
        let wantInv = (0..<n).map { r in
            1 / ((0..<d).reduce(0.0) { $0 + x.doubles[r * d + $1] * x.doubles[r * d + $1] } / Double(d) + 1e-6).squareRoot()
        }
        // Observed max rel 4.9e-8.
        expectClose(compare(inv, wantInv, atol: 0, rtol: 1e-6), "rmsNorm saved invRMS")
    }

    @Test("RMSNorm backward: twin, finite differences (x, scale), accumulation", arguments: [true, false])
    func rmsNormBackwardMatches(scaled: Bool) {
        let (n, d) = (Self.n, Self.d)
        let x = Tensor.randomNormal([n, d], std: 2, seed: 131)
        let s = scaled ? tensor([d], Tensor.randomNormal([d], std: 0.3, seed: 132).doubles.map { $0 + 1 }) : nil
        let dOut = Tensor.randomNormal([n, d], seed: 133)
        var out = Tensor(shape: [n, d]), inv = Tensor(shape: [n])
        rmsNormForward(out: &out, invRMS: &inv, x: x, scale: s, eps: 1e-6)
        var dx = Tensor(shape: [n, d]), dS: Tensor? = scaled ? Tensor(shape: [d]) : nil
        rmsNormBackward(dx: &dx, dScale: &dS, dOut: dOut, x: x, scale: s, invRMS: inv)
        let ref = Reference.rmsNormBackward(dOut: dOut.doubles, x: x.doubles, scale: s?.doubles, n: n, d: d, eps: 1e-6)
        // Observed max |Δ| 2.2e-7 (dx), 5.4e-7 (dScale) vs twin (gradients up to ~10).
        expectClose(compare(dx, ref.dx, atol: 5e-6, rtol: 5e-6), "rmsNorm dx vs twin")

        let (xs, ss, g) = (x.doubles, s?.doubles, dOut.doubles)
        func loss(_ x: [Double], _ s: [Double]?) -> Double { dot(Reference.rmsNorm(x: x, scale: s, n: n, d: d, eps: 1e-6), g) }
        let cx = coordinates(xs.count, seed: 7)
        // Twin vs FD observed 2.9e-10; kernel vs FD observed 5.4e-7.
        expectClose(gradCheck(ref.dx, x: xs, coords: cx, atol: 1e-7, rtol: 1e-7) { loss($0, ss) }, "rmsNorm twin dx vs FD")
        expectClose(gradCheck(dx, x: xs, coords: cx, atol: 5e-6, rtol: 5e-6) { loss($0, ss) }, "rmsNorm dx vs FD")
        if let ss, let dS {
            let cs = coordinates(d, seed: 8)
            expectClose(compare(dS, ref.dScale, atol: 5e-6, rtol: 5e-6), "rmsNorm dScale vs twin")
            expectClose(gradCheck(ref.dScale, x: ss, coords: cs, atol: 1e-7, rtol: 1e-7) { loss(xs, $0) }, "rmsNorm twin dScale vs FD")
            expectClose(gradCheck(dS, x: ss, coords: cs, atol: 5e-6, rtol: 5e-6) { loss(xs, $0) }, "rmsNorm dScale vs FD")
        }

        let once = (dx, dS)
        rmsNormBackward(dx: &dx, dScale: &dS, dOut: dOut, x: x, scale: s, invRMS: inv)
        #expect(bitwiseEqual(dx.scalars, once.0.scalars.map { 2 * $0 }), "rmsNorm dx accumulates")
        // dScale adds row by row into the running total (see LayerNorm): bound 1e-6 relative.
        if scaled { expectClose(compare(dS!, once.1!.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "rmsNorm dScale accumulates") }
    }
}
