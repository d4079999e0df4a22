import IsaerftCore

/// The outcome of an element-wise comparison `|got − want| ≤ atol + rtol·|want|`.
public struct Closeness: CustomStringConvertible, Sendable {
    public var count: Int
    public var failures: Int
    public var nonFinite: Int
    public var worstIndex: Int
    public var worstAbs: Double
    public var worstGot: Double
    public var worstWant: Double
    public var maxAbs: Double
    public var maxRel: Double
    public var passed: Bool { failures == 0 && nonFinite == 0 }
    public var description: String {
        "\(failures)/\(count) outside tolerance, \(nonFinite) non-finite; max |Δ| \(maxAbs) (max rel \(maxRel)); "
            + "worst at flat index \(worstIndex): got \(worstGot), want \(worstWant)"
    }
}

/// Compares element-wise; NaN/∞ in `got` where `want` is finite always fail.
public func compare(_ got: [Float], _ want: [Float], atol: Double, rtol: Double) -> Closeness {
    compare(got.map(Double.init), want.map(Double.init), atol: atol, rtol: rtol)
}

public func compare(_ got: [Double], _ want: [Double], atol: Double, rtol: Double) -> Closeness {
    precondition(got.count == want.count, "compare: \(got.count) values against \(want.count)")
    var r = Closeness(count: got.count, failures: 0, nonFinite: 0, worstIndex: -1, worstAbs: -1,
                      worstGot: 0, worstWant: 0, maxAbs: 0, maxRel: 0)
    for i in 0..<got.count {
        let g = got[i], w = want[i]
        if !g.isFinite && w.isFinite { r.nonFinite += 1; r.worstIndex = i; r.worstGot = g; r.worstWant = w; continue }
        if !g.isFinite && !w.isFinite { if g != w && !(g.isNaN && w.isNaN) { r.failures += 1 }; continue }
        let d = abs(g - w)
        r.maxAbs = max(r.maxAbs, d)
        if abs(w) > 0 { r.maxRel = max(r.maxRel, d / abs(w)) }
        if d > atol + rtol * abs(w) { r.failures += 1 }
        if d > r.worstAbs { r.worstAbs = d; r.worstIndex = i; r.worstGot = g; r.worstWant = w }
    }
    return r
}

public func compare(_ got: Tensor, _ want: Tensor, atol: Double, rtol: Double = 0) -> Closeness {
    precondition(got.shape == want.shape, "compare: shapes \(got.shape) and \(want.shape) differ")
    return compare(got.scalars, want.scalars, atol: atol, rtol: rtol)
}
