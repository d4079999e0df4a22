import CKernels
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The GELU variants found in checkpoints' `activation_function` / `hidden_act`.
public enum GELUKind: String, Sendable, Codable {
    /// `gelu_new`, `gelu_pytorch_tanh`: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
    case tanh
    /// `gelu`: 0.5x(1 + erf(x/√2)).
    case exact
}

@usableFromInline let geluC: Float = 0.7978845608028654   // √(2/π)

/// out = gelu(x), element-wise. Matches HF `NewGELUActivation` (`.tanh`) and `torch.nn.functional.gelu` (`.exact`).
public func geluForward(out: inout Tensor, x: Tensor, kind: GELUKind) {
    precondition(out.count == x.count, "geluForward: shapes \(out.shape), \(x.shape)")
    let n = x.count
    x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
        let po = po.baseAddress!, px = px.baseAddress!
        Parallel.forEach((n + 15) / 16, costPerItem: 16 * 20) { blocks in
            let lo = blocks.lowerBound * 16, hi = min(n, blocks.upperBound * 16)
            switch kind {
            case .tanh:
                isa_gelu_tanh_forward(po + lo, px + lo, hi - lo)
            case .exact:
                for i in lo..<hi { let v = px[i]; po[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
            }
        }
    } }
}

/// Backward of `geluForward`: dx += dOut · gelu′(x).
public func geluBackward(dx: inout Tensor, dOut: Tensor, x: Tensor, kind: GELUKind) {
    precondition(dx.count == x.count && dOut.count == x.count, "geluBackward: shapes")
    let n = x.count
    x.withUnsafeBufferPointer { px in dOut.withUnsafeBufferPointer { pg in dx.withUnsafeMutableBufferPointer { pd in
        let pd = pd.baseAddress!, px = px.baseAddress!, pg = pg.baseAddress!
        Parallel.forEach((n + 15) / 16, costPerItem: 16 * 30) { blocks in
            let lo = blocks.lowerBound * 16, hi = min(n, blocks.upperBound * 16)
            switch kind {
            case .tanh:
                isa_gelu_tanh_backward(pd + lo, pg + lo, px + lo, hi - lo)
            case .exact:
                for i in lo..<hi {
                    let v = px[i]
                    let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                    let pdf = expf(-0.5 * v * v) * 0.3989422804014327
                    pd[i] += pg[i] * (cdf + v * pdf)
                }
            }
        }
    } } }
}

/// out = silu(x) = x · σ(x). Matches `torch.nn.functional.silu`.
public func siluForward(out: inout Tensor, x: Tensor) {
    precondition(out.count == x.count, "siluForward: shapes")
    let n = x.count
    x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
        let po = po.baseAddress!, px = px.baseAddress!
        isa_silu_forward(po, px, n)
    } }
}

/// Backward of `siluForward`: dx += dOut · σ(x)(1 + x(1 − σ(x))).
public func siluBackward(dx: inout Tensor, dOut: Tensor, x: Tensor) {
    precondition(dx.count == x.count && dOut.count == x.count, "siluBackward: shapes")
    for i in 0..<x.count {
        let v = x.scalars[i]
        let s = 1 / (1 + expf(-v))
        dx.scalars[i] += dOut.scalars[i] * s * (1 + v * (1 - s))
    }
}
