import Foundation

/// The result of `SAEEvaluator.evaluate`: SAELens 6.54.12's `run_evals` metrics (everything config,
/// `get_eval_everything_config`), under SAELens' field names in `jsonValue`, plus latent-density
/// summaries SAELens does not compute (`LatentDensitySummary`).
///
/// Every scalar is averaged exactly as SAELens averages it: per-token values are concatenated over
/// all batches after dropping excluded tokens and then meaned; `relativeReconstructionBias` is a
/// per-batch ratio averaged over batches; `explainedVariance` pools sums over every batch.
public struct SAEEvalMetrics: Sendable, Equatable {
    // MARK: model_behavior_preservation (`get_downstream_reconstruction_metrics`, compute_kl)

    /// `kl_div_score` = (KL_ablation − KL_sae) / KL_ablation.
    public var klDivScore: Double
    /// `kl_div_with_ablation`: mean over kept positions of KL(p_clean ‖ p_zero-ablated).
    public var klDivWithAblation: Double
    /// `kl_div_with_sae`: mean over kept positions of KL(p_clean ‖ p_spliced).
    public var klDivWithSAE: Double

    // MARK: model_performance_preservation (compute_ce_loss)

    /// `ce_loss_score` = (CE_ablation − CE_sae) / (CE_ablation − CE_clean).
    public var ceLossScore: Double
    /// `ce_loss_with_ablation`: next-token CE with the hook's whole activation set to 0.
    public var ceLossWithAblation: Double
    /// `ce_loss_with_sae`: next-token CE with the hook replaced by `decode(encode(x))` at kept positions.
    public var ceLossWithSAE: Double
    /// `ce_loss_without_sae`: the clean next-token CE.
    public var ceLossWithoutSAE: Double

    // MARK: reconstruction_quality (`get_sparsity_and_variance_metrics`, compute_variance_metrics)

    /// `explained_variance`: 1 − E‖x − x̂‖² / (E‖x‖² − ‖E x‖²) over all kept tokens
    /// (`ExplainedVarianceCalculator`, the corrected mean-centred formula).
    public var explainedVariance: Double
    /// `explained_variance_legacy`: mean over tokens of 1 − ‖x − x̂‖² / ‖x − mean_batch x‖²
    /// (the pre-#665 formula; `mean_batch` over the kept tokens of each batch).
    public var explainedVarianceLegacy: Double
    /// `mse`: mean over tokens of Σ_d (x − x̂)² (fixed in #711).
    public var mse: Double
    /// `cossim`: mean over tokens of cos(x, x̂).
    public var cossim: Double

    // MARK: shrinkage (compute_l2_norms)

    /// `l2_norm_in`, `l2_norm_out`: mean ‖x‖ and ‖x̂‖.
    public var l2NormIn: Double
    public var l2NormOut: Double
    /// `l2_ratio`: mean ‖x̂‖ / ‖x‖ (the divisor is 1 where ‖x‖ < 1e-4).
    public var l2Ratio: Double
    /// `relative_reconstruction_bias`: per batch E‖x̂‖² / E[x·x̂], averaged over batches.
    public var relativeReconstructionBias: Double

    // MARK: sparsity (compute_sparsity_metrics)

    /// `l0`: mean number of latents with f ≠ 0 (≠ rather than >, so AbsTopK's negative latents count).
    public var l0: Double
    /// `l1`: mean Σ_i |f_i|.
    public var l1: Double

    // MARK: token_stats

    /// `total_tokens_eval_reconstruction` / `total_tokens_eval_sparsity_variance`: every token of every
    /// batch, excluded tokens included (SAELens: context_size × batches × batch size).
    public var totalTokens: Int
    /// Tokens the averages ran over (excluded tokens dropped); not a SAELens field.
    public var keptTokens: Int
    /// Batches evaluated (SAELens `n_eval_reconstruction_batches` = `n_eval_sparsity_variance_batches`).
    public var batches: Int

    // MARK: feature_metrics

    /// `feature_density`: per latent, #kept tokens with f_i ≠ 0 / #kept tokens.
    public var featureDensity: [Double]
    /// `consistent_activation_heuristic`: per latent, #kept tokens firing / #prompts with a kept token
    /// firing (NaN for latents that never fire, as in SAELens).
    public var consistentActivationHeuristic: [Double]

    /// Dead / dense fractions and the log10 density histogram of `featureDensity`.
    public var density: LatentDensitySummary
}

