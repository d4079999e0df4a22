import IsaerftCore
import IsaerftTestSupport
import Testing

// Log-softmax, cross-entropy (with ignore index) and embedding against `Reference`. Vocabulary 131 = 8
// full 16-wide FastMath vectors plus a 3-element scalar tail.

@Suite("Log-softmax, cross-entropy, embedding")
struct SoftmaxEmbeddingTests {
    static let n = 7, vocab = 131

    /// Logits N(0, 3²); row 3 is shifted by +50 and row 5 by −80, to exercise the max shift.
    static func logits(seed: UInt64) -> Tensor {
        var l = Tensor.randomNormal([n, vocab], std: 3, seed: seed)
        for j in 0..<vocab { l[3, j] += 50; l[5, j] -= 80 }
        return l
    }

    @Test("logSoftmax forward vs twin")
    func logSoftmaxMatches() {
        let x = Self.logits(seed: 301)
        var out = Tensor(shape: x.shape, repeating: .nan)
        logSoftmaxForward(out: &out, x: x)
        // Sums in Double of FastMath.exp terms (≤ 2 ulp each), then one rounding of x − lse to Float
        // (|out| up to ~25): observed max |Δ| 1.05e-6 (≈ 1 ulp of |out| ≈ 16).
        expectClose(compare(out, Reference.logSoftmax(x.doubles, n: Self.n, v: Self.vocab), atol: 1e-6, rtol: 2e-7),
                    "logSoftmax")
    }

