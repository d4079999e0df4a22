import IsaerftCore
import IsaerftTestSupport
import Testing

// Causal attention (probs forward + apply) against `Reference.attention` (Double), over geometries that
// cover grouped-query heads, a sliding window, a left-padded key mask (so some query rows see no key), the
// soft-cap on and off, and KV-cache geometry (queryLength < keyLength). Head dims 5 to 96, lengths 7 to 70.

/// One attention configuration with its inputs.
struct AttentionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var geometry: AttentionGeometry
    var keyMask: [Bool]?
    var qStd: Float = 1
    var testDescription: String { name }

    var q: Tensor {
        let g = geometry
        return Tensor.randomNormal([g.batch * g.queryLength, g.heads * g.headDim], std: qStd, seed: 401)
    }
    var k: Tensor { Tensor.randomNormal([geometry.batch * geometry.keyLength, geometry.kvHeads * geometry.headDim], seed: 402) }
    var v: Tensor { Tensor.randomNormal([geometry.batch * geometry.keyLength, geometry.kvHeads * geometry.headDim], seed: 403) }

    /// Batch 2 with the second sequence left-padded by `pads` keys.
    static func leftPadded(keyLength: Int, pads: Int) -> [Bool] {
        Array(repeating: true, count: keyLength) + (0..<keyLength).map { $0 >= pads }
    }

    static let all: [AttentionCase] = [
        AttentionCase(name: "MHA causal", geometry: AttentionGeometry(batch: 2, queryLength: 7, heads: 3, headDim: 5)),
        AttentionCase(name: "GQA 4/2", geometry: AttentionGeometry(batch: 2, queryLength: 7, heads: 4, kvHeads: 2, headDim: 5)),
        AttentionCase(name: "MQA 4/1, head dim 37", geometry: AttentionGeometry(batch: 1, queryLength: 9, heads: 4, kvHeads: 1, headDim: 37)),
        AttentionCase(name: "GQA + window 3",
                      geometry: AttentionGeometry(batch: 2, queryLength: 7, heads: 4, kvHeads: 2, headDim: 5, window: 3)),
        AttentionCase(name: "GQA + left padding 3",
                      geometry: AttentionGeometry(batch: 2, queryLength: 7, heads: 4, kvHeads: 2, headDim: 5),
                      keyMask: leftPadded(keyLength: 7, pads: 3)),
        AttentionCase(name: "soft-cap 2 + window 4 + padding 2",
                      geometry: AttentionGeometry(batch: 2, queryLength: 7, heads: 4, kvHeads: 2, headDim: 5, window: 4, softcap: 2),
                      keyMask: leftPadded(keyLength: 7, pads: 2), qStd: 2),
        AttentionCase(name: "KV geometry 3 of 7 + GQA + window 5 + padding 2 + soft-cap 3",
                      geometry: AttentionGeometry(batch: 2, queryLength: 3, keyLength: 7, heads: 4, kvHeads: 2, headDim: 5,
                                                  scale: 0.3, window: 5, softcap: 3),
                      keyMask: leftPadded(keyLength: 7, pads: 2), qStd: 2),
        // Long enough for the product kernels' blocks: 4-row blocks with a partial last one, 32-key blocks,
        // head dims that are (64) and are not (96 = 3 × 32, 48 = 32 + 16) multiples of their 32-wide tiles.
        AttentionCase(name: "causal 70, head dim 64",
                      geometry: AttentionGeometry(batch: 1, queryLength: 70, heads: 2, headDim: 64)),
        AttentionCase(name: "KV geometry 6 of 70 + GQA 4/2, head dim 96",
                      geometry: AttentionGeometry(batch: 1, queryLength: 6, keyLength: 70, heads: 4, kvHeads: 2, headDim: 96)),
        AttentionCase(name: "causal 45 + padding 5 + window 20, head dim 48",
                      geometry: AttentionGeometry(batch: 2, queryLength: 45, heads: 2, headDim: 48, window: 20),
                      keyMask: leftPadded(keyLength: 45, pads: 5)),
    ]
}

