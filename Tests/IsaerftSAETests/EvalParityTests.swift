import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// `fixtures/sae-eval/` (scripts/make_sae_eval_fixtures.py): SAELens 6.54.12's `run_evals` with the
/// everything config on `fixtures/gpt2/tiny_a` (TransformerLens 3.9.0, no weight processing), for SAEs
/// of `fixtures/sae/`, on stored token batches (3 batches × 4 prompts × 16 tokens, BOS 999).
enum EvalFixture {
    static let root = SharedData.fixturesRoot.appendingPathComponent("sae-eval")
    static let model: GPT2Model = try! GPT2Model.load(folder: SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a"))

    static func manifest() throws -> JSONValue {
        try JSONValue.parse(Data(contentsOf: root.appendingPathComponent("manifest.json")))
    }

    /// Token rows in batch order (`[n_batches · batch_size]` rows of `context_size`).
    static func contexts() throws -> (rows: [[Int]], batchSize: Int) {
        let t = try SafeTensorsFile(url: root.appendingPathComponent("tokens.safetensors")).int64s("tokens")
        let (nb, b, c) = (t.shape[0], t.shape[1], t.shape[2])
        let rows = (0..<(nb * b)).map { r in (0..<c).map { Int(t.values[r * c + $0]) } }
        return (rows, b)
    }

    /// The case's `exclude_special_tokens` ids.
    static func excluded(_ c: JSONValue) -> Set<Int> {
        guard case .array(let a)? = c["exclude_special_tokens"] else { return [] }
        return Set(a.compactMap(\.intValue))
    }

    static let cases = ["standard", "standard_all_tokens", "jumprelu", "abstopk", "gated", "hook_z", "layer_norm"]
}

@Suite("SAE evaluation: SAELens run_evals parity")
struct EvalParityTests {
    /// Every scalar SAELens reports, within 1e-4 · max(1, |SAELens|): absolute for O(1) metrics,
    /// relative for the large ones (these random SAEs reconstruct badly: `mse` is in the thousands).
    /// SAELens returns fp32 means (`torch.cat(values).mean().item()`), so its values carry one fp32
    /// rounding; the tokens were drawn so that no pre-activation is within 1e-4 of a point where a
    /// latent switches, so L0 and the densities are exact.
    /// Observed 2026-11-21: every component metric within 1e-6 relative (e.g. CE 6.5e-7 = one fp32
    /// ulp at 8.0); worst overall 2.6e-5 on `ce_loss_score` of `layer_norm`, whose denominator
    /// CE_ablation − CE_clean is −0.05, so one ulp of SAELens' rounded CE moves it by 2e-5.
    @Test("scalar metrics match SAELens", arguments: EvalFixture.cases)
    func scalars(name: String) throws {
        let manifest = try EvalFixture.manifest()
        let c = manifest["cases"]![name]!
        let sae = try SparseAutoencoder.load(folder: SharedData.repositoryRoot.appendingPathComponent(c["sae"]!.stringValue!))
        let (rows, batchSize) = try EvalFixture.contexts()
        let excluded = EvalFixture.excluded(c)
        var events = 0
        let m = try sae.evaluate(on: EvalFixture.model, contexts: rows,
                                 options: SAEEvalOptions(batchSize: batchSize, excludedTokens: excluded)) { _ in events += 1 }
        #expect(events == rows.count / batchSize)
        let want = c["metrics"]!
        var worst = (0.0, "")
        for (key, got) in m.flatMetrics {
            let parts = key.split(separator: "/").map(String.init)
            guard let w = want[parts[0]]?[parts[1]]?.doubleValue else {
                Issue.record("\(name): SAELens has no \(key)"); continue
            }
            let diff = abs(got - w) / max(1, abs(w))
            if diff > worst.0 { worst = (diff, key) }
            #expect(diff <= 1e-4, "\(name) \(key): got \(got), SAELens \(w)")
        }
        // every SAELens key is produced
        for (group, g) in want.objectPairs ?? [] { for (k, _) in g.objectPairs ?? [] {
            #expect(m.flatMetrics.contains { $0.0 == "\(group)/\(k)" }, "\(name): missing \(group)/\(k)")
        } }
        #expect(m.totalTokens == rows.count * rows[0].count)
        print("eval parity \(name): worst |Δ|/max(1, |SAELens|) \(worst.0) at \(worst.1)")
    }

