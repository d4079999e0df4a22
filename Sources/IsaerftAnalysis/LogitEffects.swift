import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftSAE

/// How `W_dec[i]·W_U` treats the final norm (`analysis-and-dashboards.md` §1).
public enum LogitEffectConvention: String, Sendable, CaseIterable {
    /// TransformerLens' processed `W_U` (`from_pretrained` defaults), which is what SAEDashboard and
    /// Neuronpedia multiply by: the final norm's scale folded in (`diag(w)·W_U`), for LayerNorm models
    /// the reading weights centred over d_model (LayerNorm removes the mean; `fold_ln` with
    /// `center_weights`), then centred over the vocabulary (`center_unembed`). The default; equal to
    /// `W_dec[LATENTS] @ tl.W_U` of a processed HookedTransformer (fixture test, 1e-4).
    case transformerLens = "transformer-lens"
    /// `W_dec[i]·W_U` with the raw unembedding: the final norm treated as the identity, no centring.
    case raw
}

/// The unembedding of a model: `W_U = weightᵀ` `[d, V]` and the final norm's scale.
public struct Unembedding: Sendable {
    /// `[V, d]` (nn.Linear layout; a tied head is the token embedding).
    public var weight: Tensor
    /// The final norm's multiplicative scale `[d]` as the forward applies it (GPT-2 `ln_f.weight`;
    /// Gemma's `1 + w`, already added at load), nil for none.
    public var finalNormScale: Tensor?
    /// True when the final norm subtracts the mean (LayerNorm), false for RMSNorm.
    public var finalNormCentres: Bool

    public init(weight: Tensor, finalNormScale: Tensor?, finalNormCentres: Bool) {
        self.weight = weight; self.finalNormScale = finalNormScale; self.finalNormCentres = finalNormCentres
    }

    /// From a `GPT2Model` (`lmHead ?? tokenEmbedding`, `lnFinalWeight`, LayerNorm) or a
    /// `DecoderModel` (`lmHead ?? embedding`, `finalNorm`, RMSNorm). Gemma 2's final logit soft-cap
    /// is not applied: effects are on the pre-cap logits.
    public init(model: any HookedLanguageModel) throws {
        if let m = model as? GPT2Model {
            self.init(weight: m.weights.lmHead ?? m.weights.tokenEmbedding, finalNormScale: m.weights.lnFinalWeight, finalNormCentres: true)
        } else if let m = model as? DecoderModel {
            self.init(weight: m.weights.lmHead ?? m.weights.embedding, finalNormScale: m.weights.finalNorm, finalNormCentres: false)
        } else {
            throw AnalysisError.unsupportedModel("\(type(of: model)) has no unembedding this library reads (GPT2Model, DecoderModel)")
        }
    }

    public var width: Int { weight.matrixShape.cols }
    public var vocabularySize: Int { weight.matrixShape.rows }
}

/// One token's logit effect.
public struct TokenEffect: Sendable, Equatable {
    public var token: Int
    public var value: Float
}

/// A latent's direct effect on the logits (Neuronpedia `pos_str`/`pos_values`, `neg_str`/`neg_values`,
/// `logits_hist_data_bar_*`), with SAELens' logit-lens summary statistics.
public struct LatentLogitEffects: Sendable {
    public var latent: Int
    public var convention: LogitEffectConvention
    /// Largest effects first.
    public var positive: [TokenEffect]
    /// Most negative first.
    public var negative: [TokenEffect]
    /// Counts over all V effects in equal bins over `[histogramMin, histogramMax]`.
    public var histogram: [Int]
    public var histogramMin: Float
    public var histogramMax: Float
    /// Moments over the vocabulary (kurtosis is the raw fourth standardised moment, 3 for a normal).
    public var mean: Double, std: Double, skewness: Double, kurtosis: Double
}

public enum LogitEffects {
    /// Hooks whose value is the residual stream or adds straight into it (width d_model).
    static func writesResidual(_ h: HookPoint) -> Bool {
        switch h {
        case .embed, .posEmbed, .residPre, .residMid, .residPost, .attnOut, .mlpOut: true
        default: false
        }
    }

