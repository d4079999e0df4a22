import Foundation
import IsaerftAnalysis
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

@Suite("Logit effects")
struct LogitEffectsTests {
    let sae = AnalysisFixture.standardSAE

    static func latents() throws -> [Int] {
        guard case .array(let a)? = try AnalysisFixture.manifest()["logit_effect_latents"] else { return [] }
        return a.compactMap(\.intValue)
    }

    /// fp32 products of length 64 against PyTorch; observed ≤ 3.6e-7, bound 1e-4.
    @Test("W_dec·W_U equals TransformerLens' processed W_U (default) and the raw wteᵀ", arguments: LogitEffectConvention.allCases)
    func parity(convention: LogitEffectConvention) throws {
        let u = try Unembedding(model: AnalysisFixture.tinyA)
        let got = try LogitEffects.matrix(sae: sae, latents: try Self.latents(), unembedding: u, convention: convention)
        let name = convention == .transformerLens ? "processed" : "raw"
        let c = compare(got, try AnalysisFixture.reference().tensor("logit_effects.\(name)"), atol: 1e-4)
        #expect(c.passed, "\(convention): \(c)")
    }

    @Test("an attn.hook_z SAE's decoder rows go through W_O: equal to TransformerLens' processed W_O·W_U")
    func hookZ() throws {
        let z = try AnalysisFixture.sae("hook_z")
        guard case .array(let a)? = try AnalysisFixture.manifest()["logit_effect_latents_hook_z"] else { Issue.record("manifest"); return }
        let got = try LogitEffects.matrix(sae: z, latents: a.compactMap(\.intValue), model: AnalysisFixture.tinyA)
        let c = compare(got, try AnalysisFixture.reference().tensor("logit_effects.hook_z"), atol: 1e-4)
        #expect(c.passed, "\(c)")
        // Residual-stream SAEs give the same through either entry point.
        let u = try Unembedding(model: AnalysisFixture.tinyA)
        #expect(compare(try LogitEffects.matrix(sae: sae, latents: [7], model: AnalysisFixture.tinyA),
                        try LogitEffects.matrix(sae: sae, latents: [7], unembedding: u), atol: 1e-6).passed)
    }

    @Test("the centring of the processed W_U does not depend on center_writing_weights")
    func centredModel() throws {
        let centred = AnalysisFixture.tinyA.centeringWritingWeights()
        let a = try LogitEffects.matrix(sae: sae, latents: [7], unembedding: try Unembedding(model: centred))
        let b = try LogitEffects.matrix(sae: sae, latents: [7], unembedding: try Unembedding(model: AnalysisFixture.tinyA))
        #expect(compare(a, b, atol: 1e-6).passed)   // the same product (lmHead = the original wte)
    }

    @Test("top tokens, histogram and moments summarise the full row")
    func summary() throws {
        let u = try Unembedding(model: AnalysisFixture.tinyA)
        let row = try LogitEffects.matrix(sae: sae, latents: [42], unembedding: u).scalars
        let e = try #require(try LogitEffects.compute(sae: sae, latents: [42], unembedding: u, top: 10, histogramBins: 50).first)
        let order = row.indices.sorted { row[$0] > row[$1] }
        #expect(e.positive.map(\.token) == Array(order.prefix(10)))
        #expect(e.negative.map(\.token) == Array(order.reversed().prefix(10)))
        #expect(e.positive.first!.value == row.max()! && e.negative.first!.value == row.min()!)
        #expect(e.histogram.reduce(0, +) == row.count && e.histogram.count == 50)
        #expect(abs(e.mean) < 1e-6)   // centred over the vocabulary
        let sd = (row.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(row.count)).squareRoot()
        #expect(abs(e.std - sd) < 1e-5)
    }

    @Test("hooks that do not write the residual stream and bad latents are refused")
    func refusals() throws {
        let u = try Unembedding(model: AnalysisFixture.tinyA)
        let z = try AnalysisFixture.sae("hook_z")
        #expect(throws: AnalysisError.noDirectLogitPath(hook: "blocks.0.attn.hook_z", reason: "the hook does not write the residual stream (map the decoder through W_O first)")) {
            try LogitEffects.matrix(sae: z, latents: [0], unembedding: u)
        }
        #expect(throws: AnalysisError.latentOutOfRange(-1, dSAE: 128)) { try LogitEffects.matrix(sae: sae, latents: [-1], unembedding: u) }
        #expect(throws: AnalysisError.noLatents) { try LogitEffects.matrix(sae: sae, latents: [], unembedding: u) }
    }

    @Test("a decoder model's unembedding: RMSNorm scale folded, no d_model centring")
    func decoderModel() throws {
        let json = #"{"model_type": "llama", "vocab_size": 50, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32, "tie_word_embeddings": true}"#
        let c = try DecoderConfig.decode(Data(json.utf8), source: "test")
        let model = DecoderModel(config: c, weights: .random(c, std: 0.1, seed: 4))
        let u = try Unembedding(model: model)
        #expect(!u.finalNormCentres && u.vocabularySize == 50)
        let got = try LogitEffects.matrix(sae: sae, latents: [3], unembedding: u).scalars
        var want = [Double](repeating: 0, count: 50)
        for v in 0..<50 { for j in 0..<64 {
            want[v] += Double(sae.weights.wDec.scalars[3 * 64 + j]) * Double(model.weights.finalNorm.scalars[j]) * Double(model.weights.embedding.scalars[v * 64 + j])
        } }
        let mu = want.reduce(0, +) / 50
        #expect(compare(got.map(Double.init), want.map { $0 - mu }, atol: 1e-5, rtol: 0).passed)
    }
}
