import Foundation
import IsaerftFiles
import IsaerftTuning

extension AuditReport {
    public static let markdownFile = "audit.md"
    public static let jsonFile = "audit.json"
    public static let htmlFile = "audit.html"

    /// Writes `audit.md`, `audit.json` and `audit.html` into `folder` (created if needed), each atomically.
    /// Returns the HTML file's URL.
    @discardableResult
    public func write(to folder: URL) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write(Data(markdown().utf8), to: folder.appendingPathComponent(Self.markdownFile))
        let json = try JSONSerialization.data(withJSONObject: jsonObject(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(json + Data("\n".utf8), to: folder.appendingPathComponent(Self.jsonFile))
        let html = folder.appendingPathComponent(Self.htmlFile)
        try AtomicFile.write(Data(self.html().utf8), to: html)
        return html
    }

    // MARK: - JSON

    public func jsonObject() -> [String: Any] {
        var o: [String: Any] = [
            "adapter": adapterPath, "base_model": config.baseModelNameOrPath, "data_tokens": dataTokens, "notes": notes,
            "components": components.map(Self.componentJSON),
            "records": records.map { r -> [String: Any] in
                var x: [String: Any] = ["step": r.step, "kind": r.kind.rawValue]
                for (k, v) in r.metrics where v.isFinite { x[k] = v }
                return x
            },
        ]
        if let dataDescription { o["data"] = dataDescription }
        if let t = config.training {
            o["training"] = ["loss_type": t.lossType, "lr": t.lr, "steps": t.steps, "seed": t.seed, "beta": t.beta as Any]
        }
        return o
    }

    static func componentJSON(_ c: ComponentAudit) -> [String: Any] {
        var sae: [String: Any] = ["d_in": c.sae.dIn, "d_sae": c.sae.dSAE]
        for (k, v) in [("release", c.sae.release), ("sae_id", c.sae.saeID), ("path", c.sae.path), ("sha256", c.sae.sha256),
                       ("neuronpedia_id", c.sae.neuronpediaID)] { if let v { sae[k] = v } }
        return [
            "hook_name": c.hookName, "kind": c.kind.rawValue, "sae": sae, "value_count": c.valueCount, "l2_norm": finite(c.l2Norm),
            "max_abs": finite(c.maxAbs), "moved_count": c.movedCount, "value_formula": c.valueFormula, "effect_formula": c.effectFormula,
            "trajectory_steps": c.trajectorySteps,
            "up": c.up.map(latentJSON), "down": c.down.map(latentJSON), "by_effect": c.byEffect.map(latentJSON),
        ]
    }

    static func latentJSON(_ l: AuditedLatent) -> [String: Any] {
        var o: [String: Any] = ["index": l.index, "value": finite(l.value), "decoder_norm": finite(l.decoderNorm)]
        if let v = l.effect { o["effect"] = finite(v) }
        if let v = l.meanAbsChange { o["mean_abs_change"] = finite(v) }
        if let v = l.frequency { o["frequency"] = finite(v) }
        if let v = l.meanAbsActivation { o["mean_abs_activation"] = finite(v) }
        if let v = l.label { o["label"] = v }
        if let v = l.url { o["url"] = v }
        if let t = l.trajectory { o["trajectory"] = t.map { finite(Double($0)) } }
        o["examples"] = l.examples.map { e -> [String: Any] in
            ["row": e.row, "position": e.position, "activation": finite(Double(e.activation)), "tokens": e.tokens,
             "values": e.activations.map { finite(Double($0)) }, "centre": e.centre]
        }
        return o
    }

    static func finite(_ x: Double) -> Double { x.isFinite ? x : 0 }

    // MARK: - Markdown

    public func markdown() -> String {
        var m = "# Audit of \(Self.mdEscape(adapterPath))\n\n"
        m += "- base model: `\(config.baseModelNameOrPath)`\n"
        if let t = config.training {
            m += "- training: \(t.lossType), lr \(t.lr), \(t.steps) steps, seed \(t.seed)" + (t.beta.map { ", β \($0)" } ?? "") + "\n"
        }
        if let dataDescription { m += "- data: \(Self.mdEscape(dataDescription)) (\(dataTokens) tokens)\n" }
        for n in notes { m += "- note: \(Self.mdEscape(n))\n" }
        if let last = records.last(where: { $0.kind == .train }) {
            let acc = last.value(TRLMetric.rewardsAccuracies).map { String(format: ", reward accuracy %.3f", $0) } ?? ""
            m += "- last training record: step \(last.step), loss \(last.value(TRLMetric.loss).map { String(format: "%.4f", $0) } ?? "–")\(acc)\n"
        }
        if let last = records.last(where: { $0.kind == .eval }) {
            m += "- last eval record: step \(last.step), eval_loss \(last.value(TRLMetric.loss).map { String(format: "%.4f", $0) } ?? "–")\n"
        }
        for c in components {
            m += "\n## \(c.kind.rawValue) at `\(c.hookName)`\n\n"
            m += "SAE: \(Self.saeName(c.sae)), d_sae \(c.sae.dSAE). \(c.movedCount) of \(c.valueCount) values have |value| > 1e-3; L2 norm \(Self.num(c.l2Norm)), max |value| \(Self.num(c.maxAbs)).\n\n"
            m += "Value: \(c.valueFormula). Effect: \(c.effectFormula).\n"
            for (title, list) in [("Moved up most", c.up), ("Moved down most", c.down), ("Largest effect on the data", c.byEffect)] {
                m += "\n### \(title)\n\n"
                if list.isEmpty { m += "_none_\n"; continue }
                m += "| rank | latent | value | effect | frequency | label |\n|---:|---:|---:|---:|---:|---|\n"
                for (r, l) in list.enumerated() {
                    let idx = l.url.map { "[\(l.index)](\($0))" } ?? "\(l.index)"
                    m += "| \(r + 1) | \(idx) | \(Self.num(l.value)) | \(l.effect.map(Self.num) ?? "–") | \(l.frequency.map { String(format: "%.4f", $0) } ?? "–") | \(Self.mdEscape(l.label ?? "")) |\n"
                }
            }
        }
        return m
    }

    static func saeName(_ s: AdapterSAE) -> String {
        if let r = s.release, let id = s.saeID { return "\(r) / \(id)" }
        return s.path ?? s.neuronpediaID ?? "unnamed SAE"
    }

    static func num(_ x: Double) -> String { String(format: Swift.abs(x) >= 1e-3 || x == 0 ? "%.4f" : "%.3e", x) }

    /// Escapes `|` and newlines for table cells, and angle brackets.
    static func mdEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: "⏎")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
