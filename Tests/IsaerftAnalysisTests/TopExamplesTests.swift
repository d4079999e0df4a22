import Foundation
@testable import IsaerftAnalysis
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// Random sparse features: about a third of the entries positive, BOS (999) at position 0.
struct SyntheticCorpus {
    var rows: [[Int]] = []
    var features: [Tensor] = []
    let t: Int, d: Int
    init(rows r: Int, tokens t: Int, latents d: Int, seed: UInt64) {
        self.t = t; self.d = d
        var rng = SplitMix64(seed: seed)
        for _ in 0..<r {
            rows.append([999] + (1..<t).map { _ in Int(rng.next() % 900) })
            var f = Tensor(shape: [t, d])
            for k in 0..<(t * d) where rng.next() % 3 == 0 {
                f.scalars[k] = Float(rng.next() % 10_000) / 1000 + 0.001   // (0, 10], ties possible
            }
            features.append(f)
        }
    }
}

@Suite("Top examples, intervals, histograms")
struct TopExamplesTests {
    /// The brute-force twin: every counted positive activation, sorted by rank.
    static func bruteForce(_ c: SyntheticCorpus, latent: Int, config: TopExamplesConfiguration) -> [LatentExample] {
        var all: [LatentExample] = []
        for (row, tokens) in c.rows.enumerated() {
            let acts = (0..<c.t).map { p in config.excludedTokens.contains(tokens[p]) ? 0 : c.features[row].scalars[p * c.d + latent] }
            var cands = (0..<c.t).filter { acts[$0] > 0 }
            if config.onePerContext, let best = cands.max(by: { acts[$0] < acts[$1] || (acts[$0] == acts[$1] && $0 > $1) }) { cands = [best] }
            for p in cands {
                let lo = max(0, p - config.windowBefore), hi = min(c.t - 1, p + config.windowAfter)
                all.append(LatentExample(contextIndex: row, position: p, activation: acts[p], windowStart: lo,
                                         tokens: Array(tokens[lo...hi]), activations: Array(acts[lo...hi])))
            }
        }
        return all.sorted { $0.ranks(above: $1) }
    }

    static func activeValues(_ c: SyntheticCorpus, latent: Int, excluded: Set<Int>) -> [Float] {
        var v: [Float] = []
        for (row, tokens) in c.rows.enumerated() { for p in 0..<c.t where !excluded.contains(tokens[p]) {
            let a = c.features[row].scalars[p * c.d + latent]
            if a > 0 { v.append(a) }
        } }
        return v
    }

    @Test("top examples, density and windows equal the brute-force sort", arguments: [true, false])
    func topMatchesBruteForce(onePerContext: Bool) throws {
        let corpus = SyntheticCorpus(rows: 30, tokens: 24, latents: 12, seed: 11)
        var config = TopExamplesConfiguration(latents: [0, 3, 11])
        config.onePerContext = onePerContext
        config.topCount = 17
        config.windowBefore = 4; config.windowAfter = 6
        config.excludedTokens = [999]
        var collector = LatentExampleCollector(config)
        for (r, row) in corpus.rows.enumerated() { collector.add(tokens: row, features: corpus.features[r]) }
        for report in collector.reports() {
            let want = Self.bruteForce(corpus, latent: report.latent, config: config)
            #expect(report.top == Array(want.prefix(17)), "latent \(report.latent)")
            let active = Self.activeValues(corpus, latent: report.latent, excluded: [999])
            #expect(report.tokenCount == 30 * 23)   // BOS is not counted
            #expect(report.activeCount == active.count)
            #expect(report.maxActivation == active.max())
            #expect(abs(report.meanActive - active.reduce(0.0) { $0 + Double($1) } / Double(active.count)) < 1e-9)
            #expect(report.top.allSatisfy { $0.tokens[$0.centreIndex] != 999 && $0.activations[$0.centreIndex] == $0.activation })
        }
    }

    /// Bins and intervals are assembled from fine bins, so a value may land in a neighbouring bin
    /// only when it lies within one fine-bin width (< 2·max/fineBins) of an edge.
    @Test("histogram and interval populations agree with exact binning up to one fine bin at edges")
    func histogramAndIntervals() throws {
        let corpus = SyntheticCorpus(rows: 40, tokens: 32, latents: 4, seed: 3)
        var config = TopExamplesConfiguration(latents: [0, 1, 2, 3])
        config.fineBins = 64   // coarse, so edge effects are visible
        var collector = LatentExampleCollector(config)
        for (r, row) in corpus.rows.enumerated() { collector.add(tokens: row, features: corpus.features[r]) }
        for report in collector.reports() {
            let values = Self.activeValues(corpus, latent: report.latent, excluded: [])
            let m = report.maxActivation, eps = 2 * m / Float(config.fineBins)
            #expect(report.histogram.reduce(0, +) == values.count)
            #expect(report.quantiles.map(\.population).reduce(0, +) == values.count)
            func check(_ counts: [Int], bins: Int) {
                for (b, n) in counts.enumerated() {
                    let lo = m * Float(b) / Float(bins), hi = m * Float(b + 1) / Float(bins)
                    let inner = values.filter { $0 >= lo + eps && ($0 < hi - eps) }.count
                    let outer = values.filter { $0 >= lo - eps && ($0 < hi + eps || b == bins - 1) }.count
                    #expect(inner <= n && n <= outer, "latent \(report.latent) bin \(b): \(n) not in [\(inner), \(outer)]")
                }
            }
            check(report.histogram, bins: config.histogramBins)
            check(report.quantiles.map(\.population), bins: config.quantileGroups)
            for g in report.quantiles {
                #expect(g.examples.count == min(config.examplesPerQuantile, g.population))
                #expect(g.examples.allSatisfy { $0.activation >= g.lower - eps && $0.activation <= g.upper + eps })
                #expect(Set(g.examples.map { [$0.contextIndex, $0.position] }).count == g.examples.count, "a token sampled twice")
            }
        }
    }

