import Foundation
import IsaerftAnalysis
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTokenizers
import IsaerftTuning

/// Settings of an audit.
public struct AuditOptions: Sendable {
    /// Latents per listing (up, down, by effect).
    public var top = 20
    /// Top-activating examples kept per listed latent.
    public var examplesPerLatent = 5
    /// Context tokens before and after the centre token of an example.
    public var windowBefore = 8
    public var windowAfter = 4
    /// |value| above which a latent counts as moved in the summary.
    public var movedThreshold = 1e-3
    public init() {}
}

/// Audits an ISaeRFT adapter (`isaerft-method.md` §8, `analysis-and-dashboards.md` §2).
///
/// **Raw value** v_i (lists "up" and "down"): scale `s_i` (the raw parameter, multiplier `1 + p(s_i)`),
/// bias `b_i`, mlp `mean_t δ_i(t)` with `δ(t) = F(f(t))` the component's change of the latents at data
/// token t (its mean |δ_i| is listed beside it).
///
/// **Effect on the data** (list "by effect"), with `c_i = ‖W_dec[i]‖₂` (1 for SAEs with
/// `rescale_acts_by_decoder_norm`, whose decode divides by that norm), `f_i(t)` the latent on data token t
/// (BOS excluded), `freq_i` the fraction of tokens with `f_i > 0`:
/// - scale: `|s_i| · E_t[|f_i(t)|] · c_i` = |change per active token| × `freq_i` × `c_i` (the expected norm of
///   the latent's added contribution `s_i f_i(t) W_dec[i]`; a large `s_i` on a latent that never fires
///   changes nothing);
/// - bias: `|b_i| · 1 · c_i` (the bias applies at every position, so the frequency factor is 1; needs no data);
/// - mlp: `E_t[|δ_i(t)|] · c_i` (δ is already zero where the component changes nothing).
///
/// Labels come from `labels[hook]`, links from the SAE's Neuronpedia id (the adapter's record, else the
/// SAE's `neuronpedia_id`), trajectories from `trajectories.safetensors`, the curve from `records.jsonl`.
public enum Audit {
    /// - Parameters:
    ///   - saes: the SAE of every component, by hook name.
    ///   - model, tokenizer, data: needed for data-dependent effects and examples; without them only the
    ///     raw-value lists (and bias effects) are computed.
    public static func run(adapter: AdapterFolder, saes: [String: SparseAutoencoder], model: (any HookedLanguageModel)? = nil,
                           tokenizer: (any TextTokenizer)? = nil, data: AuditData? = nil, labels: [String: LatentLabels] = [:],
                           options: AuditOptions = AuditOptions()) throws -> AuditReport {
        var notes: [String] = []
        let trajectories: Trajectories?
        if FileManager.default.fileExists(atPath: adapter.trajectoriesURL.path) {
            trajectories = try Trajectories.read(from: adapter.trajectoriesURL)
        } else { trajectories = nil; notes.append("no \(AdapterFolder.trajectoriesFile): trajectories not shown") }
        let records: [TrainingRecord]
        if FileManager.default.fileExists(atPath: adapter.recordsURL.path) {
            records = try TrainingRecords.read(from: adapter.recordsURL)
        } else { records = []; notes.append("no \(AdapterFolder.recordsFile): training curve not shown") }
        if data == nil { notes.append("no data: effects of scale and mlp components and top examples need --data") }
        else if model == nil { notes.append("no model: effects and top examples need the base model") }

        var components: [ComponentAudit] = []
        var tokens = 0
        for component in adapter.config.components {
            guard let sae = saes[component.hookName] else { throw AuditError.missingSAE(component.hookName) }
            guard sae.dSAE == component.sae.dSAE else {
                throw AuditError.saeMismatch(hook: component.hookName, expected: component.sae.dSAE, found: sae.dSAE)
            }
            let stats: LatentDataStatistics?
            if let model, let data, !data.rows.isEmpty {
                stats = try LatentDataStatistics.collect(rows: data.rows, model: model, sae: sae, component: component, adapter: adapter,
                                                         excluded: Set([tokenizer?.bosTokenID ?? model.bosTokenID].compactMap { $0 }))
                tokens = max(tokens, stats!.tokenCount)
            } else { stats = nil }
            var audit = try rank(component: component, adapter: adapter, sae: sae, stats: stats, labels: labels[component.hookName],
                                 trajectories: trajectories, options: options)
            if let model, let data, !data.rows.isEmpty {
                try attachExamples(&audit, rows: data.rows, model: model, sae: sae, tokenizer: tokenizer, stats: stats, options: options)
            }
            components.append(audit)
        }
        return AuditReport(adapterPath: adapter.url.path, config: adapter.config, components: components, records: records,
                           dataDescription: data?.description, dataTokens: tokens, notes: notes)
    }

