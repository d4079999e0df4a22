import Foundation
import IsaerftCore
import IsaerftTestSupport
import Testing

// Shared helpers of the kernel tests: Float ↔ Double, seeded draws, the fake loss and central finite
// differences (style rules 11, 12, 17).
//
// Set ISAERFT_PRINT_ERRORS=1 to print every comparison's worst error: that is how the "observed" numbers
// written beside each tolerance were measured (2026-11-21, Swift 6.3.1, OpenBLAS, x86-64, debug build).

extension Tensor {
    /// The values widened to Double (exact), for the reference functions.
    var doubles: [Double] { scalars.map(Double.init) }
}

/// A tensor of `shape` from Double values rounded to Float.
func tensor(_ shape: [Int], _ values: [Double]) -> Tensor {
    Tensor(shape: shape, scalars: values.map(Float.init))
}

/// Σ a ⊙ b in Double: the fake loss L = Σ out ⊙ dOut whose gradient the backward passes compute.
func dot(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "dot: \(a.count) vs \(b.count)")
    var s = 0.0
    for i in 0..<a.count { s += a[i] * b[i] }
    return s
}

/// `count` seeded coordinates in `0..<n` (all of them when n ≤ count); the first and last are always included.
func coordinates(_ n: Int, count: Int = 16, seed: UInt64) -> [Int] {
    if n <= count { return Array(0..<n) }
    var rng = SplitMix64(seed: seed)
    var picked: Set<Int> = [0, n - 1]
    while picked.count < count { picked.insert(Int.random(in: 0..<n, using: &rng)) }
    return picked.sorted()
}

/// Seeded integer ids in `0..<vocab`.
func randomIDs(_ n: Int, vocab: Int, seed: UInt64) -> [Int] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in Int.random(in: 0..<vocab, using: &rng) }
}

/// Central finite differences (f(x + h·e_i) − f(x − h·e_i)) / 2h of `loss` at the listed coordinates of `x`.
/// In Double with h = 1e-5 the truncation error is O(h²·f‴) ≈ 1e-10 and the rounding error ≈ 1e-16·|L|/h,
/// both far below the tolerances used (≥ 1e-8 absolute).
func numericGradient(_ x: [Double], at coords: [Int], h: Double = 1e-5, _ loss: ([Double]) -> Double) -> [Double] {
    coords.map { i in
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        return (loss(plus) - loss(minus)) / (2 * h)
    }
}

/// Compares `analytic` (a full gradient) at `coords` with central finite differences of `loss` at `x`.
func gradCheck(_ analytic: [Double], x: [Double], coords: [Int], atol: Double, rtol: Double,
               _ loss: ([Double]) -> Double) -> Closeness {
    compare(coords.map { analytic[$0] }, numericGradient(x, at: coords, loss), atol: atol, rtol: rtol)
}

func gradCheck(_ analytic: Tensor, x: [Double], coords: [Int], atol: Double, rtol: Double,
               _ loss: ([Double]) -> Double) -> Closeness {
    gradCheck(analytic.doubles, x: x, coords: coords, atol: atol, rtol: rtol, loss)
}

/// Records the comparison as an expectation whose message carries the worst element.
func expectClose(_ c: Closeness, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if ProcessInfo.processInfo.environment["ISAERFT_PRINT_ERRORS"] != nil {
        print("ERR \(label): max|Δ| \(c.maxAbs) max rel \(c.maxRel)")
    }
    #expect(c.passed, "\(label): \(c)", sourceLocation: sourceLocation)
}

/// `compare` of a Float tensor against Double reference values.
func compare(_ got: Tensor, _ want: [Double], atol: Double, rtol: Double) -> Closeness {
    compare(got.doubles, want, atol: atol, rtol: rtol)
}

/// Bitwise equality of Float arrays (NaN patterns included), for paths that must be identical.
func bitwiseEqual(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}