    /// Decoder rows of `latents` mapped into the residual stream, `[L, d_model]`: `W_dec[i]` for SAEs
    /// on hooks that write the residual stream; for `blocks.L.attn.hook_z` SAEs `W_dec[i]·W_O`
    /// (heads flattened, or one head's rows of `W_O` with `hook_head_index`), the direct path through
    /// the attention output projection (SAEDashboard's route for attention SAEs; `b_O` is not a
    /// latent's effect). Gemma's post-attention norm is not linear, so its `hook_z` SAEs are refused.
    public static func residualDirections(sae: SparseAutoencoder, latents: [Int], model: any HookedLanguageModel) throws -> Tensor {
        try LatentExampleCollector.validate(latents, dSAE: sae.dSAE)
        let hook = try sae.hookPoint()
        let rows = decoderRows(sae, latents)
        if writesResidual(hook) && sae.config.hookHeadIndex == nil { return rows }
        guard case .attnZ(let l) = hook else {
            throw AnalysisError.noDirectLogitPath(hook: hook.description, reason: "the hook does not write the residual stream")
        }
        // W_O as [H·dh, d] (row-vector convention: z·W_O).
        let wO: Tensor
        if let m = model as? GPT2Model, l < m.weights.blocks.count {
            wO = m.weights.blocks[l].attnProjWeight
        } else if let m = model as? DecoderModel, l < m.weights.blocks.count, m.weights.blocks[l].postAttentionNorm == nil {
            let o = m.weights.blocks[l].o   // [d, H·dh]
            let (d, hd) = o.matrixShape
            wO = Tensor(shape: [hd, d], scalars: (0..<(hd * d)).map { k in o.scalars[(k % d) * hd + k / d] })
        } else {
            throw AnalysisError.noDirectLogitPath(hook: hook.description, reason: "no linear path from z to the residual stream in \(type(of: model))")
        }
        let (zWidth, d) = wO.matrixShape
        let offset: Int
        if let head = sae.config.hookHeadIndex { offset = head * sae.dIn } else { offset = 0 }
        guard offset + sae.dIn <= zWidth else {
            throw AnalysisError.noDirectLogitPath(hook: hook.description, reason: "d_in \(sae.dIn) does not fit W_O's \(zWidth) rows")
        }
        let slice = Tensor(shape: [sae.dIn, d], scalars: Array(wO.scalars[(offset * d)..<((offset + sae.dIn) * d)]))
        var out = Tensor.uninitialized([latents.count, d])
        matmul(rows, slice, into: &out)
        return out
    }

    static func decoderRows(_ sae: SparseAutoencoder, _ latents: [Int]) -> Tensor {
        let d = sae.dIn
        return Tensor(shape: [latents.count, d], scalars: latents.flatMap { sae.weights.wDec.scalars[($0 * d)..<(($0 + 1) * d)] })
    }

    /// `W_dec[latents] · W̃_U` `[L, V]` for an SAE on a hook that writes the residual stream, under
    /// `convention` (see `LogitEffectConvention`). Throws for other hooks (use the `model:` form for
    /// `hook_z` SAEs), a width that differs from the unembedding's, or a latent out of range.
    public static func matrix(sae: SparseAutoencoder, latents: [Int], unembedding u: Unembedding,
                              convention: LogitEffectConvention = .transformerLens) throws -> Tensor {
        try LatentExampleCollector.validate(latents, dSAE: sae.dSAE)
        let hook = try sae.hookPoint()
        guard writesResidual(hook), sae.config.hookHeadIndex == nil else {
            throw AnalysisError.noDirectLogitPath(hook: hook.description, reason: "the hook does not write the residual stream (map the decoder through W_O first)")
        }
        guard sae.dIn == u.width else {
            throw AnalysisError.noDirectLogitPath(hook: hook.description, reason: "d_in \(sae.dIn) differs from the unembedding width \(u.width)")
        }
        return matrix(directions: decoderRows(sae, latents), unembedding: u, convention: convention)
    }

    /// `residualDirections · W̃_U` `[L, V]` with the model's own unembedding (any hook with a direct
    /// linear path: residual hooks and `attn.hook_z`).
    public static func matrix(sae: SparseAutoencoder, latents: [Int], model: any HookedLanguageModel,
                              convention: LogitEffectConvention = .transformerLens) throws -> Tensor {
        let dirs = try residualDirections(sae: sae, latents: latents, model: model)
        return matrix(directions: dirs, unembedding: try Unembedding(model: model), convention: convention)
    }