    /// One-component convenience.
    public static func run(adapter: AdapterFolder, sae: SparseAutoencoder, model: (any HookedLanguageModel)? = nil,
                           tokenizer: (any TextTokenizer)? = nil, data: AuditData? = nil, labels: LatentLabels? = nil,
                           options: AuditOptions = AuditOptions()) throws -> AuditReport {
        let hooks = adapter.config.components.map(\.hookName)
        return try run(adapter: adapter, saes: Dictionary(uniqueKeysWithValues: hooks.map { ($0, sae) }), model: model, tokenizer: tokenizer,
                       data: data, labels: labels.map { l in Dictionary(uniqueKeysWithValues: hooks.map { ($0, l) }) } ?? [:], options: options)
    }

    // MARK: - Ranking

    /// The listings of one component from its values and (optional) data statistics.
    static func rank(component: AdapterComponent, adapter: AdapterFolder, sae: SparseAutoencoder, stats: LatentDataStatistics?,
                     labels: LatentLabels?, trajectories: Trajectories?, options: AuditOptions) throws -> ComponentAudit {
        let d = sae.dSAE
        let c = decoderContributionNorms(sae)
        var values = [Double](repeating: 0, count: d)
        var meanAbs: [Double]? = nil
        var effect: [Double]? = nil
        let valueFormula: String, effectFormula: String
        var trajectoryName: String? = nil
        switch component.kind {
        case .scale, .bias:
            guard let v = adapter.vector(component) else { throw AuditError.missingSAE(component.hookName) }
            values = v.scalars.map(Double.init)
            trajectoryName = component.kind == .scale ? "\(component.hookName).scale" : "\(component.hookName).bias"
            if component.kind == .scale {
                valueFormula = "s_i (multiplier 1 + \(component.scaleProcessor == .abs ? "|s_i|" : "s_i"))"
                effectFormula = "|s_i| · E_t|f_i(t)| · ‖W_dec[i]‖ (= |change per active token| × frequency × decoder norm)"
                if let stats {
                    let p = component.scaleProcessor
                    effect = (0..<d).map { i in Swift.abs(p == .abs ? Swift.abs(values[i]) : values[i]) * stats.meanAbsActivation[i] * c[i] }
                }
            } else {
                valueFormula = "b_i"
                effectFormula = "|b_i| · 1 · ‖W_dec[i]‖ (the bias applies at every position: frequency factor 1)"
                effect = (0..<d).map { Swift.abs(values[$0]) * c[$0] }
            }
        case .mlp:
            valueFormula = "mean_t δ_i(t), δ = F(f) on the data (mean |δ_i| beside it)"
            effectFormula = "E_t|δ_i(t)| · ‖W_dec[i]‖"
            if let stats, let mean = stats.meanChange, let mAbs = stats.meanAbsChange {
                values = mean
                meanAbs = mAbs
                effect = (0..<d).map { mAbs[$0] * c[$0] }
            }
        }
        let np = component.sae.neuronpediaID ?? sae.config.neuronpediaID
        let neuronpedia = np.flatMap { try? NeuronpediaID($0) }
        let steps = trajectoryName.flatMap { trajectories?.values[$0] != nil ? trajectories?.steps : nil } ?? []
        func latent(_ i: Int) -> AuditedLatent {
            AuditedLatent(index: i, value: values[i], meanAbsChange: meanAbs?[i], effect: effect?[i], frequency: stats?.frequency[i],
                          meanAbsActivation: stats?.meanAbsActivation[i], decoderNorm: c[i], label: labels?.label(for: i),
                          url: neuronpedia?.featureURL(i), trajectory: trajectoryName.flatMap { trajectories?.series($0, index: i) },
                          examples: [])
        }
        let n = options.top
        let up = topIndices(values, count: n) { $0 > 0 }.map(latent)
        let down = topIndices(values.map { -$0 }, count: n) { $0 > 0 }.map(latent)
        let byEffect = effect.map { e in topIndices(e, count: n) { $0 > 0 }.map(latent) } ?? []
        let l2 = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return ComponentAudit(hookName: component.hookName, kind: component.kind, sae: component.sae, valueCount: d, l2Norm: l2,
                              maxAbs: values.map { Swift.abs($0) }.max() ?? 0,
                              movedCount: values.filter { Swift.abs($0) > options.movedThreshold }.count,
                              up: up, down: down, byEffect: byEffect, valueFormula: valueFormula, effectFormula: effectFormula,
                              trajectorySteps: steps)
    }

