import IsaerftCore
import IsaerftTestSupport
import Testing

// GELU (tanh, exact) and SiLU against `Reference` (Foundation tanh / erf / exp in Double).
// Inputs: N(0, 3²) plus fixed points (±0, ±1e-3, ±0.5, ±6, ±10, ±30, ±100, ±1000) so both tails and the flat middle are hit.
// The tanh GELU and SiLU use `FastMath` (vectorised, absolute error ≤ ~2e-7 on tanh, ≤ 2 ulp on exp), so
// their bounds are absolute-plus-relative; the exact GELU and both backward passes use libm `erff`/`expf`.

@Suite("Activations")
struct ActivationTests {
    static let fixed: [Double] = [0, -0.0, 1e-3, -1e-3, 0.5, -0.5, 6, -6, 10, -10, 30, -30, 100, -100, 1000, -1000]

    static func input(_ count: Int, seed: UInt64) -> Tensor {
        let random = Tensor.randomNormal([count - fixed.count], std: 3, seed: seed).doubles
        return tensor([count], fixed + random)
    }

    @Test("GELU forward vs twin, serial and parallel sizes", arguments: [GELUKind.tanh, .exact], [203, 2_001])
    func geluForwardMatches(kind: GELUKind, count: Int) {
        let x = Self.input(count, seed: 201)
        var out = Tensor(shape: [count], repeating: .nan)
        geluForward(out: &out, x: x, kind: kind)
        // tanh: 0.5·x·(1 + tanh u) inherits FastMath.tanh's absolute error (≤ 2e-7) times 0.5|x| where tanh is not
        // saturated (|x| ≲ 6); observed max |Δ| 3.8e-7. exact: libm erff, observed 3.6e-7 (≈ 1 ulp of |out| ≈ 6).
        // (Before FastMath.tanh saturated at exactly 1, gelu(30) was off by 9e-7 and gelu(1000) by 3e-5.)
        expectClose(compare(out, Reference.gelu(x.doubles, kind: kind), atol: 2e-6, rtol: 2e-7), "gelu \(kind) n \(count)")
        #expect(out[0] == 0 && out[1] == 0, "gelu(±0) = 0")
    }

    @Test("GELU backward: twin, finite differences, accumulation", arguments: [GELUKind.tanh, .exact])
    func geluBackwardMatches(kind: GELUKind) {
        let count = 203
        let x = Self.input(count, seed: 211), dOut = Tensor.randomNormal([count], seed: 212)
        var dx = Tensor(shape: [count])
        geluBackward(dx: &dx, dOut: dOut, x: x, kind: kind)
        let ref = Reference.geluBackward(dOut: dOut.doubles, x: x.doubles, kind: kind)
        // The derivative is O(1); tanh path errors come from FastMath.tanh (×|x|·u′ near the knee).
        // Observed max |Δ| 1.4e-6 (tanh, near u ≈ 9 where 1 − t² cancels), 1.3e-7 (exact). Before the FastMath.tanh
        // fix the tanh backward was off by 1.4e-4 at x = 30 and by ~6 at x = 1000 (1 − t² = 2⁻²³ times a x³ term).
        expectClose(compare(dx, ref, atol: 1e-5, rtol: 1e-6), "gelu \(kind) backward vs twin")
        let (xs, g) = (x.doubles, dOut.doubles)
        let coords = coordinates(count, count: 24, seed: 9) + Array(0..<Self.fixed.count)
        func loss(_ v: [Double]) -> Double { dot(Reference.gelu(v, kind: kind), g) }
        // Twin vs FD (Double): observed 5e-10 (tanh), 1.1e-9 (exact). Kernel vs FD: observed 1.4e-6 (tanh), 7e-8 (exact).
        expectClose(gradCheck(ref, x: xs, coords: coords, atol: 1e-8, rtol: 1e-7, loss), "gelu \(kind) twin vs FD")
        expectClose(gradCheck(dx, x: xs, coords: coords, atol: 1e-5, rtol: 1e-6, loss), "gelu \(kind) backward vs FD")
        let once = dx
        geluBackward(dx: &dx, dOut: dOut, x: x, kind: kind)
        #expect(bitwiseEqual(dx.scalars, once.scalars.map { 2 * $0 }), "gelu \(kind) backward accumulates")
    }

    @Test("SiLU forward and backward: twin, finite differences, accumulation")
    func siluMatches() {
        let count = 203
        let x = Self.input(count, seed: 221), dOut = Tensor.randomNormal([count], seed: 222)
        var out = Tensor(shape: [count], repeating: .nan)
        siluForward(out: &out, x: x)
        // x / (1 + FastMath.exp(−x)): a few ulp relative (and ~1e-42 absolute where the true value is subnormal);
        // observed max |Δ| 3.8e-7 (≈ 1 ulp of |out| ≈ 6).
        expectClose(compare(out, Reference.silu(x.doubles), atol: 1e-7, rtol: 1e-6), "silu forward")
        var dx = Tensor(shape: [count])
        siluBackward(dx: &dx, dOut: dOut, x: x)
        let ref = Reference.siluBackward(dOut: dOut.doubles, x: x.doubles)
        // libm expf: observed max |Δ| 3.3e-7 vs twin, 1.7e-7 vs FD; twin vs FD 1.6e-9.
        expectClose(compare(dx, ref, atol: 1e-6, rtol: 1e-6), "silu backward vs twin")
        let (xs, g) = (x.doubles, dOut.doubles)
        let coords = coordinates(count, count: 24, seed: 10) + Array(0..<Self.fixed.count)
        func loss(_ v: [Double]) -> Double { dot(Reference.silu(v), g) }
        expectClose(gradCheck(ref, x: xs, coords: coords, atol: 1e-8, rtol: 1e-7, loss), "silu twin vs FD")
        expectClose(gradCheck(dx, x: xs, coords: coords, atol: 1e-6, rtol: 1e-6, loss), "silu backward vs FD")
        let once = dx
        siluBackward(dx: &dx, dOut: dOut, x: x)
        #expect(bitwiseEqual(dx.scalars, once.scalars.map { 2 * $0 }), "silu backward accumulates")
    }
}