/// Runs the kernels' forward: probs (with scores captured) and z.
func attentionKernelForward(_ c: AttentionCase) -> (scores: Tensor, probs: Tensor, z: Tensor) {
    let g = c.geometry
    var probs = Tensor(shape: g.probsShape, repeating: .nan)
    var scores: Tensor? = Tensor(shape: [0])
    attentionProbsForward(probs: &probs, scores: &scores, q: c.q, k: c.k, keyMask: c.keyMask, geometry: g)
    var z = Tensor(shape: [g.batch * g.queryLength, g.heads * g.headDim], repeating: .nan)
    attentionApplyForward(z: &z, probs: probs, v: c.v, geometry: g)
    return (scores!, probs, z)
}

@Suite("Attention forward")
struct AttentionTests {
    @Test("scores, probs and z vs Reference.attention", arguments: AttentionCase.all)
    func forwardMatches(_ c: AttentionCase) {
        let got = attentionKernelForward(c)
        let want = Reference.attention(q: c.q.doubles, k: c.k.doubles, v: c.v.doubles, keyMask: c.keyMask, geometry: c.geometry)
        // Scores: one Float dot product of length D (≤ 37) plus FastMath.tanh for the cap (abs ≤ 2e-7·cap);
        // −∞ must match exactly where keys are invisible. Observed max |Δ| 6.3e-7 (D = 37).
        expectClose(compare(got.scores, want.scores, atol: 5e-6, rtol: 1e-6), "\(c.name): scores")
        // Probs: FastMath.exp (≤ 2 ulp) and a Float row sum. Observed max |Δ| 1.1e-7.
        expectClose(compare(got.probs, want.probs, atol: 1e-6, rtol: 1e-6), "\(c.name): probs")
        // z: a convex combination of N(0, 1) values plus the probs error. Observed max |Δ| 4.9e-7.
        expectClose(compare(got.z, want.z, atol: 2e-6, rtol: 1e-6), "\(c.name): z")

        // Every probability row sums to 1, or is all zero when the row sees no key (exactly, in both).
        let g = c.geometry
        for row in 0..<(g.batch * g.heads * g.queryLength) {
            let r = (row * g.keyLength)..<((row + 1) * g.keyLength)
            let wantEmpty = want.probs[r].allSatisfy { $0 == 0 }
            let sum = got.probs.scalars[r].reduce(0, +)
            if wantEmpty {
                #expect(got.probs.scalars[r].allSatisfy { $0 == 0 }, "\(c.name): row \(row) sees no key: all zero")
            } else {
                #expect(abs(sum - 1) < 1e-6, "\(c.name): row \(row) sums to \(sum)")
            }
        }
    }

