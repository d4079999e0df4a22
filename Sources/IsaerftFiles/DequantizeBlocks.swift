/// ggml block decoders, one function per type, each decoding a whole row.
///
/// Every function computes exactly what `dequantize_blocks` in the `gguf` Python package
/// (`gguf/quants.py`, gguf 0.19.0) computes, in the same fp32 operation order and without fused
/// multiply-adds, so results are bit-identical to `gguf.quants.dequantize`. The C references are
/// `dequantize_row_*` in ggml-org/llama.cpp `ggml/src/ggml-quants.c`; block layouts are
/// `block_*` in `ggml/src/ggml-common.h`. `d`, `dmin` are IEEE half floats; QK_K = 256.
///
/// Pointers stay inside this file: `src` points at the row's first block, `dst` at `n` floats.
enum GGMLBlocks {
    @inline(__always)
    static func half(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
        HalfPrecision.float(fromF16: UInt16(p[offset]) | UInt16(p[offset + 1]) << 8)
    }

    /// F32: little-endian floats copied.
    static func f32(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        #if _endian(little)
        UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: 4 * n)
        #else
        for i in 0..<n {
            let b = UInt32(src[4 * i]) | UInt32(src[4 * i + 1]) << 8 | UInt32(src[4 * i + 2]) << 16 | UInt32(src[4 * i + 3]) << 24
            dst[i] = Float(bitPattern: b)
        }
        #endif
    }

    /// F16: `data.view(np.float16).astype(np.float32)` (exact widening).
    static func f16(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dst[i] = half(src, 2 * i) }
    }

    /// BF16: `(blocks.view(np.int16).astype(np.int32) << 16).view(np.float32)`.
    static func bf16(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dst[i] = Float(bitPattern: (UInt32(src[2 * i]) | UInt32(src[2 * i + 1]) << 8) << 16) }
    }

    /// Q8_0 (34 bytes / 32): `d`, `int8 q[32]`; `w[j] = q[j]·d` (`dequantize_row_q8_0`).
    static func q8_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0..<(n / 32) {
            let p = src + 34 * b, y = dst + 32 * b
            let d = half(p, 0)
            for j in 0..<32 { y[j] = Float(Int8(bitPattern: p[2 + j])) * d }
        }
    }

    /// Q4_0 (18 bytes / 32): `d`, `u8 qs[16]`; `w[j] = d·((qs[j] & 0xF) − 8)`,
    /// `w[j+16] = d·((qs[j] >> 4) − 8)` (`dequantize_row_q4_0`; quants.py `Q4_0.dequantize_blocks`).
    static func q4_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0..<(n / 32) {
            let p = src + 18 * b, y = dst + 32 * b
            let d = half(p, 0)
            let qs = p + 2
            for j in 0..<16 {
                y[j] = d * Float(Int(qs[j] & 0x0F) - 8)
                y[j + 16] = d * Float(Int(qs[j] >> 4) - 8)
            }
        }
    }

    /// Q5_0 (22 bytes / 32): `d`, `u8 qh[4]` (one LE u32), `u8 qs[16]`;
    /// `w[j] = d·(((qs[j] & 0xF) | bit j of qh << 4) − 16)`, `w[j+16]` from the high nibble and bit j+16
    /// (`dequantize_row_q5_0`).
    static func q5_0(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0..<(n / 32) {
            let p = src + 22 * b, y = dst + 32 * b
            let d = half(p, 0)
            let qh = UInt32(p[2]) | UInt32(p[3]) << 8 | UInt32(p[4]) << 16 | UInt32(p[5]) << 24
            let qs = p + 6
            for j in 0..<16 {
                let lo = Int(qs[j] & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
                let hi = Int(qs[j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = d * Float(lo - 16)
                y[j + 16] = d * Float(hi - 16)
            }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed bytes
    /// (`get_scale_min_k4` in ggml-quants.c; quants.py `Q4_K.get_scale_min`).
    @inline(__always)
    static func scaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (sc: UInt8, m: UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }

    /// Q4_K (144 bytes / 256): `d`, `dmin`, `u8 scales[12]`, `u8 qs[128]`. Sub-block `j` of 32:
    /// `w = (d·sc[j])·q − (dmin·m[j])`, `q` the low (even `j`) or high (odd `j`) nibble of
    /// `qs[32·(j/2) + l]` (`dequantize_row_q4_K`).
    static func q4_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0..<(n / 256) {
            let p = src + 144 * b, y = dst + 256 * b
            let d = half(p, 0), dmin = half(p, 2)
            let scales = p + 4, qs = p + 16
            for j in 0..<8 {
                let (sc, m) = scaleMin(scales, j)
                let d1 = d * Float(sc), m1 = dmin * Float(m)
                let q = qs + 32 * (j / 2), shift = UInt8(4 * (j % 2))
                let out = y + 32 * j
                for l in 0..<32 { out[l] = d1 * Float((q[l] >> shift) & 0x0F) - m1 }
            }
        }
    }

    /// Q5_K (176 bytes / 256): `d`, `dmin`, `u8 scales[12]`, `u8 qh[32]`, `u8 qs[128]`. As Q4_K
    /// with a fifth bit: bit `j` of `qh[l]` is bit 4 of weight `32·j + l` (`dequantize_row_q5_K`;
    /// quants.py `Q5_K.dequantize_blocks`).
    static func q5_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0..<(n / 256) {
            let p = src + 176 * b, y = dst + 256 * b
            let d = half(p, 0), dmin = half(p, 2)
            let scales = p + 4, qh = p + 16, qs = p + 48
            for j in 0..<8 {
                let (sc, m) = scaleMin(scales, j)
                let d1 = d * Float(sc), m1 = dmin * Float(m)
                let q = qs + 32 * (j / 2), shift = UInt8(4 * (j % 2))
                let out = y + 32 * j
                for l in 0..<32 {
                    let v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> UInt8(j)) & 1) << 4)
                    out[l] = d1 * Float(v) - m1
                }
            }
        }
    }

    /// Q6_K (210 bytes / 256): `u8 ql[128]`, `u8 qh[64]`, `int8 scales[16]`, `d` (last). Weight
    /// `128h + 32k + l`: low 4 bits from `ql[64h + 32(k%2) + l] >> 4(k/2)`, high 2 bits from
    /// `qh[32h + l] >> 2k`, minus 32; `w = (d·scales[(128h + 32k + l)/16])·q` (`dequantize_row_q6_K`).
    static func q6_K(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        for b in 0..<(n / 256) {
            let p = src + 210 * b, y = dst + 256 * b
            let d = half(p, 208)
            let scales = p + 192
            for h in 0..<2 {
                let ql = p + 64 * h, qh = p + 128 + 32 * h
                for k in 0..<4 {
                    let lo = ql + 32 * (k % 2), loShift = UInt8(4 * (k / 2)), hiShift = UInt8(2 * k)
                    let out = y + 128 * h + 32 * k
                    let base = (128 * h + 32 * k) / 16
                    let s0 = d * Float(Int8(bitPattern: scales[base]))
                    let s1 = d * Float(Int8(bitPattern: scales[base + 1]))
                    for l in 0..<32 {
                        let v = ((lo[l] >> loShift) & 0x0F) | (((qh[l] >> hiShift) & 3) << 4)
                        out[l] = (l < 16 ? s0 : s1) * Float(Int(v) - 32)
                    }
                }
            }
        }
    }
}
