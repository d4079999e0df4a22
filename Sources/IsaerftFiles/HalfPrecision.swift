/// IEEE binary16 (F16) and bfloat16 (BF16) ↔ binary32 conversions, written on bit patterns so
/// that they behave identically on every platform (Swift's `Float16` is missing on macOS x86_64).
///
/// Widening (16 → 32 bits) is exact for every input: subnormals are normalised, ±0 and ±∞ keep
/// their sign, and NaNs stay NaN with their payload shifted into the high mantissa bits (as
/// `torch.Tensor.float()` and the hardware conversions do). Narrowing (32 → 16 bits) rounds to
/// nearest, ties to even, like `torch.Tensor.half()` / `.bfloat16()`; NaN stays a quiet NaN.
public enum HalfPrecision {
    /// The fp32 value of an IEEE binary16 bit pattern (exact).
    @inlinable
    public static func float(fromF16 h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h) & 0x3FF
        if exponent == 0x1F {                  // ±∞ (mantissa 0) or NaN (payload kept)
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }   // ±0
            // Subnormal: value = mantissa · 2⁻²⁴. Shift the leading 1 into the implicit bit.
            var e: UInt32 = 127 - 15 + 1
            while mantissa & 0x400 == 0 { mantissa <<= 1; e -= 1 }
            return Float(bitPattern: sign | (e << 23) | ((mantissa & 0x3FF) << 13))
        }
        return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
    }

    /// The fp32 value of a bfloat16 bit pattern: the top half of the fp32 word (exact).
    @inlinable
    public static func float(fromBF16 b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// IEEE binary16 bit pattern of `value`, rounded to nearest even; overflow gives ±∞.
    public static func f16Bits(from value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        let mantissa = x & 0x7F_FFFF
        if exponent == 0xFF {                  // ∞ or NaN (keep the top payload bits, force quiet)
            return sign | 0x7C00 | (mantissa == 0 ? 0 : UInt16(0x200 | (mantissa >> 13)))
        }
        let e = exponent - 127 + 15            // binary16 biased exponent
        if e >= 0x1F { return sign | 0x7C00 }
        if e <= 0 {
            // Result is subnormal or zero: half mantissa = (1.m · 2²³) >> (14 − e), rounded.
            let shift = 14 - e
            if shift > 24 { return sign }      // below half the smallest subnormal: ±0
            let full = mantissa | 0x80_0000
            return sign | UInt16(roundShift(full, by: UInt32(shift)))   // may carry into the normals
        }
        let kept = (UInt32(e) << 10) | (mantissa >> 13)
        let rest = mantissa & 0x1FFF
        let rounded = kept + ((rest > 0x1000 || (rest == 0x1000 && kept & 1 == 1)) ? 1 : 0)
        return sign | UInt16(rounded)          // a carry out of 0x7BFF gives 0x7C00 = ∞
    }

    /// bfloat16 bit pattern of `value`, rounded to nearest even; NaN stays a quiet NaN.
    public static func bf16Bits(from value: Float) -> UInt16 {
        let x = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: x >> 16) | 0x40 }
        let bias: UInt32 = 0x7FFF + ((x >> 16) & 1)
        return UInt16(truncatingIfNeeded: (x &+ bias) >> 16)
    }

    /// `value >> shift` rounded to nearest, ties to even (1 ≤ shift ≤ 31).
    private static func roundShift(_ value: UInt32, by shift: UInt32) -> UInt32 {
        let kept = value >> shift
        let rest = value & ((1 << shift) - 1)
        let half: UInt32 = 1 << (shift - 1)
        return kept + ((rest > half || (rest == half && kept & 1 == 1)) ? 1 : 0)
    }
}
