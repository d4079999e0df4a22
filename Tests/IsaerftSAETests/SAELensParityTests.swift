import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// Every architecture, normalisation and file format against SAELens 6.54.12 itself.
///
/// Tolerance: fp32 against torch fp32 on CPU; only summation order differs (OpenBLAS vs torch's
/// kernels), and fixture rows keep every pre-activation ≥ 1e-3 from a jump of the encoder, so no
/// feature can flip. Observed worst |Δ| (2025-11-21): 2.9e-6 (constant_norm decode), ≤ 1.2e-6 elsewhere;
/// bound 1e-5 absolute + 1e-5 relative (layer_norm outputs are rescaled by σ ≈ 3).
@Suite("SAEs against SAELens")
struct SAELensParityTests {
    static let atol = 1e-5, rtol = 1e-5

    @Test("encode, decode, forward and hidden_pre equal SAELens", arguments: SAEFixture.all)
    func parity(name: String) throws {
        let sae = try SAEFixture.load(name)
        let ref = try SAEFixture.reference(name)
        let x = try ref.tensor("x")
        let (f, stats) = try sae.encodeWithStatistics(x)
        let want = try ref.tensor("encode")
        let cf = compare(f, want, atol: Self.atol, rtol: Self.rtol)
        #expect(cf.passed, "\(name) encode: \(cf)")
        let dec = sae.decode(f, statistics: stats)
        let wantDec = try ref.tensor("decode")
        let cd = compare(dec.reshaped(wantDec.shape), wantDec, atol: Self.atol, rtol: Self.rtol)
        #expect(cd.passed, "\(name) decode: \(cd)")
        let fwd = try sae.forward(x)
        let cw = compare(fwd, try ref.tensor("forward"), atol: Self.atol, rtol: Self.rtol)
        #expect(cw.passed, "\(name) forward: \(cw)")
        let pre = try sae.preActivations(x)
        let cp = compare(pre, try ref.tensor("hidden_pre"), atol: Self.atol, rtol: Self.rtol)
        #expect(cp.passed, "\(name) hidden_pre: \(cp)")
        // Activations are not degenerate (the fixture script aims for a few to ~45 % active).
        #expect(f.scalars.contains { $0 != 0 }, "\(name): no active features")
        if ProcessInfo.processInfo.environment["ISAERFT_SAE_REPORT"] != nil {
            print("SAE parity \(name): encode \(cf.maxAbs) decode \(cd.maxAbs) forward \(cw.maxAbs) hidden_pre \(cp.maxAbs)")
        }
    }

    /// Double twin vs SAELens: checks the fixture and the formulas independently of BLAS.
    /// Observed ≤ 1e-6; bound as above.
    @Test("a naive Double SAE equals SAELens", arguments: SAEFixture.all)
    func doubleReference(name: String) throws {
        let sae = try SAEFixture.load(name)
        let ref = try SAEFixture.reference(name)
        let x = try ref.tensor("x")
        let n = x.count / sae.dIn
        let e = ReferenceSAE.encode(sae, x.scalars.map(Double.init), rows: n)
        let cf = compare(e.f, try ref.tensor("encode").scalars.map(Double.init), atol: Self.atol, rtol: Self.rtol)
        #expect(cf.passed, "\(name) encode: \(cf)")
        let y = ReferenceSAE.decode(sae, e.f, rows: n, mu: e.mu, sd: e.sd, c: e.c)
        let cy = compare(y, try ref.tensor("forward").scalars.map(Double.init), atol: Self.atol, rtol: Self.rtol)
        #expect(cy.passed, "\(name) forward: \(cy)")
    }

    @Test("encode keeps leading axes; hook_z input may be [.., heads, d_head] or flat")
    func shapes() throws {
        let sae = try SAEFixture.load("hook_z")
        let x = try SAEFixture.reference("hook_z").tensor("x")          // [16, 4, 16]
        #expect(x.shape == [16, 4, 16])
        let f = try sae.encode(x.reshaped([2, 8, 4, 16]))
        #expect(f.shape == [2, 8, 96])
        let flat = try sae.encode(x.reshaped([16, 64]))
        #expect(flat.scalars == f.scalars)
        #expect(try sae.reconstruct(x).shape == [16, 4, 16])
        #expect(sae.decode(flat).shape == [16, 64])
    }

    /// With the error term the output is x up to one rounding of x̂ + (x − x̂).
    @Test("forward with the error term returns the input")
    func errorTerm() throws {
        let sae = try SAEFixture.load("jumprelu")
        let x = try SAEFixture.reference("jumprelu").tensor("x")
        let c = compare(try sae.forward(x, keepError: true), x, atol: 1e-6)
        #expect(c.passed, "\(c)")
    }

    @Test("folding the decoder norms keeps encode·decode (SAELens fold_W_dec_norm)", arguments: ["standard", "gated", "jumprelu", "topk_rescale"])
    func foldDecoderNorms(name: String) throws {
        let sae = try SAEFixture.load(name)
        let x = try SAEFixture.reference(name).tensor("x")
        let folded = try sae.foldingDecoderNorms()
        let c = compare(try folded.reconstruct(x), try sae.reconstruct(x), atol: 1e-5, rtol: 1e-5)
        #expect(c.passed, "\(name): \(c)")
    }

    @Test("topk without decoder-norm rescaling refuses to fold its decoder norms")
    func foldRefused() throws {
        #expect(throws: SAEError.self) { try SAEFixture.load("topk").foldingDecoderNorms() }
    }
}