/// Latent-density summaries. SAELens' evaluation has no such fields; the training logger's names are
/// reused where they exist (`sparsity/below_1e-5`, `sparsity/below_1e-6`,
/// `metrics/mean_log10_feature_sparsity`, the `plots/feature_density_line_chart` histogram of
/// `log10(density + 1e-10)`).
public struct LatentDensitySummary: Sendable, Equatable {
    /// Latents with density 0 on the evaluated tokens, as a fraction of d_sae.
    public var deadFraction: Double
    /// Latents with density > `denseThreshold`, as a fraction of d_sae.
    public var denseFraction: Double
    public var denseThreshold: Double
    /// Counts of latents with density < 1e-5 and < 1e-6 (training log `sparsity/below_1e-5`, `…1e-6`).
    public var below1e5: Int
    public var below1e6: Int
    /// Mean of log10(density + 1e-10) (training log `metrics/mean_log10_feature_sparsity`).
    public var meanLog10Density: Double
    /// Histogram of log10(density + 1e-10): `counts[i]` latents in [edges[i], edges[i+1]), the last bin
    /// closed; dead latents (log10 = −10) fall in the first bin.
    public var histogramEdges: [Double]
    public var histogramCounts: [Int]

    /// Summarises `density` (per latent, in [0, 1]). Bins of `binWidth` decades from −10 to 0.
    public init(density: [Double], denseThreshold: Double = 0.1, binWidth: Double = 0.5) {
        let n = Double(max(density.count, 1))
        deadFraction = Double(density.filter { $0 == 0 }.count) / n
        denseFraction = Double(density.filter { $0 > denseThreshold }.count) / n
        self.denseThreshold = denseThreshold
        below1e5 = density.filter { $0 < 1e-5 }.count
        below1e6 = density.filter { $0 < 1e-6 }.count
        let logs = density.map { log10($0 + 1e-10) }
        meanLog10Density = logs.reduce(0, +) / n
        let binCount = Int((10 / binWidth).rounded())
        histogramEdges = (0...binCount).map { -10 + Double($0) * binWidth }
        var counts = [Int](repeating: 0, count: binCount)
        for v in logs where v.isFinite {
            let i = Int(((v + 10) / binWidth).rounded(.down))
            counts[min(max(i, 0), binCount - 1)] += 1
        }
        histogramCounts = counts
    }
}

extension SAEEvalMetrics {
    /// The scalar metrics in SAELens' `run_evals` layout (groups and keys as SAELens 6.54.12 returns
    /// them; non-finite values become null, where SAELens' `process_results` writes −1).
    public var jsonValue: JSONValue {
        func num(_ d: Double) -> JSONValue { d.isFinite ? .double(d) : .null }
        return .object([
            ("model_behavior_preservation", .object([
                ("kl_div_score", num(klDivScore)), ("kl_div_with_ablation", num(klDivWithAblation)),
                ("kl_div_with_sae", num(klDivWithSAE)),
            ])),
            ("model_performance_preservation", .object([
                ("ce_loss_score", num(ceLossScore)), ("ce_loss_with_ablation", num(ceLossWithAblation)),
                ("ce_loss_with_sae", num(ceLossWithSAE)), ("ce_loss_without_sae", num(ceLossWithoutSAE)),
            ])),
            ("reconstruction_quality", .object([
                ("explained_variance", num(explainedVariance)), ("explained_variance_legacy", num(explainedVarianceLegacy)),
                ("mse", num(mse)), ("cossim", num(cossim)),
            ])),
            ("shrinkage", .object([
                ("l2_norm_in", num(l2NormIn)), ("l2_norm_out", num(l2NormOut)), ("l2_ratio", num(l2Ratio)),
                ("relative_reconstruction_bias", num(relativeReconstructionBias)),
            ])),
            ("sparsity", .object([("l0", num(l0)), ("l1", num(l1))])),
            ("token_stats", .object([
                ("total_tokens_eval_reconstruction", .int(totalTokens)),
                ("total_tokens_eval_sparsity_variance", .int(totalTokens)),
            ])),
        ])
    }

    /// SAELens' metric names flattened to `group/key` with their values, in `jsonValue` order
    /// (handy for tables and tests).
    public var flatMetrics: [(String, Double)] {
        var out: [(String, Double)] = []
        for (group, v) in jsonValue.objectPairs ?? [] {
            for (key, x) in v.objectPairs ?? [] { out.append(("\(group)/\(key)", x.doubleValue ?? .nan)) }
        }
        return out
    }

    /// `density` in JSON (not a SAELens group).
    public var densityJSON: JSONValue {
        let d = density
        return .object([
            ("dead_fraction", .double(d.deadFraction)), ("dense_fraction", .double(d.denseFraction)),
            ("dense_threshold", .double(d.denseThreshold)),
            ("sparsity/below_1e-5", .int(d.below1e5)), ("sparsity/below_1e-6", .int(d.below1e6)),
            ("metrics/mean_log10_feature_sparsity", d.meanLog10Density.isFinite ? .double(d.meanLog10Density) : .null),
            ("log10_density_histogram", .object([
                ("bin_edges", .array(d.histogramEdges.map { .double($0) })),
                ("counts", .array(d.histogramCounts.map { .int($0) })),
            ])),
        ])
    }
}
