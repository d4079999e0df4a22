import IsaerftCore

extension GPT2Weights {
    /// TransformerLens `center_writing_weights`: every weight and bias that writes to the residual
    /// stream (W_E, W_pos, attention and MLP output projections) has its mean over the residual
    /// dimension removed, so each residual value equals the unprocessed one minus its per-token mean.
    /// LayerNorm ignores that mean, so logits are unchanged: the unembedding keeps the original
    /// embedding matrix (a tied head is untied first, as TransformerLens keeps a separate W_U).
    /// SAEs such as gpt2-small-res-jb were trained on these centred residuals.
    public func centeringWritingWeights(_ c: GPT2Config) -> GPT2Weights {
        var w = self
        if w.lmHead == nil { w.lmHead = tokenEmbedding }
        centerRows(&w.tokenEmbedding)
        centerRows(&w.positionEmbedding)
        for l in 0..<w.blocks.count {
            centerRows(&w.blocks[l].attnProjWeight)   // [in, out]: centre over out
            centerRows(&w.blocks[l].attnProjBias)
            centerRows(&w.blocks[l].mlpProjWeight)
            centerRows(&w.blocks[l].mlpProjBias)
        }
        return w
    }
}

/// Subtracts each row's mean (over the last axis), in Double.
func centerRows(_ t: inout Tensor) {
    let (n, d) = t.matrixShape
    for r in 0..<n {
        var s = 0.0
        for i in 0..<d { s += Double(t.scalars[r * d + i]) }
        let mu = Float(s / Double(d))
        for i in 0..<d { t.scalars[r * d + i] -= mu }
    }
}
