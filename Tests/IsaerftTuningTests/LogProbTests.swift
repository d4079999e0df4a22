import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftTestSupport
import IsaerftTuning
import Testing

/// Sequence log-probs as TRL scores completions, against a naive Double log-softmax, and the
/// backward to the logits against finite differences.
@Suite("Sequence log-probs")
struct LogProbTests {
    static let batch = TokenBatch.padded([[3, 7, 1, 4, 2], [5, 6, 0], [2, 2, 8, 9]], pad: 0)
    static let prompts = [2, 1, 3]
    static let V = 10

    static func naiveLogProb(_ logits: Tensor, row: Int, target: Int) -> Double {
        let xs = (0..<V).map { Double(logits.scalars[row * V + $0]) }
        let m = xs.max()!
        return xs[target] - (m + Foundation.log(xs.reduce(0) { $0 + Foundation.exp($1 - m) }))
    }

    @Test("sums and counts over completion tokens; prompt and padding masked")
    func sums() {
        let scoring = SequenceScoring(batch: Self.batch, promptLengths: Self.prompts)
        // completion tokens: row 0 t = 2,3,4; row 1 t = 1,2; row 2 t = 3 (t = 4 is padding)
        #expect(scoring.positions == [0, 1, 2, 3])
        let P = scoring.positions.count
        let logits = Tensor.randomNormal([3, P, Self.V], std: 2, seed: 1)
        let s = scoring.logProbs(logits: logits)
        #expect(s.counts == [3, 2, 1])
        let ids = Self.batch.ids
        let want: [Double] = [
            (1...3).reduce(0.0) { $0 + Self.naiveLogProb(logits, row: 0 * P + $1, target: ids[0][$1 + 1]) },
            (0...1).reduce(0.0) { $0 + Self.naiveLogProb(logits, row: 1 * P + $1, target: ids[1][$1 + 1]) },
            Self.naiveLogProb(logits, row: 2 * P + 2, target: ids[2][3]),
        ]
        for b in 0..<3 { #expect(abs(s.sums[b] - want[b]) < 1e-5, "row \(b): \(s.sums[b]) vs \(want[b])") }
        #expect(s.averages[0] == s.sums[0] / 3)
    }

    @Test("positions-only logits give the same sums as all logits")
    func positionsMatchAll() throws {
        let c = try GPT2Config(vocabSize: 13, contextLength: 16, width: 16, layerCount: 1, headCount: 2)
        let model = GPT2Model(config: c, weights: .random(c, std: 0.3, seed: 2))
        let batch = TokenBatch.padded([[3, 7, 1, 4, 2, 11], [5, 6, 0, 12]], pad: 0)
        let narrow = SequenceScoring(batch: batch, promptLengths: [4, 2])
        let wide = SequenceScoring(batch: batch, promptLengths: [4, 2], allPositions: true)
        #expect(narrow.positions.count < wide.positions.count)
        let a = narrow.logProbs(logits: try model.forward(batch, options: ForwardOptions(logits: narrow.logitsRequest)).logits!)
        let b = wide.logProbs(logits: try model.forward(batch, options: ForwardOptions(logits: wide.logitsRequest)).logits!)
        #expect(a.counts == b.counts)
        for i in 0..<2 { #expect(abs(a.sums[i] - b.sums[i]) < 1e-5) }
    }

    @Test("compact scoring (only each row's scored logits) gives the sums and hook gradients of the positions form")
    func compactMatchesPositions() throws {
        let c = try GPT2Config(vocabSize: 13, contextLength: 16, width: 16, layerCount: 1, headCount: 2)
        let model = GPT2Model(config: c, weights: .random(c, std: 0.3, seed: 2))
        let batch = TokenBatch.padded([[3, 7, 1, 4, 2, 11], [5, 6, 0, 12], [9, 9, 1]], pad: 0)
        let loss = SequenceScoring.completionMask(batch, promptLengths: [4, 1, 2])
        let nll = SequenceScoring.realTokenMask(batch, rows: 0..<1)
        let wide = SequenceScoring(batch: batch, lossMask: loss, nllMask: nll)
        let compact = SequenceScoring(batch: batch, lossMask: loss, nllMask: nll, compact: true)
        let hook = HookPoint.residPost(0)
        func run(_ s: SequenceScoring) throws -> (SequenceLogProbs, Tensor) {
            let out = try model.forward(batch, options: ForwardOptions(logits: s.logitsRequest, retainForBackward: true))
            let lp = s.logProbs(logits: out.logits!)
            let d = s.backward(logits: out.logits!, dSums: [0.5, -1.25, 2], dNLLSums: [0.75, 0, 0])
            return (lp, try model.backward(out.activations!, dLogits: d, to: [hook]).hookGradients[hook]!)
        }
        let (a, ga) = try run(wide), (b, gb) = try run(compact)
        #expect(compact.targets.count < wide.targets.count, "compact asks for fewer logits rows")
        #expect(a.counts == b.counts && a.nllCounts == b.nllCounts)
        for i in 0..<3 {
            #expect(abs(a.sums[i] - b.sums[i]) < 1e-6, "row \(i): \(a.sums[i]) vs \(b.sums[i])")
            #expect(abs(a.nllSums[i] - b.nllSums[i]) < 1e-6)
        }
        let worst = zip(ga.scalars, gb.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-6, "worst |Δ hook gradient| \(worst)")
        // The in-place backward gives the out-of-place numbers bit for bit.
        let logits = try model.forward(batch, options: ForwardOptions(logits: compact.logitsRequest)).logits!
        let dOut = compact.backward(logits: logits, dSums: [0.5, -1.25, 2], dNLLSums: [0.75, 0, 0])
        var dIn = logits
        compact.backwardInPlace(logits: &dIn, dSums: [0.5, -1.25, 2], dNLLSums: [0.75, 0, 0])
        #expect(dIn.shape == dOut.shape && dIn.scalars == dOut.scalars)
    }

    /// loss = Σ_b w_b·sums[b] + Σ_b u_b·nllSums[b]; d loss/d logits against central differences.
    @Test("backward to the logits matches finite differences")
    func backward() {
        let nll = SequenceScoring.realTokenMask(Self.batch, rows: 0..<2)
        let scoring = SequenceScoring(batch: Self.batch, lossMask: SequenceScoring.completionMask(Self.batch, promptLengths: Self.prompts), nllMask: nll)
        let P = scoring.positions.count
        var logits = Tensor.randomNormal([3, P, Self.V], std: 1.5, seed: 3)
        let w = [0.7, -1.3, 0.4], u = [0.25, -0.5, 0.9]
        func loss(_ l: Tensor) -> Double {
            let s = scoring.logProbs(logits: l)
            return (0..<3).reduce(0.0) { $0 + w[$1] * s.sums[$1] + u[$1] * s.nllSums[$1] }
        }
        let d = scoring.backward(logits: logits, dSums: w, dNLLSums: u)
        #expect(d.shape == logits.shape)
        var worst = 0.0
        for i in 0..<logits.count {
            let keep = logits.scalars[i], h: Float = 1e-2
            logits.scalars[i] = keep + h; let up = loss(logits)
            logits.scalars[i] = keep - h; let down = loss(logits)
            logits.scalars[i] = keep
            let fd = (up - down) / Double(2 * h)
            worst = max(worst, abs(fd - Double(d.scalars[i])))
        }
        #expect(worst < 1e-3, "worst |backward − FD| \(worst)")
        print("sequence log-prob backward: worst FD error \(worst)")
    }
}
