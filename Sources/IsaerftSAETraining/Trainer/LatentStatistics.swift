import Foundation

/// Dead and dense latent bookkeeping of the training loop (SAELens `SAETrainer` §5.4 of the notes).
enum LatentStatistics {
    /// After a step: every counter + 1, latents that fired on any row reset to 0
    /// (`n_forward_passes_since_fired`); firing counts added to the window (`act_freq_scores`).
    static func update(stepsSinceFired: inout [Int], windowFireCounts: inout [Int], fireCounts: [Int32]) {
        precondition(fireCounts.count == stepsSinceFired.count, "fireCounts has \(fireCounts.count) latents, expected \(stepsSinceFired.count)")
        for i in fireCounts.indices {
            let c = Int(fireCounts[i])
            stepsSinceFired[i] = c > 0 ? 0 : stepsSinceFired[i] + 1
            windowFireCounts[i] += c
        }
    }

    /// Per-step numbers: `sparsity/dead_features` (steps since fired > window), their fraction,
    /// `sparsity/dense_fraction` (window density > threshold), `sparsity/mean_passes_since_fired`.
    static func stepLog(stepsSinceFired: [Int], windowFireCounts: [Int], windowTokens: Int,
                        deadWindow: Int, denseThreshold: Double) -> [String: Double] {
        let n = Double(max(stepsSinceFired.count, 1))
        let dead = stepsSinceFired.reduce(0) { $0 + ($1 > deadWindow ? 1 : 0) }
        let limit = denseThreshold * Double(windowTokens)
        let dense = windowTokens == 0 ? 0 : windowFireCounts.reduce(0) { $0 + (Double($1) > limit ? 1 : 0) }
        return [
            "sparsity/dead_features": Double(dead),
            "sparsity/dead_fraction": Double(dead) / n,
            "sparsity/dense_fraction": Double(dense) / n,
            "sparsity/mean_passes_since_fired": Double(stepsSinceFired.reduce(0, +)) / n,
        ]
    }

    /// SAELens `feature_sparsity` = counts / tokens.
    static func density(fireCounts: [Int], tokens: Int) -> [Double] {
        fireCounts.map { tokens > 0 ? Double($0) / Double(tokens) : 0 }
    }

    /// SAELens `_log_feature_sparsity`: log10(density + 1e-10), in fp32 as SAELens saves it.
    static func logSparsity(fireCounts: [Int], tokens: Int) -> [Float] {
        density(fireCounts: fireCounts, tokens: tokens).map { Float(log10($0 + 1e-10)) }
    }

    /// SAELens `_build_sparsity_log_dict` at the end of a sampling window.
    static func windowLog(fireCounts: [Int], tokens: Int) -> [String: Double] {
        let d = density(fireCounts: fireCounts, tokens: tokens)
        let logs = d.map { log10($0 + 1e-10) }
        return [
            "metrics/mean_log10_feature_sparsity": logs.reduce(0, +) / Double(max(logs.count, 1)),
            "sparsity/below_1e-5": Double(d.filter { $0 < 1e-5 }.count),
            "sparsity/below_1e-6": Double(d.filter { $0 < 1e-6 }.count),
        ]
    }
}
