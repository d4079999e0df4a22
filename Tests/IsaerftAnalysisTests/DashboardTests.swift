import Foundation
import IsaerftAnalysis
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

@Suite("Dashboards")
struct DashboardTests {
    /// Latent 7 and a never-firing latent (b_enc = −10⁴) of `sae/standard` over 24 random rows of
    /// tiny_a, with a hostile label, tokens full of HTML-special characters, and a Neuronpedia id.
    static func dashboards() throws -> [LatentDashboard] {
        let model = AnalysisFixture.tinyA, silent = 100
        var w = AnalysisFixture.standardSAE.weights
        w.bEnc!.scalars[silent] = -1e4
        let sae = try SparseAutoencoder(config: AnalysisFixture.standardSAE.config, weights: w)
        var rng = SplitMix64(seed: 5)
        let rows = (0..<24).map { _ in [999] + (0..<15).map { _ in Int(rng.next() % 998) } }
        var config = TopExamplesConfiguration(latents: [7, silent])
        config.excludedTokens = [999]
        var collector = LatentExampleCollector(config)
        try collector.collect(contexts: rows, reader: try LatentReader(model: model, sae: sae))
        let effects = try LogitEffects.compute(sae: sae, latents: [7, silent], unembedding: try Unembedding(model: model))
        let labels = LatentLabels([LatentExplanation(index: 7, description: "<script>alert('x')</script> & \"more\"", typeName: "manual"),
                                   LatentExplanation(index: 7, description: "second", explanationModelName: "gpt-4o-mini")])
        let tok = WordTokenizer()
        return zip(collector.reports(), effects).map { report, e in
            LatentDashboard(latent: report.latent, saeName: "fixtures/sae/standard", hookName: "blocks.0.hook_resid_post",
                            modelName: "tiny_a", labels: labels, neuronpedia: try! NeuronpediaID("isaerft-tiny-a/0-res-test"),
                            report: report, logits: e, tokenText: LatentDashboard.tokenText(tok))
        }
    }

    @Test("HTML escaping covers & < > \" '")
    func escaping() {
        #expect(htmlEscape("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;")
        #expect(htmlEscape("café ↵") == "café ↵")
    }

    @Test("the page is self-contained, escaped, and holds every panel")
    func page() throws {
        let d = try #require(try Self.dashboards().first)
        let html = d.html()
        #expect(html.hasPrefix("<!doctype html>"))
        // Nothing external, nothing executable.
        for bad in ["<script", "src=", "<link", "@import", "url(", "<iframe"] { #expect(!html.contains(bad), "contains \(bad)") }
        let hrefs = html.components(separatedBy: "href=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        #expect(hrefs.allSatisfy { $0.hasPrefix("https://www.neuronpedia.org/") })
        #expect(html.contains("https://www.neuronpedia.org/isaerft-tiny-a/0-res-test/7"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;"))
        #expect(html.contains("&lt;b&gt;mat&lt;/b&gt;") || html.contains("&amp;") || html.contains("&quot;quoted&quot;"))
        // Balanced elements.
        for tag in ["span", "div", "section", "table", "tr", "svg", "p"] {
            #expect(html.components(separatedBy: "<\(tag)").count - 1 - (tag == "p" ? html.components(separatedBy: "<path").count - 1 : 0)
                    == html.components(separatedBy: "</\(tag)>").count - 1, "unbalanced <\(tag)>")
        }
        #expect(html.components(separatedBy: "<svg").count == 3)   // activation and logit histograms
        #expect(html.contains("Top activations") && html.contains("Activation intervals") && html.contains("Logit effects"))
        // One tooltip per token shown, each with the activation.
        let spans = html.components(separatedBy: "<span class=\"t").count - 1
        let shown = d.report.top.reduce(0) { $0 + $1.tokens.count } + d.report.quantiles.reduce(0) { $0 + $1.examples.reduce(0) { $0 + $1.tokens.count } }
        #expect(spans == shown)
        #expect(d.report.top.count == 20 || d.report.top.count == d.report.activeCount)
    }

    @Test("a latent that never fired still renders")
    func silentLatent() throws {
        let d = try #require(try Self.dashboards().last)
        #expect(d.report.activeCount == 0 && d.report.top.isEmpty && d.report.maxActivation == 0)
        let html = d.html()
        #expect(html.contains("never fired"))
        #expect(!html.contains("nan") && !html.contains("inf"))
    }

    @Test("written atomically; JSON uses Neuronpedia's field names")
    func writeAndJSON() throws {
        let ds = try Self.dashboards()
        let folder = try AnalysisFixture.temporaryFolder("dash")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("latent-7.html")
        try ds[0].writeHTML(to: url)
        try ds[0].writeHTML(to: url)   // replaces
        #expect(try String(contentsOf: url, encoding: .utf8) == ds[0].html())
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["latent-7.html"])
        let o = ds[0].jsonObject()
        #expect(JSONSerialization.isValidJSONObject(o))
        for key in ["modelId", "layer", "index", "maxActApprox", "frac_nonzero", "pos_str", "pos_values", "neg_str", "neg_values",
                    "freq_hist_data_bar_heights", "freq_hist_data_bar_values", "logits_hist_data_bar_heights", "activations", "explanations", "url", "label"] {
            #expect(o[key] != nil, "missing \(key)")
        }
        #expect((o["pos_str"] as? [String])?.count == 10)
        let acts = try #require(o["activations"] as? [[String: Any]])
        #expect(acts.first?["maxValueTokenIndex"] as? Int == ds[0].report.top.first?.centreIndex)
        #expect(acts.contains { $0["binMin"] != nil })
        let index = dashboardIndexHTML(ds, files: ["latent-7.html", "latent-x.html"], title: "tiny <a>")
        #expect(index.contains("tiny &lt;a&gt;") && index.contains("href=\"latent-7.html\""))
    }
}