    /// `feature_density` exactly (counts over the same tokens), `consistent_activation_heuristic` to
    /// fp32 rounding (NaN where a latent never fires, in both).
    @Test("feature density and consistent-activation heuristic match SAELens", arguments: EvalFixture.cases)
    func featureMetrics(name: String) throws {
        let c = try EvalFixture.manifest()["cases"]![name]!
        let sae = try SparseAutoencoder.load(folder: SharedData.repositoryRoot.appendingPathComponent(c["sae"]!.stringValue!))
        let (rows, batchSize) = try EvalFixture.contexts()
        let excluded = EvalFixture.excluded(c)
        let m = try sae.evaluate(on: EvalFixture.model, contexts: rows, options: SAEEvalOptions(batchSize: batchSize, excludedTokens: excluded))
        let file = try SafeTensorsFile(url: EvalFixture.root.appendingPathComponent("\(name).safetensors"))
        let density = try file.tensor("feature_density").scalars
        let cah = try file.tensor("consistent_activation_heuristic").scalars
        #expect(m.featureDensity.count == sae.dSAE)
        for i in 0..<sae.dSAE {
            #expect(Float(m.featureDensity[i]) == density[i], "\(name) latent \(i) density")
            let a = m.consistentActivationHeuristic[i], b = Double(cah[i])
            #expect(a.isNaN == b.isNaN && (a.isNaN || abs(a - b) <= 1e-6), "\(name) latent \(i) CAH \(a) vs \(b)")
        }
        let dead = Double(density.filter { $0 == 0 }.count) / Double(sae.dSAE)
        #expect(m.density.deadFraction == dead)
        #expect(m.density.histogramCounts.reduce(0, +) == sae.dSAE)
    }

    /// With no excluded tokens the zero-ablation and clean CE equal SAELens' per-token values averaged.
    @Test("per-token clean CE and KL(clean‖SAE) match SAELens' unmasked values")
    func perToken() throws {
        let file = try SafeTensorsFile(url: EvalFixture.root.appendingPathComponent("standard_all_tokens.safetensors"))
        let ce = try file.tensor("ce_loss_without_sae").scalars, kl = try file.tensor("kl_div_with_sae").scalars
        let sae = try SparseAutoencoder.load(folder: SharedData.fixturesRoot.appendingPathComponent("sae/standard"))
        let (rows, batchSize) = try EvalFixture.contexts()
        let m = try sae.evaluate(on: EvalFixture.model, contexts: rows, options: SAEEvalOptions(batchSize: batchSize))
        #expect(abs(m.ceLossWithoutSAE - ce.map(Double.init).reduce(0, +) / Double(ce.count)) <= 1e-5)
        #expect(abs(m.klDivWithSAE - kl.map(Double.init).reduce(0, +) / Double(kl.count)) <= 1e-5)
    }

    @Test("JSON uses SAELens' groups and keys")
    func json() throws {
        let sae = try SparseAutoencoder.load(folder: SharedData.fixturesRoot.appendingPathComponent("sae/standard"))
        let (rows, _) = try EvalFixture.contexts()
        let m = try sae.evaluate(on: EvalFixture.model, contexts: Array(rows.prefix(2)), options: SAEEvalOptions(batchSize: 2))
        let want = try EvalFixture.manifest()["cases"]!["standard"]!["metrics"]!
        let got = m.jsonValue
        #expect(got.objectPairs!.map(\.0).sorted() == want.objectPairs!.map(\.0).sorted())
        for (g, v) in want.objectPairs! { #expect(got[g]!.objectPairs!.map(\.0).sorted() == v.objectPairs!.map(\.0).sorted()) }
        #expect(m.densityJSON["log10_density_histogram"]?["counts"] != nil)
    }

    @Test("a context longer than the model's, or an SAE for another width, throws")
    func errors() throws {
        let sae = try SparseAutoencoder.load(folder: SharedData.fixturesRoot.appendingPathComponent("sae/standard"))
        #expect(throws: (any Error).self) {
            _ = try sae.evaluate(on: EvalFixture.model, contexts: [Array(repeating: 1, count: 200)])
        }
        let c = try GPT2Config(vocabSize: 50, contextLength: 32, width: 32, layerCount: 1, headCount: 2)
        let narrow = GPT2Model(config: c, weights: .random(c, std: 0.2, seed: 3))
        #expect(throws: SAEError.self) { _ = try sae.evaluate(on: narrow, contexts: [[1, 2, 3]]) }
    }
}