    /// `directions [L, d] · W̃_U` `[L, V]`: for `.transformerLens`, each direction centred over d
    /// (LayerNorm models) and scaled by the final norm, and each output row centred over V.
    public static func matrix(directions: Tensor, unembedding u: Unembedding, convention: LogitEffectConvention) -> Tensor {
        let (n, d) = directions.matrixShape
        precondition(d == u.width, "LogitEffects: directions of width \(d), unembedding width \(u.width)")
        var dirs = directions
        if convention == .transformerLens {
            for r in 0..<n {
                var row = (0..<d).map { Double(directions.scalars[r * d + $0]) }
                if u.finalNormCentres { let mu = row.reduce(0, +) / Double(d); row = row.map { $0 - mu } }
                if let w = u.finalNormScale { for j in 0..<d { row[j] *= Double(w.scalars[j]) } }
                for j in 0..<d { dirs.scalars[r * d + j] = Float(row[j]) }
            }
        }
        var out = Tensor.uninitialized([n, u.vocabularySize])
        matmulTransposedB(dirs, u.weight, into: &out)
        if convention == .transformerLens {
            let v = u.vocabularySize
            for r in 0..<n {
                var s = 0.0
                for j in 0..<v { s += Double(out.scalars[r * v + j]) }
                let mu = Float(s / Double(v))
                for j in 0..<v { out.scalars[r * v + j] -= mu }
            }
        }
        return out
    }

    /// Top `top` positive and negative tokens, histogram and moments for each latent.
    public static func compute(sae: SparseAutoencoder, latents: [Int], unembedding: Unembedding,
                               convention: LogitEffectConvention = .transformerLens, top: Int = 10,
                               histogramBins: Int = 50) throws -> [LatentLogitEffects] {
        summaries(try matrix(sae: sae, latents: latents, unembedding: unembedding, convention: convention),
                  latents: latents, convention: convention, top: top, bins: histogramBins)
    }

    /// `compute` with the model's unembedding, also for `attn.hook_z` SAEs (see `residualDirections`).
    public static func compute(sae: SparseAutoencoder, latents: [Int], model: any HookedLanguageModel,
                               convention: LogitEffectConvention = .transformerLens, top: Int = 10,
                               histogramBins: Int = 50) throws -> [LatentLogitEffects] {
        summaries(try matrix(sae: sae, latents: latents, model: model, convention: convention),
                  latents: latents, convention: convention, top: top, bins: histogramBins)
    }

    static func summaries(_ m: Tensor, latents: [Int], convention: LogitEffectConvention, top: Int, bins: Int) -> [LatentLogitEffects] {
        let v = m.matrixShape.cols
        return latents.enumerated().map { r, latent in
            let row = Array(m.scalars[(r * v)..<((r + 1) * v)])
            return summarize(row, latent: latent, convention: convention, top: top, bins: bins)
        }
    }

    static func summarize(_ row: [Float], latent: Int, convention: LogitEffectConvention, top: Int, bins: Int) -> LatentLogitEffects {
        let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        let k = min(top, row.count)
        let positive = order.prefix(k).map { TokenEffect(token: $0, value: row[$0]) }
        let negative = order.reversed().prefix(k).map { TokenEffect(token: $0, value: row[$0]) }
        let lo = row[order.last!], hi = row[order.first!]
        var hist = [Int](repeating: 0, count: bins)
        let width = (hi - lo) / Float(bins)
        for x in row { hist[width > 0 ? min(bins - 1, Int((x - lo) / width)) : 0] += 1 }
        let n = Double(row.count)
        let mean = row.reduce(0.0) { $0 + Double($1) } / n
        var m2 = 0.0, m3 = 0.0, m4 = 0.0
        for x in row { let c = Double(x) - mean; m2 += c * c; m3 += c * c * c; m4 += c * c * c * c }
        m2 /= n; m3 /= n; m4 /= n
        let std = m2.squareRoot()
        return LatentLogitEffects(latent: latent, convention: convention, positive: positive, negative: negative,
                                  histogram: hist, histogramMin: lo, histogramMax: hi, mean: mean, std: std,
                                  skewness: std > 0 ? m3 / (std * std * std) : 0, kurtosis: m2 > 0 ? m4 / (m2 * m2) : 0)
    }
}
