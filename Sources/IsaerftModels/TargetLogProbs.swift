import IsaerftCore

/// log p(target) per row without materialising every logit: the output layer runs over chunks of
/// `chunkRows` rows at a time (`chunkRows × V` floats at most; 64 × 262,144 × 4 B = 67 MB for Gemma).
/// Rows whose target is negative get 0. Matches `log_softmax(logits)[target]` (with Gemma 2's
/// final soft-cap applied first when `softcap` is set).
/// Shapes: hidden `[N, d]` (after the final norm), unembed `[V, d]`, targets `[N]`.
func chunkedTargetLogProbs(hidden: Tensor, unembed: Tensor, targets: [Int], softcap: Float?, chunkRows: Int = 64) -> [Float] {
    let n = hidden.matrixShape.rows, V = unembed.matrixShape.rows
    var out = [Float](repeating: 0, count: n)
    let wanted = (0..<n).filter { targets[$0] >= 0 }
    var start = 0
    while start < wanted.count {
        let rows = Array(wanted[start..<min(wanted.count, start + chunkRows)])
        let h = gatherRows(hidden, rows)
        var logits = Tensor.uninitialized([rows.count, V])
        matmulTransposedB(h, unembed, into: &logits)
        if let softcap { softcapInPlace(&logits, cap: softcap) }
        let losses = crossEntropyForward(logits: logits, targets: rows.map { targets[$0] })
        for (i, r) in rows.enumerated() { out[r] = -losses[i] }
        start += chunkRows
    }
    return out
}

extension HookedLanguageModel {
    /// log p(ids[t + 1] | ids[...t]) for every position t of every row (0 where the next token is
    /// padding or absent), computed in row chunks so large vocabularies do not exhaust memory.
    /// Returns `[B, T]`.
    public func nextTokenLogProbs(_ batch: TokenBatch, hooks: HookSet = HookSet()) throws -> Tensor {
        try targetLogProbs(batch, targets: batch.nextTokenTargets(), hooks: hooks)
    }
}
