import Foundation

/// Naive Double implementations of every kernel in `Kernels/`: the oracles the kernel tests compare
/// against (style rule 5).
///
/// Each function is written from the mathematical definition of the operation — plain loops over
/// row-major `[Double]` with every size passed explicitly — and not by transcribing the fast kernel,
/// so a shared mistake is unlikely. Backward functions return fresh gradients (they never
/// accumulate) and are written from the chain rule, sometimes through the full per-row Jacobian
/// where that reads more directly than the closed form the kernels use. Each backward is itself
/// checked against central finite differences of its forward in the tests (style rule 12).
/// Speed is irrelevant here.
public enum Reference {}

// MARK: - Products

extension Reference {
    /// `c[m, n] = a[m, k] · b[k, n]`. Matches `torch.matmul(a, b)`.
    public static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        precondition(a.count == m * k && b.count == k * n, "Reference.matmul: sizes")
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += a[i * k + p] * b[p * n + j] }
                c[i * n + j] = s
            }
        }
        return c
    }

    /// `c[m, n] = aᵀ · b` with `a` stored `[k, m]`, `b` stored `[k, n]`. Matches `torch.matmul(a.T, b)`.
    public static func matmulTransposedA(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        precondition(a.count == k * m && b.count == k * n, "Reference.matmulTransposedA: sizes")
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += a[p * m + i] * b[p * n + j] }
                c[i * n + j] = s
            }
        }
        return c
    }

    /// `c[m, n] = a · bᵀ` with `a` stored `[m, k]`, `b` stored `[n, k]`. Matches `torch.matmul(a, b.T)`.
    public static func matmulTransposedB(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        precondition(a.count == m * k && b.count == n * k, "Reference.matmulTransposedB: sizes")
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += a[i * k + p] * b[j * k + p] }
                c[i * n + j] = s
            }
        }
        return c
    }

    /// `c[m, n] = aᵀ · bᵀ` with `a` stored `[k, m]`, `b` stored `[n, k]`. Matches `torch.matmul(a.T, b.T)`.
    public static func matmulTransposedAB(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        precondition(a.count == k * m && b.count == n * k, "Reference.matmulTransposedAB: sizes")
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += a[p * m + i] * b[j * k + p] }
                c[i * n + j] = s
            }
        }
        return c
    }

    /// BLAS `gemm` semantics over strided row-major storage: returns `c` with
    /// `c[i·ldc + j] = alpha · Σ_p op(a)[i, p] · op(b)[p, j] + beta · c[i·ldc + j]` for `i < m, j < n`,
    /// other elements untouched. `op(a)[i, p]` is `a[i·lda + p]`, or `a[p·lda + i]` when `transA`;
    /// likewise for `b`. As in BLAS, `beta == 0` means `c` is not read (NaN there is overwritten).
    /// Matches `torch.addmm(c, op(a), op(b), beta=beta, alpha=alpha)` on the `[m, n]` window.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: [Double], lda: Int, b: [Double], ldb: Int,
                            beta: Double, c: [Double], ldc: Int) -> [Double] {
        var c = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let aip = transA ? a[p * lda + i] : a[i * lda + p]
                    let bpj = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += aip * bpj
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * s + old
            }
        }
        return c
    }
}

// MARK: - Linear

extension Reference {
    /// Flat index of the weight element `W[o, i]` (output `o`, input `i`) in either stored layout.
    static func weightIndex(out o: Int, in i: Int, inFeatures: Int, outFeatures: Int, layout: WeightLayout) -> Int {
        switch layout {
        case .inOut: i * outFeatures + o
        case .outIn: o * inFeatures + i
        }
    }

    /// `y[r, o] = Σ_i W[o, i] · x[r, i] + b[o]` for `x` `[rows, inFeatures]`, with `W` stored `[in, out]`
    /// (`.inOut`, HF `Conv1D`: `x @ W + b`) or `[out, in]` (`.outIn`, `torch.nn.functional.linear(x, W, b)`).
    public static func linear(x: [Double], weight: [Double], bias: [Double]?, rows: Int,
                              inFeatures: Int, outFeatures: Int, layout: WeightLayout) -> [Double] {
        precondition(x.count == rows * inFeatures && weight.count == inFeatures * outFeatures
                     && (bias?.count ?? outFeatures) == outFeatures, "Reference.linear: sizes")
        var y = [Double](repeating: 0, count: rows * outFeatures)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                var s = bias?[o] ?? 0
                for i in 0..<inFeatures {
                    s += weight[weightIndex(out: o, in: i, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)]
                        * x[r * inFeatures + i]
                }
                y[r * outFeatures + o] = s
            }
        }
        return y
    }

    /// Gradients of `linear` for upstream `dOut` `[rows, outFeatures]` (what `torch.autograd` gives for
    /// `F.linear`): `dx[r, i] = Σ_o dOut[r, o] W[o, i]`,
    /// `dW[o, i] = Σ_r dOut[r, o] x[r, i]` (returned in the same layout as `weight`), `dBias[o] = Σ_r dOut[r, o]`.
    public static func linearBackward(dOut: [Double], x: [Double], weight: [Double], rows: Int,
                                      inFeatures: Int, outFeatures: Int, layout: WeightLayout)
        -> (dx: [Double], dWeight: [Double], dBias: [Double]) {
        var dx = [Double](repeating: 0, count: rows * inFeatures)
        var dW = [Double](repeating: 0, count: inFeatures * outFeatures)
        var dB = [Double](repeating: 0, count: outFeatures)
        for r in 0..<rows {
            for o in 0..<outFeatures {
                let g = dOut[r * outFeatures + o]
                dB[o] += g
                for i in 0..<inFeatures {
                    let w = weightIndex(out: o, in: i, inFeatures: inFeatures, outFeatures: outFeatures, layout: layout)
                    dx[r * inFeatures + i] += g * weight[w]
                    dW[w] += g * x[r * inFeatures + i]
                }
            }
        }
        return (dx, dW, dB)
    }
}

// MARK: - Residual add and bias

extension Reference {
    /// `a + b` element-wise. Matches `torch.add(a, b)`.
    public static func add(_ a: [Double], _ b: [Double]) -> [Double] {
        precondition(a.count == b.count, "Reference.add: sizes")
        return (0..<a.count).map { a[$0] + b[$0] }
    }

    /// `x[r, c] + bias[c]` for `x` `[rows, cols]` (broadcast over rows, as `x + bias` in PyTorch).
    public static func addBias(_ x: [Double], _ bias: [Double], rows: Int, cols: Int) -> [Double] {
        precondition(x.count == rows * cols && bias.count == cols, "Reference.addBias: sizes")
        var y = x
        for r in 0..<rows { for c in 0..<cols { y[r * cols + c] = x[r * cols + c] + bias[c] } }
        return y
    }

    /// Gradient of `addBias` with respect to the bias: `Σ_r dOut[r, c]` (`dOut.sum(0)`, as autograd gives).
    public static func biasGradient(_ dOut: [Double], rows: Int, cols: Int) -> [Double] {
        var g = [Double](repeating: 0, count: cols)
        for c in 0..<cols { for r in 0..<rows { g[c] += dOut[r * cols + c] } }
        return g
    }
}
