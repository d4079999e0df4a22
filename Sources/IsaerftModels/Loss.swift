import IsaerftCore

/// Mean next-token cross-entropy over a batch, and its gradient with respect to the logits.
///
/// Position t predicts ids[t + 1]; pairs where either token is padding are skipped. Matches
/// `F.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())` (HF `labels=input_ids`)
/// for unpadded input. `logits` is `[B, T, V]` from a forward pass with `LogitsRequest.all`.
public func nextTokenLoss(logits: Tensor, batch: TokenBatch) -> (loss: Double, dLogits: Tensor) {
    let B = batch.batch, T = batch.length, V = logits.shape.last!
    precondition(logits.shape == [B, T, V], "nextTokenLoss: logits \(logits.shape) for a \(B)×\(T) batch")
    let targets = batch.nextTokenTargets()
    let count = targets.filter { $0 >= 0 }.count
    let flat = logits.reshaped([B * T, V])
    let losses = crossEntropyForward(logits: flat, targets: targets)
    let loss = count == 0 ? 0 : losses.reduce(0.0) { $0 + Double($1) } / Double(count)
    var d = Tensor(shape: [B * T, V])
    if count > 0 {
        crossEntropyBackward(dLogits: &d, dLoss: targets.map { $0 >= 0 ? 1 / Float(count) : 0 }, logits: flat, targets: targets)
    }
    return (loss, d.reshaped([B, T, V]))
}

extension TokenBatch {
    /// For each of the `batch · length` rows, the id the position predicts (the next token), or −1
    /// for the last position and wherever either token is padding (the ignore index).
    public func nextTokenTargets() -> [Int] {
        let B = batch, T = length
        var targets = [Int](repeating: -1, count: B * T)
        for b in 0..<B { for t in 0..<max(0, T - 1) where (mask?[b][t] ?? true) && (mask?[b][t + 1] ?? true) {
            targets[b * T + t] = ids[b][t + 1]
        } }
        return targets
    }
}
