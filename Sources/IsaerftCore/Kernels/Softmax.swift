import CKernels
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Row-wise log-softmax: out[r, :] = x[r, :] − logsumexp(x[r, :]) (max-shifted; sums in Double).
/// Matches `torch.log_softmax(x, -1)`.
public func logSoftmaxForward(out: inout Tensor, x: Tensor) {
    let (n, v) = x.matrixShape
    precondition(out.shape == x.shape, "logSoftmaxForward: shapes")
    x.withUnsafeBufferPointer { px in out.withUnsafeMutableBufferPointer { po in
        let po = po.baseAddress!
        Parallel.forEach(n, costPerItem: v * 3) { rows in
            for r in rows {
                let row = px.baseAddress! + r * v
                let lse = logSumExp(row, v)
                for i in 0..<v { po[r * v + i] = Float(Double(row[i]) - lse) }
            }
        }
    } }
}

/// log Σ exp(row[i]) in Double after shifting by the maximum.
@inlinable
public func logSumExp(_ row: UnsafePointer<Float>, _ v: Int) -> Double {
    let m = isa_max_nan(row, v)   // vectorised; a NaN makes the result NaN, as the sum would anyway
    if m == -.infinity { return -.infinity }
    let s = isa_sum_exp(row, v, m)
    return Double(m) + log(s)
}

/// Cross-entropy per row: loss[r] = logsumexp(logits[r]) − logits[r, target[r]]; rows whose target is
/// negative (the `-100` ignore index) get 0. Matches `F.cross_entropy(reduction="none")`.
/// Shapes: logits `[n, V]`, targets `[n]`; returns `[n]`.
public func crossEntropyForward(logits: Tensor, targets: [Int]) -> [Float] {
    let (n, v) = logits.matrixShape
    precondition(targets.count == n, "crossEntropyForward: \(targets.count) targets for \(n) rows")
    var losses = [Float](repeating: 0, count: n)
    logits.withUnsafeBufferPointer { pl in losses.withUnsafeMutableBufferPointer { po in
        let po = po.baseAddress!
        Parallel.forEach(n, costPerItem: v * 2) { rows in
            for r in rows where targets[r] >= 0 {
                precondition(targets[r] < v, "crossEntropyForward: target \(targets[r]) outside 0..<\(v)")
                let row = pl.baseAddress! + r * v
                po[r] = Float(logSumExp(row, v) - Double(row[targets[r]]))
            }
        }
    } }
    return losses
}

/// Backward of `crossEntropyForward`: dLogits[r] += dLoss[r] · (softmax(logits[r]) − onehot(target[r])).
public func crossEntropyBackward(dLogits: inout Tensor, dLoss: [Float], logits: Tensor, targets: [Int]) {
    let (n, v) = logits.matrixShape
    precondition(dLogits.shape == logits.shape && dLoss.count == n && targets.count == n, "crossEntropyBackward: shapes")
    logits.withUnsafeBufferPointer { pl in dLogits.withUnsafeMutableBufferPointer { pd in
        let pd = pd.baseAddress!
        Parallel.forEach(n, costPerItem: v * 4) { rows in
            for r in rows where targets[r] >= 0 && dLoss[r] != 0 {
                let row = pl.baseAddress! + r * v, out = pd + r * v
                let lse = Float(logSumExp(row, v)), g = dLoss[r]
                isa_add_scaled_exp(out, row, v, lse, g)
                out[targets[r]] -= g
            }
        }
    } }
}

/// `crossEntropyBackward` that overwrites `logits` with d loss/d logits (`[n, v]`), so a large output
/// layer (262k-token vocabularies) needs no second `[n, v]` buffer, no zero fill and no page faults
/// for it. Equal bit for bit to `crossEntropyBackward` into a zeroed tensor: rows with a negative
/// target or zero `dLoss` become 0, the others `dLoss·(softmax − onehot)`.
public func crossEntropyBackwardInPlace(_ logits: inout Tensor, dLoss: [Float], targets: [Int]) {
    let (n, v) = logits.matrixShape
    precondition(dLoss.count == n && targets.count == n, "crossEntropyBackwardInPlace: shapes")
    logits.withUnsafeMutableBufferPointer { pl in
        let base = pl.baseAddress!
        Parallel.forEach(n, costPerItem: v * 4) { rows in
            for r in rows {
                let row = base + r * v
                guard targets[r] >= 0 && dLoss[r] != 0 else { row.update(repeating: 0, count: v); continue }
                let lse = Float(logSumExp(UnsafePointer(row), v)), g = dLoss[r]
                isa_scaled_exp_inplace(row, v, lse, g)
                row[targets[r]] -= g
            }
        }
    }
}
