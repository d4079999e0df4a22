/// Vectorised `exp` and `tanh` for the element-wise kernels.
///
/// `exp` follows Cephes `expf` (range reduction by ln 2 in two parts, degree-5 minimax polynomial):
/// relative error ≤ 2 ulp on [−87.33654, 88.72283]; below that 0 (the true value is subnormal), above it
/// +∞; NaN gives NaN.
/// `tanh(x) = 1 − 2/(exp(2x) + 1)` with |x| clamped at 10, so it saturates at exactly ±1 (the formula
/// rounds to 1 for x ≳ 9.01; a clamp at 9 gave 1 − 2⁻²⁴ for every large x, and the GELU backward's
/// 1 − t² then grew like x³). Absolute error ≤ 2e-7, not relative (tiny |x| and −0 give +0); NaN gives NaN.
/// Checked against Foundation's Double exp/tanh in `FastMathTests`.
public enum FastMath {
    public typealias V = SIMD16<Float>

    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        let hi = V(repeating: 88.72283), lo = V(repeating: -87.33654)
        let over = x .> hi
        var x = x.replacing(with: hi, where: over)
        let under = x .< lo
        x = x.replacing(with: lo, where: under)
        let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
        var r = x - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * r * r + r + 1
        // 2^n for n in [-126, 128]: split as 2^(n/2)·2^(n - n/2) so n = 128 does not overflow the exponent field.
        // n is an integer in [−126, 128]: adding 1.5·2²³ leaves it in the low mantissa bits, so the bit pattern
        // minus that of 1.5·2²³ is n. (`SIMD16<Int32>(n, rounding:)` trapped on NaN lanes and is a per-lane loop,
        // ~9× slower; for NaN input p is NaN, so the garbage n there does not matter.)
        let ni = unsafeBitCast(n + 12_582_912, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let half = ni &>> 1
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: V.self)
        let s2 = unsafeBitCast((ni &- half &+ 127) &<< 23, to: V.self)
        return (p * s1 * s2).replacing(with: 0, where: under).replacing(with: .infinity, where: over)
    }

    @inlinable @inline(__always)
    public static func tanh(_ x: V) -> V {
        let c = x.clamped(lowerBound: V(repeating: -10), upperBound: V(repeating: 10))
        let e = exp(c + c)
        // `clamped` turns NaN into a bound (−10); put NaN back so it propagates.
        return (1 - 2 / (e + 1)).replacing(with: x, where: x .!= x)
    }

    /// Scalar `exp` through the vector path (for tails of rows).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float { tanh(V(repeating: x))[0] }

    /// Applies `f` to `count` floats in place, 16 at a time, with a padded tail.
    @inlinable @inline(__always)
    public static func map(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ f: (V) -> V) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: f(v), as: V.self)
            i += 16
        }
        if i < count {
            var v = V(repeating: 0)
            for j in 0..<(count - i) { v[j] = p[i + j] }
            let r = f(v)
            for j in 0..<(count - i) { p[i + j] = r[j] }
        }
    }
}