    /// Indices of the `count` largest values passing `keep`, largest first; ties: lower index first.
    static func topIndices(_ values: [Double], count: Int, keep: (Double) -> Bool) -> [Int] {
        values.indices.filter { keep(values[$0]) }
            .sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
            .prefix(count).map { $0 }
    }

    /// `‖W_dec[i]‖₂` per latent, or 1 for SAEs with `rescale_acts_by_decoder_norm`.
    static func decoderContributionNorms(_ sae: SparseAutoencoder) -> [Double] {
        let (rows, cols) = sae.weights.wDec.matrixShape
        if sae.config.rescaleActsByDecoderNorm { return [Double](repeating: 1, count: rows) }
        return (0..<rows).map { i in
            var s = 0.0
            for j in 0..<cols { let v = Double(sae.weights.wDec.scalars[i * cols + j]); s += v * v }
            return s.squareRoot()
        }
    }

    // MARK: - Examples

    static func attachExamples(_ audit: inout ComponentAudit, rows: [[Int]], model: any HookedLanguageModel, sae: SparseAutoencoder,
                               tokenizer: (any TextTokenizer)?, stats: LatentDataStatistics?, options: AuditOptions) throws {
        let listed = Array(Set((audit.up + audit.down + audit.byEffect).map(\.index))).sorted()
        guard !listed.isEmpty, let hook = HookPoint(name: audit.hookName) else { return }
        var config = TopExamplesConfiguration(latents: listed)
        config.topCount = options.examplesPerLatent
        config.windowBefore = options.windowBefore
        config.windowAfter = options.windowAfter
        config.quantileGroups = 1
        config.examplesPerQuantile = 1
        config.histogramBins = 1
        config.fineBins = 8
        config.excludedTokens = stats?.excluded ?? []
        var collector = LatentExampleCollector(config)
        let reader = try LatentReader(model: model, sae: sae, hook: hook)
        for (r, row) in rows.enumerated() {
            let ids = Array(row.prefix(model.contextLength))
            guard !ids.isEmpty else { continue }
            let f = try reader.features([ids])
            collector.add(tokens: ids, features: f.reshaped([ids.count, sae.dSAE]), contextIndex: r)
        }
        let text = LatentDashboard.tokenText(tokenizer)
        var examples: [Int: [AuditExample]] = [:]
        for report in collector.reports() {
            examples[report.latent] = report.top.map { e in
                AuditExample(row: e.contextIndex, position: e.position, activation: e.activation, tokens: e.tokens.map(text),
                             activations: e.activations, centre: e.centreIndex)
            }
        }
        func fill(_ list: inout [AuditedLatent]) { for k in list.indices { list[k].examples = examples[list[k].index] ?? [] } }
        fill(&audit.up); fill(&audit.down); fill(&audit.byEffect)
    }
}

/// Errors of the audit; one line each.
public enum AuditError: Error, CustomStringConvertible, Equatable {
    case missingSAE(String)
    case saeMismatch(hook: String, expected: Int, found: Int)
    case badInput(String)

    public var description: String {
        switch self {
        case let .missingSAE(hook): "no SAE for the component at \(hook)"
        case let .saeMismatch(hook, e, f): "the SAE for \(hook) has d_sae \(f), the adapter was trained on one with d_sae \(e)"
        case let .badInput(why): why
        }
    }
}
