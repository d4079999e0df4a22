import Foundation
import IsaerftTokenizers

/// Everything one latent's dashboard shows (`analysis-and-dashboards.md` §1): activation
/// examples (top and quantile groups), the activation histogram and density, logit effects, and
/// the latent's labels and Neuronpedia page. Token ids are resolved to display strings once, at
/// construction, so rendering needs no tokenizer.
public struct LatentDashboard: Sendable {
    public var latent: Int
    /// What the SAE is (a path, registry id or Neuronpedia id), for the header.
    public var saeName: String
    public var hookName: String
    public var modelName: String?
    public var explanations: [LatentExplanation]
    public var neuronpedia: NeuronpediaID?
    public var report: LatentActivityReport
    public var logits: LatentLogitEffects?
    /// Display text of every token id used by the examples and logit tables.
    public var tokenStrings: [Int: String]

    public init(latent: Int, saeName: String, hookName: String, modelName: String? = nil, labels: LatentLabels = LatentLabels(),
                neuronpedia: NeuronpediaID? = nil, report: LatentActivityReport, logits: LatentLogitEffects?,
                tokenText: (Int) -> String) {
        self.latent = latent; self.saeName = saeName; self.hookName = hookName; self.modelName = modelName
        self.explanations = labels.explanations(for: latent); self.neuronpedia = neuronpedia
        self.report = report; self.logits = logits
        var ids = Set<Int>()
        for e in report.top { ids.formUnion(e.tokens) }
        for g in report.quantiles { for e in g.examples { ids.formUnion(e.tokens) } }
        if let logits { for t in logits.positive + logits.negative { ids.insert(t.token) } }
        tokenStrings = Dictionary(uniqueKeysWithValues: ids.map { ($0, tokenText($0)) })
    }

    public var label: String? { explanations.first?.description }
    public var neuronpediaURL: String? { neuronpedia?.featureURL(latent) }
    public func text(_ token: Int) -> String { tokenStrings[token] ?? "#\(token)" }

    /// Display text of a token: its bytes as UTF-8 (invalid sequences, e.g. half a character, become
    /// U+FFFD); `#id` when the tokenizer does not know the id.
    public static func tokenText(_ tokenizer: (any TextTokenizer)?) -> (Int) -> String {
        { id in
            guard let tokenizer, let bytes = try? tokenizer.tokenBytes(id) else { return "#\(id)" }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    // MARK: - JSON (Neuronpedia feature-record names)

    /// The dashboard as a Neuronpedia-style feature record (`modelId`, `layer`, `index`,
    /// `maxActApprox`, `frac_nonzero`, `pos_str`/`pos_values`, `neg_str`/`neg_values`,
    /// `freq_hist_data_bar_{heights,values}` (bin centres), `logits_hist_data_bar_*`, `activations[]`
    /// with `tokens`, `values`, `maxValue`, `maxValueTokenIndex`, `minValue`, `dataIndex`, and for
    /// quantile examples `binMin`, `binMax`, `binContains`; `explanations[]`), plus `url`, `label`,
    /// `hook_name`, `token_count`, `active_count`, and per activation `token_ids`, `position`, `group`.
    public func jsonObject() -> [String: Any] {
        let r = report
        var o: [String: Any] = [
            "index": latent, "hook_name": hookName, "sae": saeName,
            "maxActApprox": jsonNumber(r.maxActivation), "frac_nonzero": r.density,
            "token_count": r.tokenCount, "active_count": r.activeCount, "mean_active": r.meanActive,
            "freq_hist_data_bar_heights": r.histogram,
            "freq_hist_data_bar_values": binCentres(r.histogramEdges),
        ]
        if let n = neuronpedia { o["modelId"] = n.modelID; o["layer"] = n.sourceID; o["url"] = n.featureURL(latent) }
        if let modelName { o["model"] = modelName }
        if let label { o["label"] = label }
        o["explanations"] = explanations.map { e -> [String: Any] in
            var x: [String: Any] = ["description": e.description]
            if let t = e.typeName { x["typeName"] = t }
            if let m = e.explanationModelName { x["explanationModelName"] = m }
            return x
        }
        if let l = logits {
            o["pos_str"] = l.positive.map { text($0.token) }; o["pos_values"] = l.positive.map { jsonNumber($0.value) }
            o["pos_ids"] = l.positive.map(\.token)
            o["neg_str"] = l.negative.map { text($0.token) }; o["neg_values"] = l.negative.map { jsonNumber($0.value) }
            o["neg_ids"] = l.negative.map(\.token)
            let w = (l.histogramMax - l.histogramMin) / Float(max(l.histogram.count, 1))
            o["logits_hist_data_bar_heights"] = l.histogram
            o["logits_hist_data_bar_values"] = (0..<l.histogram.count).map { jsonNumber(l.histogramMin + (Float($0) + 0.5) * w) }
            o["logit_convention"] = l.convention.rawValue
            o["logit_stats"] = ["mean": l.mean, "std": l.std, "skewness": l.skewness, "kurtosis": l.kurtosis]
        }
        var acts: [[String: Any]] = r.top.map { activationJSON($0, group: "top", bin: nil) }
        for g in r.quantiles.reversed() {
            acts += g.examples.map { activationJSON($0, group: "interval", bin: g) }
        }
        o["activations"] = acts
        return o
    }

    func activationJSON(_ e: LatentExample, group: String, bin: QuantileGroup?) -> [String: Any] {
        var a: [String: Any] = [
            "tokens": e.tokens.map(text), "token_ids": e.tokens, "values": e.activations.map(jsonNumber),
            "maxValue": jsonNumber(e.activation), "maxValueTokenIndex": e.centreIndex,
            "minValue": jsonNumber(e.activations.min() ?? 0), "dataIndex": e.contextIndex, "position": e.position, "group": group,
        ]
        if let bin {
            a["binMin"] = jsonNumber(bin.lower); a["binMax"] = jsonNumber(bin.upper)
            a["binContains"] = report.activeCount == 0 ? 0 : Double(bin.population) / Double(report.activeCount)
        }
        return a
    }

    func binCentres(_ edges: [Float]) -> [Double] {
        edges.count < 2 ? [] : (0..<(edges.count - 1)).map { jsonNumber((edges[$0] + edges[$0 + 1]) / 2) }
    }
}

/// A Float as the Double with the same shortest decimal form (JSON shows `1.5`, not `1.5000000238`).
func jsonNumber(_ f: Float) -> Double { f.isFinite ? Double("\(f)") ?? Double(f) : 0 }
