import IsaerftCore
import IsaerftTestSupport
import Testing

// Attention backward, in its two kernel halves and end to end, against the Double twins and against central
// finite differences of the Double forward with fake losses:
//   apply:  L(P, v) = Σ z ⊙ dZ, with the pattern P treated as a free input;
//   probs:  L(q, k) = Σ P ⊙ dP;
//   whole:  L(q, k, v) = Σ z ⊙ dZ through both.
// Gradients are O(1); Float products over D ≤ 96 and Tk ≤ 70 with the FastMath softmax give errors of a
// few 1e-7. Bounds: 1e-5 absolute + 1e-5 relative for the kernels, 1e-7 for the Double twins against FD.

@Suite("Attention backward")
struct AttentionBackwardTests {
    static func dZ(_ g: AttentionGeometry) -> Tensor {
        Tensor.randomNormal([g.batch * g.queryLength, g.heads * g.headDim], seed: 421)
    }

    @Test("apply backward (dProbs, dv): twin and finite differences", arguments: AttentionCase.all)
    func applyBackwardMatches(_ c: AttentionCase) {
        let g = c.geometry
        let probs = attentionKernelForward(c).probs, v = c.v, dZ = Self.dZ(g)
        var dProbs = Tensor(shape: g.probsShape), dv = Tensor(shape: v.shape)
        attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: probs, v: v, geometry: g)
        let ref = Reference.attentionApplyBackward(dZ: dZ.doubles, probs: probs.doubles, v: v.doubles, geometry: g)
        // Observed max |Δ| 4.8e-6 (dProbs, MQA with D = 37: sums of 37 products, values up to ~10), 4.7e-7 (dv).
        expectClose(compare(dProbs, ref.dProbs, atol: 1e-5, rtol: 1e-5), "\(c.name): dProbs vs twin")
        expectClose(compare(dv, ref.dv, atol: 1e-5, rtol: 1e-5), "\(c.name): dv vs twin")

