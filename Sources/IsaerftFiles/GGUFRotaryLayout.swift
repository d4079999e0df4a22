import IsaerftCore

/// Row permutations between the two RoPE layouts of q/k projection weights (`hooks-and-models.md`
/// §2.2). Within each head of width `D`:
/// - **interleaved** (Meta checkpoints, llama2.c, llama.cpp `llama` GGUFs): pairs `(2i, 2i+1)` rotate;
/// - **rotate-half** (HF transformers): pairs `(i, i + D/2)` rotate.
///
/// HF → interleaved is llama.cpp's `LlamaModel.permute` (`convert_hf_to_gguf.py`):
/// `reshape(n_head, 2, D/2, in) → swapaxes(1, 2) → reshape`; interleaved → HF is the inverse,
/// `reshape(n_head, D/2, 2, in) → swapaxes(1, 2) → reshape` (llama2.c `export.py`
/// `permute_original`). Use the KV head count for `k_proj`.
public enum RotaryLayout {
    /// Interleaved rows → rotate-half rows: HF row `h·D + a·D/2 + b` is interleaved row `h·D + 2b + a`.
    /// `w` is `[rows, …]` (a weight `[out, in]` or a bias `[out]`) with `rows = heads · D`, `D` even.
    public static func interleavedToRotateHalf(_ w: Tensor, heads: Int) -> Tensor {
        permuted(w, heads: heads) { headDim, hfRow in
            let a = hfRow / (headDim / 2), b = hfRow % (headDim / 2)
            return 2 * b + a
        }
    }

    /// Rotate-half rows → interleaved rows (the inverse of `interleavedToRotateHalf`).
    public static func rotateHalfToInterleaved(_ w: Tensor, heads: Int) -> Tensor {
        permuted(w, heads: heads) { headDim, interleavedRow in
            let b = interleavedRow / 2, a = interleavedRow % 2
            return a * (headDim / 2) + b
        }
    }

    /// Whether `rows` rows split into `heads` heads of an even width.
    public static func isPermutable(rows: Int, heads: Int) -> Bool {
        heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0
    }

    /// Output row `h·D + r` takes input row `h·D + source(D, r)`.
    private static func permuted(_ w: Tensor, heads: Int, source: (Int, Int) -> Int) -> Tensor {
        let rows = w.shape.first ?? 0
        precondition(isPermutable(rows: rows, heads: heads),
                     "RotaryLayout: \(rows) rows do not split into \(heads) heads of even width")
        let headDim = rows / heads
        let width = rows == 0 ? 0 : w.count / rows
        var out = [Float](repeating: 0, count: w.count)
        w.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0..<heads {
                    for r in 0..<headDim {
                        let from = (h * headDim + source(headDim, r)) * width, to = (h * headDim + r) * width
                        for j in 0..<width { dst[to + j] = src[from + j] }
                    }
                }
            }
        }
        return Tensor(shape: w.shape, scalars: out)
    }
}
