import Foundation
import Testing
@testable import IsaerftFiles

/// F16/BF16 ↔ F32 conversions: every special class by hand, every bit pattern against the
/// platform's `Float16` where it exists, and torch's own conversions from the fixtures.
@Suite("Half precision")
struct HalfPrecisionTests {
    @Test("F16 special values widen exactly")
    func f16Specials() {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3C00, 1), (0xBC00, -1), (0x0001, 0x1p-24), (0x8001, -0x1p-24),
            (0x03FF, 0x1.ff8p-15), (0x0400, 0x1p-14), (0x7BFF, 65504), (0xFBFF, -65504),
            (0x7C00, .infinity), (0xFC00, -.infinity), (0x3555, 0x1.554p-2),
        ]
        for (bits, want) in cases {
            #expect(HalfPrecision.float(fromF16: bits) == want, "0x\(String(bits, radix: 16))")
        }
        let negZero = HalfPrecision.float(fromF16: 0x8000)
        #expect(negZero == 0 && negZero.sign == .minus)
        for nan: UInt16 in [0x7E00, 0xFE00, 0x7C01, 0x7FFF] {
            let v = HalfPrecision.float(fromF16: nan)
            #expect(v.isNaN)
            #expect(v.bitPattern & 0x007F_E000 == UInt32(nan & 0x3FF) << 13, "payload kept")
        }
    }

    @Test("BF16 special values widen exactly")
    func bf16Specials() {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x3F80, 1), (0xBF80, -1), (0x0001, 0x1p-133), (0x007F, 0x1.fcp-127),
            (0x0080, 0x1p-126), (0x7F7F, 0x1.fep127), (0x7F80, .infinity), (0xFF80, -.infinity),
        ]
        for (bits, want) in cases {
            #expect(HalfPrecision.float(fromBF16: bits) == want, "0x\(String(bits, radix: 16))")
        }
        #expect(HalfPrecision.float(fromBF16: 0x8000).sign == .minus)
        #expect(HalfPrecision.float(fromBF16: 0x7FC0).isNaN && HalfPrecision.float(fromBF16: 0x7F81).isNaN)
    }

    @Test("every F16 bit pattern survives F16 → F32 → F16 (NaNs stay NaN)")
    func f16RoundTripAllPatterns() {
        for bits in UInt16.min...UInt16.max {
            let f = HalfPrecision.float(fromF16: bits)
            if f.isNaN { #expect(HalfPrecision.f16Bits(from: f) & 0x7C00 == 0x7C00); continue }
            if HalfPrecision.f16Bits(from: f) != bits {
                Issue.record("0x\(String(bits, radix: 16)) → \(f) → 0x\(String(HalfPrecision.f16Bits(from: f), radix: 16))")
                return
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    @Test("every F16 bit pattern widens like Swift's Float16, and narrowing agrees on a sweep")
    func f16AgainstFloat16() {
        for bits in UInt16.min...UInt16.max {
            let want = Float(Float16(bitPattern: bits))
            let got = HalfPrecision.float(fromF16: bits)
            guard got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN) else {
                Issue.record("0x\(String(bits, radix: 16)): got \(got), Float16 gives \(want)")
                return
            }
        }
        // Narrowing: a deterministic sweep over fp32 bit patterns (all exponents, many mantissas).
        var x: UInt32 = 0
        for _ in 0..<200_000 {
            x = x &* 1_664_525 &+ 1_013_904_223
            let f = Float(bitPattern: x)
            if f.isNaN { continue }
            let want = Float16(f).bitPattern
            guard HalfPrecision.f16Bits(from: f) == want else {
                Issue.record("\(f): got 0x\(String(HalfPrecision.f16Bits(from: f), radix: 16)), Float16 gives 0x\(String(want, radix: 16))")
                return
            }
        }
    }
    #endif

    @Test("F16 fixture: torch's widening and rounding match bit for bit")
    func f16AgainstTorch() throws {
        let file = try SafeTensorsFile(url: try safetensorsFixture("f16.safetensors"))
        try expectWidening(file, name: "specials")
        let source = try file.tensor("rounding_source").scalars
        let rounded = try file.withRawBytes("rounding_f16") { raw in
            (0..<source.count).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        }
        for (s, want) in zip(source, rounded) {
            #expect(HalfPrecision.f16Bits(from: s) == want, "f16(\(s))")
        }
    }

    @Test("BF16 fixture: torch's widening and rounding match bit for bit")
    func bf16AgainstTorch() throws {
        let file = try SafeTensorsFile(url: try safetensorsFixture("bf16.safetensors"))
        try expectWidening(file, name: "specials")
        let source = try file.tensor("rounding_source").scalars
        let rounded = try file.withRawBytes("rounding_bf16") { raw in
            (0..<source.count).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        }
        for (s, want) in zip(source, rounded) {
            #expect(HalfPrecision.bf16Bits(from: s) == want, "bf16(\(s))")
        }
    }

    /// `name` read through our widening equals torch's `.float()` of it stored as `name_as_f32`
    /// (bitwise; NaNs compared as NaN since payload canonicalisation is not specified).
    private func expectWidening(_ file: SafeTensorsFile, name: String) throws {
        let got = try file.tensor(name).scalars
        let want = try file.tensor("\(name)_as_f32").scalars
        #expect(got.count == want.count && got.count > 10)
        for (i, (g, w)) in zip(got, want).enumerated() {
            #expect(g.bitPattern == w.bitPattern || (g.isNaN && w.isNaN), "element \(i): \(g) vs torch \(w)")
        }
    }
}
