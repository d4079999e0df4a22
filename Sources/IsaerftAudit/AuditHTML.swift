import Foundation
import IsaerftAnalysis
import IsaerftTuning

extension AuditReport {
    /// One self-contained page: inline CSS and SVG, no scripts or external assets; the only links are
    /// Neuronpedia feature pages. Every text from data, tokenizer or labels is escaped.
    public func html() -> String {
        var h = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(htmlEscape("Audit · " + adapterPath))</title><style>\(Self.css)</style></head><body>
        <h1>Adapter audit</h1><p class="meta"><code>\(htmlEscape(adapterPath))</code> · base model <code>\(htmlEscape(config.baseModelNameOrPath))</code>
        """
        if let t = config.training {
            h += " · \(htmlEscape(t.lossType)), lr \(t.lr), \(t.steps) steps, seed \(t.seed)"
        }
        h += "</p>"
        if let dataDescription { h += "<p class=\"meta\">data: \(htmlEscape(dataDescription)) · \(dataTokens) tokens</p>" }
        for n in notes { h += "<p class=\"note\">\(htmlEscape(n))</p>" }
        h += curveHTML()
        for c in components { h += componentHTML(c) }
        h += "<footer>isaerft audit · values are the adapter's raw parameters; effect formulas above each table · token shading ∝ activation / largest in the window</footer></body></html>\n"
        return h
    }

    func curveHTML() -> String {
        let train = records.filter { $0.kind == .train }, eval = records.filter { $0.kind == .eval }
        guard !train.isEmpty || !eval.isEmpty else { return "" }
        var h = "<section class=\"card\"><h2>Training curve</h2><div class=\"grid\">"
        func series(_ rows: [TrainingRecord], _ name: String) -> [(Double, Double)] {
            rows.compactMap { r in r.value(name).flatMap { $0.isFinite ? (Double(r.step), $0) : nil } }
        }
        for (title, name) in [("loss", TRLMetric.loss), ("rewards/accuracies", TRLMetric.rewardsAccuracies), ("rewards/margins", TRLMetric.rewardsMargins)] {
            let lines = [("train", "#3b7dd8", series(train, name)), ("eval", "#f08a24", series(eval, name))].filter { !$0.2.isEmpty }
            if lines.isEmpty { continue }
            h += "<div>" + Self.lineChart(lines, title: title, width: 420, height: 200) + "</div>"
        }
        return h + "</div></section>"
    }

    func componentHTML(_ c: ComponentAudit) -> String {
        var h = "<section class=\"card\"><h2>\(htmlEscape(c.kind.rawValue)) at <code>\(htmlEscape(c.hookName))</code></h2>"
        h += "<p class=\"meta\">SAE \(htmlEscape(Self.saeName(c.sae))) · d_sae \(c.sae.dSAE) · \(c.movedCount) of \(c.valueCount) values with |value| &gt; 1e-3 · L2 norm \(Self.num(c.l2Norm)) · max |value| \(Self.num(c.maxAbs))</p>"
        h += "<p class=\"meta\">value: \(htmlEscape(c.valueFormula))<br>effect: \(htmlEscape(c.effectFormula))</p>"
        for (title, list) in [("Moved up most", c.up), ("Moved down most", c.down), ("Largest effect on the data", c.byEffect)] {
            h += "<h3>\(title)</h3>"
            if list.isEmpty { h += "<p class=\"none\">none</p>"; continue }
            h += "<table><tr><th>#</th><th>latent</th><th>value</th><th>effect</th><th>frequency</th><th>label</th><th>trajectory</th></tr>"
            for (r, l) in list.enumerated() {
                let idx = l.url.map { "<a href=\"\(htmlEscape($0))\">\(l.index)</a>" } ?? "\(l.index)"
                let spark = l.trajectory.map { Self.sparkline($0, steps: c.trajectorySteps) } ?? ""
                h += "<tr><td>\(r + 1)</td><td>\(idx)</td><td class=\"num\">\(Self.num(l.value))</td><td class=\"num\">\(l.effect.map(Self.num) ?? "–")</td>"
                h += "<td class=\"num\">\(l.frequency.map { String(format: "%.4f", $0) } ?? "–")</td><td>\(htmlEscape(l.label ?? ""))</td><td>\(spark)</td></tr>"
                if !l.examples.isEmpty {
                    h += "<tr class=\"exrow\"><td></td><td colspan=\"6\">" + l.examples.map(Self.exampleHTML).joined() + "</td></tr>"
                }
            }
            h += "</table>"
        }
        return h + "</section>"
    }

    static func exampleHTML(_ e: AuditExample) -> String {
        let m = e.activations.max() ?? 0
        var h = "<div class=\"ex\"><span class=\"v\">\(String(format: "%.2f", e.activation))</span>"
        for (k, tok) in e.tokens.enumerated() {
            let a = e.activations[k]
            let shown = tok.replacingOccurrences(of: "\n", with: "↵").replacingOccurrences(of: "\t", with: "→")
            var style = ""
            if a > 0 && m > 0 { style = " style=\"background:rgba(240,120,20,\(String(format: "%.3f", min(1, max(0.06, a / m)))))\"" }
            h += "<span class=\"t\(k == e.centre ? " max" : "")\"\(style) title=\"\(htmlEscape(String(format: "%.3f", a)))\">\(htmlEscape(shown))</span>"
        }
        return h + "<span class=\"where\">row \(e.row), token \(e.position)</span></div>"
    }

    /// A small inline line chart of one latent's value over the recorded steps (zero line dashed).
    static func sparkline(_ values: [Float], steps: [Int]) -> String {
        guard values.count >= 2 else { return "" }
        let pts = values.enumerated().map { (Double(steps.count == values.count ? steps[$0.offset] : $0.offset), Double($0.element)) }
        return lineChart([("value", "#3b7dd8", pts)], title: nil, width: 160, height: 40)
    }

    /// An SVG line chart of `lines` (label, colour, points), with min/max labels when `title` is given.
    static func lineChart(_ lines: [(String, String, [(Double, Double)])], title: String?, width: Double, height: Double) -> String {
        let all = lines.flatMap(\.2)
        guard let x0 = all.map(\.0).min(), let x1 = all.map(\.0).max(), var y0 = all.map(\.1).min(), var y1 = all.map(\.1).max() else { return "" }
        if title == nil { y0 = min(y0, 0); y1 = max(y1, 0) }
        if y1 == y0 { y0 -= 0.5; y1 += 0.5 }
        let left = title == nil ? 2.0 : 44.0, right = 6.0, top = title == nil ? 2.0 : 18.0, bottom = title == nil ? 2.0 : 18.0
        func px(_ x: Double) -> Double { left + (x1 == x0 ? 0.5 : (x - x0) / (x1 - x0)) * (width - left - right) }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom) }
        var s = "<svg class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">"
        if y0 < 0 && y1 > 0 {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py(0)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(0)))\" stroke=\"#bbb\" stroke-dasharray=\"3 3\"/>"
        }
        for (label, colour, pts) in lines {
            let path = pts.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(path)\"><title>\(htmlEscape(label))</title></polyline>"
        }
        if let title {
            s += "<text x=\"\(f(left))\" y=\"12\" class=\"ttl\">\(htmlEscape(title))</text>"
            s += "<text x=\"\(f(left - 4))\" y=\"\(f(top + 8))\" text-anchor=\"end\">\(htmlEscape(num(y1)))</text>"
            s += "<text x=\"\(f(left - 4))\" y=\"\(f(height - bottom))\" text-anchor=\"end\">\(htmlEscape(num(y0)))</text>"
            s += "<text x=\"\(f(left))\" y=\"\(f(height - 4))\">step \(Int(x0))</text>"
            s += "<text x=\"\(f(width - right))\" y=\"\(f(height - 4))\" text-anchor=\"end\">\(Int(x1))</text>"
            var lx = width - right
            for (label, colour, _) in lines.reversed() {
                s += "<text x=\"\(f(lx))\" y=\"12\" text-anchor=\"end\" fill=\"\(colour)\">\(htmlEscape(label))</text>"
                lx -= 8 * Double(label.count) + 10
            }
        }
        return s + "</svg>"
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    static let css = """
    body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;margin:24px auto;padding:0 16px;color:#1f2328;background:#fff}
    h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:16px 0 6px;color:#333}
    .meta{color:#666;font-size:13px;margin:4px 0}.note{color:#8a6d3b;font-size:13px;margin:4px 0}.none{color:#888;font-style:italic}
    a{color:#0969da}code{font-size:12px;background:#f3f3f3;padding:1px 4px;border-radius:3px}
    .card{border:1px solid #e1e4e8;border-radius:8px;padding:12px 16px;margin:16px 0}
    .grid{display:flex;flex-wrap:wrap;gap:16px}
    table{border-collapse:collapse;font-size:13px;width:100%}th{text-align:left;color:#666;font-weight:normal;border-bottom:1px solid #ddd}
    td{padding:2px 6px;vertical-align:middle;border-bottom:1px solid #f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
    tr.exrow td{border-bottom:1px solid #e8e8e8;padding-bottom:6px}
    .chart{font-size:10px;fill:#555}.chart .ttl{font-size:12px;fill:#333}
    .ex{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:1.8;white-space:pre-wrap;word-break:break-word}
    .ex .v{display:inline-block;min-width:44px;color:#777;text-align:right;margin-right:8px}.ex .where{color:#aaa;font-size:11px;margin-left:8px}
    .t{border-radius:3px}.t.max{outline:1.5px solid #b3261e;font-weight:600}
    footer{color:#999;font-size:12px;margin:24px 0}
    """
}