    @Test("a left-padded query row with no visible key gives zero probs and zero z")
    func paddingRowsAreZero() {
        let c = AttentionCase.all[4]                                     // padding 3 in sequence 1
        let g = c.geometry
        let got = attentionKernelForward(c)
        for h in 0..<g.heads {
            for i in 0..<g.queryLength {
                let row = ((1 * g.heads + h) * g.queryLength + i) * g.keyLength
                let probs = got.probs.scalars[row..<(row + g.keyLength)]
                if i < 3 {
                    #expect(probs.allSatisfy { $0 == 0 }, "head \(h) query \(i): only padding is visible")
                } else {
                    #expect(probs.prefix(3).allSatisfy { $0 == 0 } && probs.dropFirst(3).contains { $0 > 0 },
                            "head \(h) query \(i): padding keys get exactly 0")
                }
            }
        }
        for i in 0..<3 {
            let zRow = got.z.scalars[((g.queryLength + i) * g.heads * g.headDim)..<((g.queryLength + i + 1) * g.heads * g.headDim)]
            #expect(zRow.allSatisfy { $0 == 0 }, "z row of padded query \(i) is zero")
        }
    }

    @Test("scores are not computed when not asked for")
    func scoresOptional() {
        let c = AttentionCase.all[1]
        var probs = Tensor(shape: c.geometry.probsShape)
        var scores: Tensor? = nil
        attentionProbsForward(probs: &probs, scores: &scores, q: c.q, k: c.k, keyMask: nil, geometry: c.geometry)
        #expect(scores == nil)
        #expect(probs == attentionKernelForward(c).probs, "probs do not depend on the scores capture")
    }

    @Test("a pattern with weight after a query's position (an edited hook_pattern) multiplies in full, as pattern @ v")
    func editedPatternMultipliesInFull() {
        let g = AttentionGeometry(batch: 2, queryLength: 37, heads: 2, kvHeads: 1, headDim: 40)
        let probs = Tensor.randomNormal(g.probsShape, seed: 441)
        let v = Tensor.randomNormal([g.batch * g.keyLength, g.kvHeads * g.headDim], seed: 442)
        var z = Tensor(shape: [g.batch * g.queryLength, g.heads * g.headDim])
        attentionApplyForward(z: &z, probs: probs, v: v, geometry: g)
        let want = Reference.attentionApply(probs: probs.doubles, v: v.doubles, geometry: g)
        // Sums of 37 products of N(0, 1) values (|z| up to ~20). Observed max |Δ| 5.5e-6 (z), 6.5e-6 (dProbs), 5.9e-6 (dv).
        expectClose(compare(z, want, atol: 1e-5, rtol: 1e-5), "z from a non-causal pattern")

        let dZ = Tensor.randomNormal(z.shape, seed: 443)
        var dProbs = Tensor(shape: g.probsShape), dv = Tensor(shape: v.shape)
        attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: probs, v: v, geometry: g)
        let ref = Reference.attentionApplyBackward(dZ: dZ.doubles, probs: probs.doubles, v: v.doubles, geometry: g)
        expectClose(compare(dProbs, ref.dProbs, atol: 1e-5, rtol: 1e-5), "dProbs from a non-causal pattern")
        expectClose(compare(dv, ref.dv, atol: 1e-5, rtol: 1e-5), "dv from a non-causal pattern")
    }

    @Test("KV-cache decode step (queryLength 1 of 7) equals the last row of the full pass",
          arguments: [nil, 3] as [Int?], [nil, 2.5] as [Float?])
    func decodeStepMatchesFullPass(window: Int?, softcap: Float?) {
        let (B, T, H, Hk, D) = (2, 7, 4, 2, 5)
        let mask = AttentionCase.leftPadded(keyLength: T, pads: 2)
        let full = AttentionGeometry(batch: B, queryLength: T, heads: H, kvHeads: Hk, headDim: D, window: window, softcap: softcap)
        let step = AttentionGeometry(batch: B, queryLength: 1, keyLength: T, heads: H, kvHeads: Hk, headDim: D,
                                     window: window, softcap: softcap)
        let q = Tensor.randomNormal([B * T, H * D], std: 2, seed: 411)
        let k = Tensor.randomNormal([B * T, Hk * D], seed: 412), v = Tensor.randomNormal([B * T, Hk * D], seed: 413)
        let row = H * D                                                  // one query row of q or z
        var lastQ = Tensor(shape: [B, row])
        for b in 0..<B { for e in 0..<row { lastQ.scalars[b * row + e] = q.scalars[(b * T + T - 1) * row + e] } }

        var pFull = Tensor(shape: full.probsShape), pStep = Tensor(shape: step.probsShape)
        var none: Tensor? = nil
        attentionProbsForward(probs: &pFull, scores: &none, q: q, k: k, keyMask: mask, geometry: full)
        attentionProbsForward(probs: &pStep, scores: &none, q: lastQ, k: k, keyMask: mask, geometry: step)
        var zFull = Tensor(shape: [B * T, H * D]), zStep = Tensor(shape: [B, H * D])
        attentionApplyForward(z: &zFull, probs: pFull, v: v, geometry: full)
        attentionApplyForward(z: &zStep, probs: pStep, v: v, geometry: step)

        var lastProbs = [Float](), lastZ = [Float]()
        for bh in 0..<(B * H) { for j in 0..<T { lastProbs.append(pFull.scalars[(bh * T + T - 1) * T + j]) } }
        for b in 0..<B { for e in 0..<row { lastZ.append(zFull.scalars[(b * T + T - 1) * row + e]) } }
        // Same maths, but BLAS sees [1, D]·[D, 7] instead of [7, D]·[D, 7], so the summation order may differ:
        // bound 1e-6 absolute (values are O(1)). Observed: bitwise equal with OpenBLAS on x86-64.
        expectClose(compare(pStep.scalars, lastProbs, atol: 1e-6, rtol: 0), "decode probs vs last full row")
        expectClose(compare(zStep.scalars, lastZ, atol: 1e-6, rtol: 0), "decode z vs last full row")
    }
}