    /// Reservoir sampling with range doubling and merges must stay uniform: 60 values spread over
    /// four orders of magnitude (so the range doubles ~13 times) into one interval, 6 kept, 3000
    /// seeds. Each value is expected 300 times; χ² with 59 degrees of freedom has mean 59 and
    /// standard deviation 11; the bound 130 fails with probability below 1e-6.
    @Test("interval samples are uniform (χ² over 3000 seeds)")
    func uniformSamples() throws {
        let values: [Float] = (0..<60).map { (k: Int) -> Float in Float(0.01 * pow(1.17, Double(k))) }
        var hits = [Int](repeating: 0, count: values.count)
        for seed in 0..<3000 {
            var s = IntervalSampler<Int>(fineBins: 16, capacity: 6, seed: UInt64(seed))
            var order = Array(values.indices)
            var rng = SplitMix64(seed: UInt64(seed) &+ 99)
            order.shuffle(using: &rng)
            for i in order { s.add(values[i]) { i } }
            let groups = s.intervalSamples(count: 1)
            #expect(groups[0].population == 60 && groups[0].items.count == 6 && Set(groups[0].items).count == 6)
            for i in groups[0].items { hits[i] += 1 }
        }
        let expected = 3000.0 * 6 / 60
        let chi2 = hits.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chi2 < 130, "χ² = \(chi2)")
    }

    @Test("top latents per token: the k largest positive activations, ties by index")
    func topLatentsPerToken() throws {
        let corpus = SyntheticCorpus(rows: 1, tokens: 20, latents: 30, seed: 8)
        var f = corpus.features[0]
        f.scalars[5 * 30 + 2] = 7; f.scalars[5 * 30 + 9] = 7   // a tie
        let got = LatentReader.topLatents(features: f, k: 4)
        for p in 0..<20 {
            let all: [LatentActivation] = (0..<30).map { (i: Int) in LatentActivation(latent: i, activation: f.scalars[p * 30 + i]) }
            let want = all.filter { $0.activation > 0 }.sorted { (a: LatentActivation, b: LatentActivation) -> Bool in
                a.activation != b.activation ? a.activation > b.activation : a.latent < b.latent
            }
            #expect(got[p] == Array(want.prefix(4)), "token \(p)")
        }
        #expect(LatentReader.topLatents(features: Tensor(shape: [2, 5]), k: 3) == [[], []])
    }

    @Test("a corpus pass through tiny_a in batches equals encoding each row's hook value")
    func corpusPass() throws {
        let model = AnalysisFixture.tinyA, sae = AnalysisFixture.standardSAE
        let reader = try LatentReader(model: model, sae: sae)
        var rng = SplitMix64(seed: 21)
        let rows = (0..<5).map { _ in [999] + (0..<15).map { _ in Int(rng.next() % 998) } }
        var config = TopExamplesConfiguration(latents: [7, 42, 100])
        config.excludedTokens = [999]
        var batched = LatentExampleCollector(config), single = LatentExampleCollector(config)
        var progress: [Int] = []
        try batched.collect(contexts: rows, reader: reader, batchSize: 2) { done, total in progress.append(done); #expect(total == 5) }
        #expect(progress == [2, 4, 5])
        for row in rows {
            let x = try model.forward(TokenBatch(row), options: ForwardOptions(hooks: HookSet(capture: [.residPost(0)]))).captured[.residPost(0)]!
            single.add(tokens: row, features: try sae.encode(x.reshaped([16, 64])))
        }
        for (a, b) in zip(batched.reports(), single.reports()) {
            #expect(a.activeCount == b.activeCount && a.tokenCount == 75)
            #expect(a.top.map { [$0.contextIndex, $0.position] } == b.top.map { [$0.contextIndex, $0.position] })
            // Batched vs one-row forward: BLAS blocking may differ; bound 1e-5.
            #expect(compare(a.top.flatMap(\.activations), b.top.flatMap(\.activations), atol: 1e-5, rtol: 0).passed)
        }
        #expect(throws: AnalysisError.latentOutOfRange(128, dSAE: 128)) {
            var c = LatentExampleCollector(TopExamplesConfiguration(latents: [128]))
            try c.collect(contexts: rows, reader: reader)
        }
        let top = try reader.topLatents(rows[0], k: 3)
        #expect(top.count == 16 && top.allSatisfy { $0.count <= 3 })
    }
}
