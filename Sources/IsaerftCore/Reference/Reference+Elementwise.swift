import Foundation

// MARK: - Activations

extension Reference {
    /// GELU, element-wise. `.tanh`: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), matching
    /// `torch.nn.functional.gelu(x, approximate="tanh")` (HF `NewGELUActivation`, `gelu_pytorch_tanh`);
    /// `.exact`: x·Φ(x) = 0.5·x·(1 + erf(x/√2)), matching `torch.nn.functional.gelu(x)`.
    public static func gelu(_ x: [Double], kind: GELUKind) -> [Double] {
        x.map { v in
            switch kind {
            case .tanh: 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            case .exact: 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            }
        }
    }

    /// Derivative of `gelu` times `dOut` (`torch.autograd` of `F.gelu`). `.tanh`: with u = √(2/π)(x + 0.044715x³),
    /// d/dx = 0.5(1 + tanh u) + 0.5·x·(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²);
    /// `.exact`: d/dx = Φ(x) + x·φ(x) with φ(x) = exp(−x²/2)/√(2π).
    public static func geluBackward(dOut: [Double], x: [Double], kind: GELUKind) -> [Double] {
        precondition(dOut.count == x.count, "Reference.geluBackward: sizes")
        return (0..<x.count).map { i in
            let v = x[i]
            let derivative: Double
            switch kind {
            case .tanh:
                let c = (2 / Double.pi).squareRoot()
                let t = Foundation.tanh(c * (v + 0.044715 * v * v * v))
                derivative = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
            case .exact:
                let cdf = 0.5 * (1 + erf(v / 2.0.squareRoot()))
                let pdf = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
                derivative = cdf + v * pdf
            }
            return dOut[i] * derivative
        }
    }

    /// SiLU (swish), element-wise: x·σ(x) = x / (1 + e^(−x)). Matches `torch.nn.functional.silu(x)`.
    public static func silu(_ x: [Double]) -> [Double] {
        x.map { v in v / (1 + Foundation.exp(-v)) }
    }

    /// Derivative of `silu` times `dOut` (`torch.autograd` of `F.silu`): d/dx [x·σ(x)] = σ(x) + x·σ(x)(1 − σ(x)).
    public static func siluBackward(dOut: [Double], x: [Double]) -> [Double] {
        precondition(dOut.count == x.count, "Reference.siluBackward: sizes")
        return (0..<x.count).map { i in
            let sigma = 1 / (1 + Foundation.exp(-x[i]))
            return dOut[i] * (sigma + x[i] * sigma * (1 - sigma))
        }
    }
}

// MARK: - Embedding

extension Reference {
    /// Row gather `out[i, :] = table[ids[i], :]` for `table` `[vocab, d]`. Matches `torch.nn.functional.embedding(ids, table)`.
    public static func embedding(ids: [Int], table: [Double], vocab: Int, d: Int) -> [Double] {
        precondition(table.count == vocab * d, "Reference.embedding: sizes")
        var out = [Double]()
        out.reserveCapacity(ids.count * d)
        for id in ids {
            precondition(id >= 0 && id < vocab, "Reference.embedding: id \(id) outside 0..<\(vocab)")
            for j in 0..<d { out.append(table[id * d + j]) }
        }
        return out
    }

    /// Gradient of `embedding` with respect to the table (`torch.autograd` of `F.embedding`, dense):
    /// `dTable[v, :] = Σ_{i: ids[i] = v} dOut[i, :]`
    /// (repeated ids add up).
    public static func embeddingBackward(dOut: [Double], ids: [Int], vocab: Int, d: Int) -> [Double] {
        precondition(dOut.count == ids.count * d, "Reference.embeddingBackward: sizes")
        var dTable = [Double](repeating: 0, count: vocab * d)
        for v in 0..<vocab {
            for (i, id) in ids.enumerated() where id == v {
                for j in 0..<d { dTable[v * d + j] += dOut[i * d + j] }
            }
        }
        return dTable
    }
}

// MARK: - Log-softmax and cross-entropy

extension Reference {
    /// `out[r, i] = x[r, i] − log Σ_j exp(x[r, j])` for `x` `[n, v]`, computed as
    /// `x − m − log Σ exp(x − m)` with m the row maximum. Matches `torch.log_softmax(x, dim=-1)`.
    public static func logSoftmax(_ x: [Double], n: Int, v: Int) -> [Double] {
        precondition(x.count == n * v, "Reference.logSoftmax: sizes")
        var out = [Double](repeating: 0, count: n * v)
        for r in 0..<n {
            let row = x[(r * v)..<((r + 1) * v)]
            let m = row.max() ?? 0
            let logZ = m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp($1 - m) })
            for i in 0..<v { out[r * v + i] = x[r * v + i] - logZ }
        }
        return out
    }

    /// Per-row cross-entropy `loss[r] = −log_softmax(logits[r])[targets[r]]`; a negative target (the `-100`
    /// ignore index) gives 0. Matches `torch.nn.functional.cross_entropy(logits, targets, reduction="none",
    /// ignore_index=t)` for any negative `t`.
    public static func crossEntropy(logits: [Double], targets: [Int], n: Int, v: Int) -> [Double] {
        precondition(targets.count == n, "Reference.crossEntropy: sizes")
        let logp = logSoftmax(logits, n: n, v: v)
        return (0..<n).map { r in targets[r] < 0 ? 0 : -logp[r * v + targets[r]] }
    }

    /// Gradient of `Σ_r dLoss[r]·crossEntropy[r]` with respect to the logits (`torch.autograd` of `F.cross_entropy`):
    /// `dLoss[r]·(softmax(logits[r]) − onehot(targets[r]))`, zero for ignored rows.
    public static func crossEntropyBackward(dLoss: [Double], logits: [Double], targets: [Int], n: Int, v: Int) -> [Double] {
        precondition(dLoss.count == n && targets.count == n, "Reference.crossEntropyBackward: sizes")
        let logp = logSoftmax(logits, n: n, v: v)
        var d = [Double](repeating: 0, count: n * v)
        for r in 0..<n where targets[r] >= 0 {
            for i in 0..<v {
                d[r * v + i] = dLoss[r] * (Foundation.exp(logp[r * v + i]) - (i == targets[r] ? 1 : 0))
            }
        }
        return d
    }
}
