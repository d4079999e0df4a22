/// Vectorised `exp` and `tanh` for the element-wise kernels.
///
/// `exp` follows Cephes `expf` (range reduction by ln 2 in two parts, degree-5 minimax polynomial):
/// relative error ≤ 2 ulp on [−87.3, 88.7]; inputs below −87.3 give 0, above 88.7 give +∞.
/// `tanh(x) = 1 − 2/(exp(2x) + 1)` with |x| clamped at 9 (tanh(9) rounds to 1 in fp32);
/// absolute error ≤ 2e-7. Checked against the Double `Reference` in the kernel tests.
public enum FastMath {
    public typealias V = SIMD16<Float>

    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        let hi = V(repeating: 88.72283), lo = V(repeating: -87.33654)
        var x = x.replacing(with: hi, where: x .> hi)
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
        let ni = SIMD16<Int32>(n, rounding: .towardZero)
        let half = ni &>> 1
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: V.self)
        let s2 = unsafeBitCast((ni &- half &+ 127) &<< 23, to: V.self)
        return (p * s1 * s2).replacing(with: 0, where: under)
    }

    @inlinable @inline(__always)
    public static func tanh(_ x: V) -> V {
        let c = x.clamped(lowerBound: V(repeating: -9), upperBound: V(repeating: 9))
        let e = exp(c + c)
        return 1 - 2 / (e + 1)
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
