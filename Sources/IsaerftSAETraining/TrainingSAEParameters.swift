import IsaerftCore

/// Parameters of a training SAE (and, with the same type, their gradients).
///
/// `wEncT` holds `W_enc` **transposed**, `[d_sae, d_in]`, so that a latent's encoder weights are one
/// contiguous row: sparse (top-k) gradient accumulation then writes whole rows. Checkpoints and the
/// inference SAE use SAELens' `W_enc [d_in, d_sae]`. Tensors an architecture does not use are empty
/// (`[0]`).
public struct SAEParameters: Sendable, Equatable {
    public var wEncT: Tensor      // W_enc transposed [d_sae, d_in]
    public var bEnc: Tensor       // b_enc [d_sae]   (not gated)
    public var wDec: Tensor       // W_dec [d_sae, d_in]
    public var bDec: Tensor       // b_dec [d_in]
    public var threshold: Tensor  // threshold [d_sae] (jumprelu)
    public var bGate: Tensor      // b_gate [d_sae]  (gated)
    public var rMag: Tensor       // r_mag [d_sae]   (gated)
    public var bMag: Tensor       // b_mag [d_sae]   (gated)

    /// Zeros of the shapes `architecture` uses.
    public init(architecture: SAETrainingArchitecture, dIn: Int, dSAE: Int) {
        let empty = Tensor(shape: [0])
        wEncT = Tensor(shape: [dSAE, dIn]); wDec = Tensor(shape: [dSAE, dIn]); bDec = Tensor(shape: [dIn])
        bEnc = architecture == .gated ? empty : Tensor(shape: [dSAE])
        threshold = architecture == .jumprelu ? Tensor(shape: [dSAE]) : empty
        bGate = architecture == .gated ? Tensor(shape: [dSAE]) : empty
        rMag = bGate; bMag = bGate
    }

    /// SAELens parameter names of `architecture`, in `named_parameters()` order, with the field each
    /// fills (`W_enc` is stored transposed in `wEncT`).
    public static func keys(_ architecture: SAETrainingArchitecture) -> [(String, WritableKeyPath<SAEParameters, Tensor>)] {
        switch architecture {
        case .standard, .topk, .batchtopk:
            [("W_dec", \.wDec), ("W_enc", \.wEncT), ("b_enc", \.bEnc), ("b_dec", \.bDec)]
        case .jumprelu:
            [("W_dec", \.wDec), ("W_enc", \.wEncT), ("threshold", \.threshold), ("b_enc", \.bEnc), ("b_dec", \.bDec)]
        case .gated:
            [("W_dec", \.wDec), ("W_enc", \.wEncT), ("b_gate", \.bGate), ("r_mag", \.rMag), ("b_mag", \.bMag), ("b_dec", \.bDec)]
        }
    }
}

/// Row-major transpose of a `[rows, cols]` matrix (blocked).
func transposed(_ t: Tensor) -> Tensor {
    let (rows, cols) = t.matrixShape
    var out = Tensor.uninitialized([cols, rows])
    t.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            let s = src.baseAddress!, d = dst.baseAddress!
            let b = 32
            for i0 in stride(from: 0, to: rows, by: b) {
                for j0 in stride(from: 0, to: cols, by: b) {
                    for i in i0..<min(rows, i0 + b) { for j in j0..<min(cols, j0 + b) { d[j * rows + i] = s[i * cols + j] } }
                }
            }
        }
    }
    return out
}

/// `‖W[i, :]‖₂` per row, accumulated in Double and rounded once, `[rows]`.
func rowNorms(_ w: Tensor) -> [Float] {
    let (rows, cols) = w.matrixShape
    var out = [Float](repeating: 0, count: rows)
    w.withUnsafeBufferPointer { p in
        out.withUnsafeMutableBufferPointer { o in
            let ob = o.baseAddress!, pb = p.baseAddress!
            Parallel.forEach(rows, costPerItem: cols) { range in
                for i in range {
                    var s = 0.0
                    for j in 0..<cols { let v = Double(pb[i * cols + j]); s += v * v }
                    ob[i] = Float(s.squareRoot())
                }
            }
        }
    }
    return out
}