        let (ps, vs, g2) = (probs.doubles, v.doubles, dZ.doubles)
        func lossP(_ p: [Double]) -> Double { dot(Reference.attentionApply(probs: p, v: vs, geometry: g), g2) }
        func lossV(_ x: [Double]) -> Double { dot(Reference.attentionApply(probs: ps, v: x, geometry: g), g2) }
        let cp = coordinates(ps.count, seed: 21), cv = coordinates(vs.count, seed: 22)
        // L is bilinear, so FD is exact up to rounding: twin observed 2.1e-9; kernel 1.4e-6 (dProbs, D = 37).
        expectClose(gradCheck(ref.dProbs, x: ps, coords: cp, atol: 1e-7, rtol: 1e-7, lossP), "\(c.name): twin dProbs vs FD")
        expectClose(gradCheck(ref.dv, x: vs, coords: cv, atol: 1e-7, rtol: 1e-7, lossV), "\(c.name): twin dv vs FD")
        expectClose(gradCheck(dProbs, x: ps, coords: cp, atol: 1e-5, rtol: 1e-5, lossP), "\(c.name): dProbs vs FD")
        expectClose(gradCheck(dv, x: vs, coords: cv, atol: 1e-5, rtol: 1e-5, lossV), "\(c.name): dv vs FD")
    }

    @Test("probs backward (dq, dk through softmax, soft-cap, scale): twin and finite differences",
          arguments: AttentionCase.all)
    func probsBackwardMatches(_ c: AttentionCase) {
        let g = c.geometry
        let q = c.q, k = c.k, probs = attentionKernelForward(c).probs
        let dProbs = Tensor.randomNormal(g.probsShape, seed: 431)
        var dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape)
        attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: probs, q: q, k: k, geometry: g)
        let ref = Reference.attentionProbsBackward(dProbs: dProbs.doubles, q: q.doubles, k: k.doubles,
                                                   keyMask: c.keyMask, geometry: g)
        // Observed max |Δ| 4.3e-7 (dq), 5.9e-7 (dk).
        expectClose(compare(dq, ref.dq, atol: 1e-5, rtol: 1e-5), "\(c.name): dq vs twin")
        expectClose(compare(dk, ref.dk, atol: 1e-5, rtol: 1e-5), "\(c.name): dk vs twin")

        let (qs, ks, gp) = (q.doubles, k.doubles, dProbs.doubles)
        func lossQ(_ x: [Double]) -> Double { dot(Reference.attentionProbs(q: x, k: ks, keyMask: c.keyMask, geometry: g).probs, gp) }
        func lossK(_ x: [Double]) -> Double { dot(Reference.attentionProbs(q: qs, k: x, keyMask: c.keyMask, geometry: g).probs, gp) }
        let cq = coordinates(qs.count, seed: 23), ck = coordinates(ks.count, seed: 24)
        // Smooth in q and k (the mask is fixed): twin vs FD observed 5.3e-9; kernel vs FD 2.9e-7.
        expectClose(gradCheck(ref.dq, x: qs, coords: cq, atol: 1e-7, rtol: 1e-7, lossQ), "\(c.name): twin dq vs FD")
        expectClose(gradCheck(ref.dk, x: ks, coords: ck, atol: 1e-7, rtol: 1e-7, lossK), "\(c.name): twin dk vs FD")
        expectClose(gradCheck(dq, x: qs, coords: cq, atol: 1e-5, rtol: 1e-5, lossQ), "\(c.name): dq vs FD")
        expectClose(gradCheck(dk, x: ks, coords: ck, atol: 1e-5, rtol: 1e-5, lossK), "\(c.name): dk vs FD")
    }

    // The halves are checked on every case above; end to end runs on the three masked cases (padding, window,
    // soft-cap, KV geometry), which keeps this test under 1 s in a debug build.
    @Test("whole backward (apply then probs) vs finite differences of Σ z ⊙ dZ in q, k, v",
          arguments: AttentionCase.all.filter { $0.keyMask != nil })
    func endToEnd(_ c: AttentionCase) {
        let g = c.geometry
        let q = c.q, k = c.k, v = c.v, dZ = Self.dZ(g)
        let probs = attentionKernelForward(c).probs
        var dProbs = Tensor(shape: g.probsShape), dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape)
        var dv = Tensor(shape: v.shape)
        attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: probs, v: v, geometry: g)
        attentionProbsBackward(dq: &dq, dk: &dk, dProbs: dProbs, probs: probs, q: q, k: k, geometry: g)
        let ref = Reference.attentionBackward(dZ: dZ.doubles, q: q.doubles, k: k.doubles, v: v.doubles,
                                              keyMask: c.keyMask, geometry: g)
        let (qs, ks, vs, gz) = (q.doubles, k.doubles, v.doubles, dZ.doubles)
        func loss(_ q: [Double], _ k: [Double], _ v: [Double]) -> Double {
            dot(Reference.attention(q: q, k: k, v: v, keyMask: c.keyMask, geometry: g).z, gz)
        }
        let cq = coordinates(qs.count, seed: 25), ck = coordinates(ks.count, seed: 26), cv = coordinates(vs.count, seed: 27)
        // Observed max |Δ| 4.8e-7 (kernel vs twin), 3.1e-7 (kernel vs FD), 1.7e-9 (twin vs FD).
        for (name, kernel, twin, x, coords, f) in [
            ("dq", dq, ref.dq, qs, cq, { loss($0, ks, vs) }),
            ("dk", dk, ref.dk, ks, ck, { loss(qs, $0, vs) }),
            ("dv", dv, ref.dv, vs, cv, { loss(qs, ks, $0) }),
        ] as [(String, Tensor, [Double], [Double], [Int], ([Double]) -> Double)] {
            expectClose(compare(kernel, twin, atol: 1e-5, rtol: 1e-5), "\(c.name): \(name) vs twin")
            expectClose(gradCheck(twin, x: x, coords: coords, atol: 1e-7, rtol: 1e-7, f), "\(c.name): twin \(name) vs FD")
            expectClose(gradCheck(kernel, x: x, coords: coords, atol: 1e-5, rtol: 1e-5, f), "\(c.name): \(name) vs FD")
        }

        // Query rows that see no key get no gradient at all.
        if c.keyMask != nil {
            for b in 0..<g.batch { for i in 0..<g.queryLength {
                let empty = (0..<g.keyLength).allSatisfy {
                    !Reference.attentionVisible(query: i, key: $0, batch: b, keyMask: c.keyMask, geometry: g)
                }
                if empty {
                    let row = dq.scalars[((b * g.queryLength + i) * g.heads * g.headDim)..<((b * g.queryLength + i + 1) * g.heads * g.headDim)]
                    #expect(row.allSatisfy { $0 == 0 }, "\(c.name): dq of empty query row \(b), \(i) is zero")
                }
            } }
        }
    }

    @Test("both backward halves add into their outputs: a second call doubles them")
    func accumulation() {
        let c = AttentionCase.all[5]                                    // soft-cap, window, padding, GQA
        let g = c.geometry
        let q = c.q, k = c.k, v = c.v, dZ = Self.dZ(g), probs = attentionKernelForward(c).probs
        var dProbs = Tensor(shape: g.probsShape), dv = Tensor(shape: v.shape)
        attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: probs, v: v, geometry: g)
        let once = (dProbs, dv)
        attentionApplyBackward(dProbs: &dProbs, dv: &dv, dZ: dZ, probs: probs, v: v, geometry: g)
        // dv sums two query heads per KV head, so (a + b) + a + b need not be 2(a + b) bitwise: bound 1e-6
        // relative. Observed max |Δ| 0 for dProbs and dq, 2.4e-7 for dk, 4.8e-7 for dv (1 ulp).
        expectClose(compare(dProbs, once.0.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "dProbs accumulates")
        expectClose(compare(dv, once.1.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "dv accumulates")

        var dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape)
        attentionProbsBackward(dq: &dq, dk: &dk, dProbs: once.0, probs: probs, q: q, k: k, geometry: g)
        let first = (dq, dk)
        attentionProbsBackward(dq: &dq, dk: &dk, dProbs: once.0, probs: probs, q: q, k: k, geometry: g)
        expectClose(compare(dq, first.0.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "dq accumulates")
        expectClose(compare(dk, first.1.doubles.map { 2 * $0 }, atol: 1e-7, rtol: 1e-6), "dk accumulates")
    }
}
