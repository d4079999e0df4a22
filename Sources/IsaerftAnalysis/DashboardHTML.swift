import Foundation
import IsaerftFiles

/// Escapes text for HTML element content and double- or single-quoted attributes.
public func htmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

extension LatentDashboard {
    /// The dashboard as one self-contained HTML page: inline CSS and SVG, no scripts, fonts or
    /// other assets; every piece of text from the corpus, tokenizer or labels is escaped.
    public func html() -> String {
        let r = report
        let title = "Latent \(latent)" + (label.map { " · \($0)" } ?? "")
        var h = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(htmlEscape(title))</title>
        <style>\(Self.css)</style></head><body>
        <header><h1>Latent \(latent)</h1>
        """
        if explanations.isEmpty {
            h += "<p class=\"label none\">no label</p>"
        } else {
            for (k, e) in explanations.enumerated() {
                let how = [e.explanationModelName, e.typeName].compactMap { $0 }.joined(separator: " · ")
                h += "<p class=\"label\(k > 0 ? " extra" : "")\">\(htmlEscape(e.description))"
                    + (how.isEmpty ? "" : " <span class=\"how\">(\(htmlEscape(how)))</span>") + "</p>"
            }
        }
        var meta = ["SAE <b>\(htmlEscape(saeName))</b>", "hook <code>\(htmlEscape(hookName))</code>"]
        if let modelName { meta.append("model \(htmlEscape(modelName))") }
        if let url = neuronpediaURL { meta.append("<a href=\"\(htmlEscape(url))\">Neuronpedia \(htmlEscape(neuronpedia!.description))/\(latent)</a>") }
        h += "<p class=\"meta\">\(meta.joined(separator: " · "))</p></header>\n"

        h += "<section class=\"grid\"><div class=\"card\"><h2>Activations</h2>"
        h += "<p class=\"stats\">density <b>\(Self.percent(r.density))</b> (\(r.activeCount) of \(r.tokenCount) tokens) · max <b>\(Self.fmt(r.maxActivation))</b> · mean when active \(Self.fmt(Float(r.meanActive)))</p>"
        h += Self.histogramSVG(r.histogram, edges: r.histogramEdges, colour: { _ in "#f08a24" }, caption: "non-zero activations")
        h += "</div><div class=\"card\"><h2>Logit effects</h2>"
        h += logitsHTML()
        h += "</div></section>\n"

        h += "<section class=\"card\"><h2>Top activations</h2>"
        h += r.top.isEmpty ? "<p class=\"none\">The latent never fired on this corpus.</p>" : r.top.map(exampleHTML).joined()
        h += "</section>\n"

        let groups = r.quantiles.reversed().filter { !$0.examples.isEmpty }
        if !groups.isEmpty {
            h += "<section class=\"card\"><h2>Activation intervals</h2><p class=\"meta\">Uniform samples from equal intervals of [0, max]; share of active tokens in brackets.</p>"
            for g in groups {
                let share = r.activeCount == 0 ? 0 : Double(g.population) / Double(r.activeCount)
                h += "<h3>\(Self.fmt(g.lower)) – \(Self.fmt(g.upper)) <span class=\"how\">[\(Self.percent(share)), \(g.population) tokens]</span></h3>"
                h += g.examples.map(exampleHTML).joined()
            }
            h += "</section>\n"
        }
        h += "<footer>isaerft · hover a token for its activation · colour ∝ activation / max</footer></body></html>\n"
        return h
    }

    /// Writes `html()` to `url` atomically (`<name>.partial`, then rename).
    public func writeHTML(to url: URL) throws {
        try AtomicFile.write(Data(html().utf8), to: url)
    }

    func logitsHTML() -> String {
        guard let l = logits else { return "<p class=\"none\">Not available (the hook does not write the residual stream, or no unembedding).</p>" }
        var h = "<table class=\"logits\"><tr><th colspan=\"2\">negative</th><th colspan=\"2\">positive</th></tr>"
        for k in 0..<max(l.positive.count, l.negative.count) {
            func cells(_ list: [TokenEffect], _ cls: String) -> String {
                guard k < list.count else { return "<td></td><td></td>" }
                let e = list[k]
                return "<td class=\"tok \(cls)\">\(Self.tokenHTML(text(e.token)))</td><td class=\"num\">\(Self.fmt(e.value, digits: 3))</td>"
            }
            h += "<tr>" + cells(l.negative, "neg") + cells(l.positive, "pos") + "</tr>"
        }
        h += "</table>"
        let edges = (0...l.histogram.count).map { l.histogramMin + Float($0) * (l.histogramMax - l.histogramMin) / Float(max(l.histogram.count, 1)) }
        h += Self.histogramSVG(l.histogram, edges: edges, colour: { $0 < 0 ? "#d9534f" : "#3b7dd8" },
                               caption: "effect on every logit (\(l.convention.rawValue)); kurtosis \(Self.fmt(Float(l.kurtosis), digits: 2)), skew \(Self.fmt(Float(l.skewness), digits: 2))")
        return h
    }

    func exampleHTML(_ e: LatentExample) -> String {
        let m = report.maxActivation
        var h = "<div class=\"ex\"><span class=\"v\">\(Self.fmt(e.activation))</span>"
        for (k, tok) in e.tokens.enumerated() {
            let a = e.activations[k]
            let raw = text(tok)
            let tip = "\(Self.visible(raw)) · \(Self.fmt(a, digits: 3))"
            var style = ""
            if a > 0 && m > 0 { style = " style=\"background:rgba(240,120,20,\(String(format: "%.3f", min(1, max(0.06, a / m)))))\"" }
            h += "<span class=\"t\(k == e.centreIndex ? " max" : "")\"\(style) title=\"\(htmlEscape(tip))\">\(Self.tokenHTML(raw))</span>"
        }
        return h + "<span class=\"where\">row \(e.contextIndex), token \(e.position)</span></div>"
    }

    /// Token text with whitespace made visible (newline ↵, tab →) and escaped.
    static func tokenHTML(_ s: String) -> String { htmlEscape(visible(s)) }

    static func visible(_ s: String) -> String {
        s.replacingOccurrences(of: "\r", with: "␍").replacingOccurrences(of: "\n", with: "↵").replacingOccurrences(of: "\t", with: "→")
    }

    /// Bars for `counts` over `edges` (count + 1), with axis labels at both ends and the largest count.
    static func histogramSVG(_ counts: [Int], edges: [Float], colour: (Float) -> String, caption: String) -> String {
        let w = 460.0, hgt = 150.0, left = 36.0, bottom = 22.0
        let top = max(counts.max() ?? 0, 1)
        let bw = (w - left) / Double(max(counts.count, 1))
        var s = "<svg class=\"hist\" viewBox=\"0 0 \(Int(w)) \(Int(hgt + 18))\" role=\"img\" aria-label=\"\(htmlEscape(caption))\">"
        s += "<line x1=\"\(left)\" y1=\"\(hgt - bottom)\" x2=\"\(w)\" y2=\"\(hgt - bottom)\" stroke=\"#999\"/>"
        for (k, c) in counts.enumerated() where c > 0 {
            let bh = (hgt - bottom - 6) * Double(c) / Double(top)
            let centre = edges.count > k + 1 ? (edges[k] + edges[k + 1]) / 2 : 0
            s += "<rect x=\(q(left + Double(k) * bw + 0.5)) y=\(q(hgt - bottom - bh)) width=\(q(max(bw - 1, 0.5))) height=\(q(bh)) fill=\"\(colour(centre))\">"
            s += "<title>\(htmlEscape("\(fmt(edges[k], digits: 3)) – \(fmt(edges[min(k + 1, edges.count - 1)], digits: 3)): \(c)"))</title></rect>"
        }
        s += "<text x=\"\(left - 4)\" y=\"12\" text-anchor=\"end\">\(top)</text>"
        s += "<text x=\"\(left)\" y=\"\(hgt - 6)\">\(htmlEscape(fmt(edges.first ?? 0, digits: 3)))</text>"
        s += "<text x=\"\(w)\" y=\"\(hgt - 6)\" text-anchor=\"end\">\(htmlEscape(fmt(edges.last ?? 0, digits: 3)))</text>"
        s += "<text x=\"\(left)\" y=\"\(hgt + 12)\" class=\"cap\">\(htmlEscape(caption))</text></svg>"
        return s
    }

    static func q(_ x: Double) -> String { "\"" + String(format: "%.1f", x) + "\"" }

    static func fmt(_ x: Float, digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

    static func percent(_ x: Double) -> String {
        x == 0 ? "0%" : x < 0.001 ? String(format: "%.3g%%", 100 * x) : String(format: "%.2f%%", 100 * x)
    }

    static let css = """
    body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1120px;margin:24px auto;padding:0 16px;color:#1f2328;background:#fff}
    h1{font-size:24px;margin:0}h2{font-size:16px;margin:0 0 8px}h3{font-size:13px;margin:14px 0 4px;color:#444}
    .label{font-size:17px;margin:4px 0}.label.extra{font-size:14px;color:#555}.how{color:#888;font-size:12px;font-weight:normal}
    .none{color:#888;font-style:italic}.meta{color:#666;font-size:13px;margin:4px 0}.stats{font-size:13px;margin:0 0 6px}
    a{color:#0969da}code{font-size:12px;background:#f3f3f3;padding:1px 4px;border-radius:3px}
    .grid{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin:16px 0}@media(max-width:900px){.grid{grid-template-columns:1fr}}
    .card{border:1px solid #e1e4e8;border-radius:8px;padding:12px 16px;margin:16px 0}.grid .card{margin:0}
    .hist{width:100%;height:auto;font-size:10px;fill:#555}.hist .cap{font-size:11px;fill:#666}
    table.logits{border-collapse:collapse;font-size:13px;margin-bottom:8px;width:100%}table.logits th{text-align:left;color:#666;font-weight:normal}
    td.tok{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre;border-radius:3px;padding:1px 6px}td.num{text-align:right;padding:1px 10px 1px 4px;color:#444;font-variant-numeric:tabular-nums}
    td.pos{background:#dde9fb}td.neg{background:#fbe0df}
    .ex{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;line-height:1.9;white-space:pre-wrap;word-break:break-word;border-bottom:1px solid #f0f0f0;padding:2px 0}
    .ex .v{display:inline-block;min-width:52px;color:#777;text-align:right;margin-right:10px}.ex .where{color:#aaa;font-size:11px;margin-left:10px}
    .t{border-radius:3px}.t:hover{outline:1px solid #333}.t.max{outline:1.5px solid #b3261e;font-weight:600}
    footer{color:#999;font-size:12px;margin:24px 0}
    """
}

/// An index page linking the dashboards of several latents (label, density, max per latent).
public func dashboardIndexHTML(_ dashboards: [LatentDashboard], files: [String], title: String) -> String {
    var h = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(htmlEscape(title))</title><style>\(LatentDashboard.css)</style></head><body>"
    h += "<h1>\(htmlEscape(title))</h1><table class=\"logits\"><tr><th>latent</th><th>label</th><th>density</th><th>max</th><th>Neuronpedia</th></tr>"
    for (d, file) in zip(dashboards, files) {
        let np = d.neuronpediaURL.map { "<a href=\"\(htmlEscape($0))\">page</a>" } ?? ""
        h += "<tr><td><a href=\"\(htmlEscape(file))\">\(d.latent)</a></td><td>\(htmlEscape(d.label ?? "—"))</td>"
            + "<td>\(LatentDashboard.percent(d.report.density))</td><td>\(LatentDashboard.fmt(d.report.maxActivation))</td><td>\(np)</td></tr>"
    }
    return h + "</table></body></html>\n"
}