    @Test("cross-entropy forward and backward with ignored rows (targets −100 and −1)")
    func crossEntropyMatches() {
        let (n, v) = (Self.n, Self.vocab)
        let logits = Self.logits(seed: 311)
        var targets = randomIDs(n, vocab: v, seed: 312)
        targets[2] = -100
        targets[6] = -1
        let losses = crossEntropyForward(logits: logits, targets: targets)
        let want = Reference.crossEntropy(logits: logits.doubles, targets: targets, n: n, v: v)
        // lse − x_t in Double, rounded once to Float: observed max |Δ| 4.6e-7 (losses up to ~12).
        expectClose(compare(losses.map(Double.init), want, atol: 1e-6, rtol: 2e-7), "crossEntropy forward")
        #expect(losses[2] == 0 && losses[6] == 0, "ignored rows have zero loss")

        let dLoss = Tensor.randomNormal([n], seed: 313).scalars
        var dLogits = Tensor(shape: logits.shape)
        crossEntropyBackward(dLogits: &dLogits, dLoss: dLoss, logits: logits, targets: targets)
        let ref = Reference.crossEntropyBackward(dLoss: dLoss.map(Double.init), logits: logits.doubles, targets: targets, n: n, v: v)
        // softmax = exp(x − Float(lse)) in Float: Float(lse) rounds lse by ≤ ulp(|lse|)/2, so the relative error
        // of every probability grows with the logit magnitude (row 3, lse ≈ 60: 2e-6 relative). Gradients are
        // ≤ |dLoss| ≈ 2: observed max |Δ| 3.9e-7.
        expectClose(compare(dLogits, ref, atol: 2e-6, rtol: 1e-5), "crossEntropy backward vs twin")
        for r in [2, 6] { #expect(dLogits.scalars[(r * v)..<((r + 1) * v)].allSatisfy { $0 == 0 }, "ignored row \(r) has no gradient") }

        let (xs, g) = (logits.doubles, dLoss.map(Double.init))
        func loss(_ l: [Double]) -> Double { dot(Reference.crossEntropy(logits: l, targets: targets, n: n, v: v), g) }
        // Coordinates: random ones plus every target logit (the one-hot term).
        let coords = Array(Set(coordinates(n * v, count: 24, seed: 11)
                               + targets.enumerated().filter { $0.element >= 0 }.map { $0.offset * v + $0.element })).sorted()
        // Twin vs FD observed 3.3e-10 (Double); kernel vs FD 1.1e-7.
        expectClose(gradCheck(ref, x: xs, coords: coords, atol: 1e-8, rtol: 1e-7, loss), "crossEntropy twin vs FD")
        expectClose(gradCheck(dLogits, x: xs, coords: coords, atol: 2e-6, rtol: 1e-5, loss), "crossEntropy backward vs FD")

        let once = dLogits
        crossEntropyBackward(dLogits: &dLogits, dLoss: dLoss, logits: logits, targets: targets)
        #expect(bitwiseEqual(dLogits.scalars, once.scalars.map { 2 * $0 }), "crossEntropy backward accumulates")

        // In place (the logits become their gradient; a zero dLoss row is skipped like an ignored one).
        var zeroed = dLoss
        zeroed[4] = 0
        var fresh = Tensor(shape: logits.shape)
        crossEntropyBackward(dLogits: &fresh, dLoss: zeroed, logits: logits, targets: targets)
        var inPlace = logits
        crossEntropyBackwardInPlace(&inPlace, dLoss: zeroed, targets: targets)
        #expect(bitwiseEqual(inPlace.scalars, fresh.scalars), "in-place backward equals the out-of-place one bit for bit")
    }

    @Test("embedding forward (exact gather) and backward (scatter-add with repeated ids)")
    func embeddingMatches() {
        let (v, d) = (Self.vocab, 37)
        let table = Tensor.randomNormal([v, d], seed: 321)
        var ids = randomIDs(9, vocab: v, seed: 322)
        ids[4] = ids[1]; ids[7] = ids[1]                  // a token that occurs three times
        ids[8] = v - 1; ids[0] = 0                          // both ends of the table
        var out = Tensor(shape: [ids.count, d], repeating: .nan)
        embeddingForward(out: &out, ids: ids, table: table)
        let want = Reference.embedding(ids: ids, table: table.doubles, vocab: v, d: d)
        #expect(out.doubles == want, "a gather copies Float values: bitwise")

        let dOut = Tensor.randomNormal([ids.count, d], seed: 323)
        let start = Tensor.randomNormal([v, d], std: 0.1, seed: 324)
        var dTable = start
        embeddingBackward(dTable: &dTable, dOut: dOut, ids: ids)
        let ref = Reference.embeddingBackward(dOut: dOut.doubles, ids: ids, vocab: v, d: d)
        // Up to three Float additions onto a nonzero start: observed max |Δ| 2.9e-7; untouched rows exact.
        expectClose(compare(dTable, Reference.add(start.doubles, ref), atol: 1e-6, rtol: 1e-6), "embedding backward accumulates")
        let untouched = (0..<v).filter { !ids.contains($0) }
        #expect(untouched.allSatisfy { r in (0..<d).allSatisfy { dTable[r, $0] == start[r, $0] } }, "rows of unused ids unchanged")

        // FD on the table: L = Σ embedding ⊙ dOut is linear in the table. Coordinates in used rows and elsewhere.
        let xs = table.doubles, g = dOut.doubles
        let coords = Array(Set(coordinates(v * d, count: 16, seed: 12) + ids.map { $0 * d + 3 })).sorted()
        func loss(_ t: [Double]) -> Double { dot(Reference.embedding(ids: ids, table: t, vocab: v, d: d), g) }
        // Twin vs FD observed 2.9e-10 (rounding ≈ 1e-16·|L|/h; bound 1e-8); kernel vs FD 8.9e-8.
        expectClose(gradCheck(ref, x: xs, coords: coords, atol: 1e-8, rtol: 1e-8, loss), "embedding twin vs FD")
        var fresh = Tensor(shape: [v, d])
        embeddingBackward(dTable: &fresh, dOut: dOut, ids: ids)
        expectClose(gradCheck(fresh, x: xs, coords: coords, atol: 1e-6, rtol: 1e-6, loss), "embedding backward vs FD")
    }
}
