import IsaerftCore
import IsaerftModels

/// Which tokens of a batch are scored and which logits that needs, as TRL scores completions
/// (training-objectives.md §1): `logp(y|x) = Σ_{t ∈ completion} log softmax(logits[t − 1])[ids[t]]`,
/// a sum over the tokens of `lossMask` (TRL's `completion_mask` / `labels != -100`; prompt and
/// padding excluded), with the token counts for length-averaged losses.
///
/// An optional second mask (`nllMask`) scores another token set in the same pass, e.g. TRL ORPO's
/// chosen NLL, which runs over every real token of the chosen rows (prompt included).
///
/// The forward pass only needs the logits at `positions` (t − 1 for every scored token t, union
/// over rows); request them with `logitsRequest`, so `logits` is `[B, P, V]` with P = `positions.count`.
public struct SequenceScoring: Sendable, Equatable {
    public let batch: Int
    public let length: Int
    /// `[B][T]`: token t of row b is scored (t = 0 never is: nothing predicts it).
    public let lossMask: [[Bool]]
    /// `[B][T]` or nil: tokens of the second (NLL) set.
    public let nllMask: [[Bool]]?
    /// Logit positions needed, ascending.
    public let positions: [Int]
    /// Per logits row `b·P + j`: the token at `positions[j] + 1`, or −1 when neither mask scores it.
    /// In compact form: per requested row, its target.
    public let targets: [Int]
    /// The (row, position) each logits row belongs to, in logits order.
    let sources: [ScoredRow]
    /// Compact form: logits only at the scored positions of each row (`LogitsRequest.rows`).
    public let compact: Bool

    /// - Parameters:
    ///   - batch: the token ids (its padding mask is not consulted: masks say what is scored).
    ///   - allPositions: request every position's logits (e.g. to log `logits/chosen`).
    /// - Parameter compact: request logits only at each row's own scored positions (`[1, R, V]`,
    ///   R = scored tokens) instead of the union of positions over rows (`[B, P, V]`): less work for
    ///   large vocabularies when rows have different prompt lengths. Same log-probs and gradients.
    public init(batch: TokenBatch, lossMask: [[Bool]], nllMask: [[Bool]]? = nil, allPositions: Bool = false, compact: Bool = false) {
        let B = batch.batch, T = batch.length
        precondition(lossMask.count == B && lossMask.allSatisfy { $0.count == T }, "SequenceScoring: loss mask is not [\(B)][\(T)]")
        precondition(nllMask == nil || (nllMask!.count == B && nllMask!.allSatisfy { $0.count == T }), "SequenceScoring: nll mask is not [\(B)][\(T)]")
        self.batch = B; self.length = T; self.lossMask = lossMask; self.nllMask = nllMask
        func scored(_ b: Int, _ t: Int) -> Bool { t >= 1 && (lossMask[b][t] || (nllMask?[b][t] ?? false)) }
        var needed = [Bool](repeating: allPositions, count: T)
        for b in 0..<B { for t in 1..<max(T, 1) where scored(b, t) { needed[t - 1] = true } }
        positions = (0..<T).filter { needed[$0] }
        var targets: [Int] = [], sources: [ScoredRow] = []
        targets.reserveCapacity(B * positions.count)
        for b in 0..<B {
            for p in positions {
                let t = p + 1 < T && scored(b, p + 1) ? batch.ids[b][p + 1] : -1
                if compact && t < 0 { continue }
                targets.append(t); sources.append(ScoredRow(b: b, p: p))
            }
        }
        self.targets = targets; self.sources = sources; self.compact = compact
    }

    /// Scores the completion tokens `t ≥ promptLengths[b]` of each row that are real (not padding).
    public init(batch: TokenBatch, promptLengths: [Int], allPositions: Bool = false) {
        self.init(batch: batch, lossMask: Self.completionMask(batch, promptLengths: promptLengths), allPositions: allPositions)
    }

    /// `[B][T]`: real tokens at `t ≥ promptLengths[b]`.
    public static func completionMask(_ batch: TokenBatch, promptLengths: [Int]) -> [[Bool]] {
        precondition(promptLengths.count == batch.batch, "completionMask: \(promptLengths.count) prompt lengths for \(batch.batch) rows")
        return (0..<batch.batch).map { b in
            (0..<batch.length).map { t in t >= max(promptLengths[b], 1) && (batch.mask?[b][t] ?? true) }
        }
    }

    /// `[B][T]`: every real token at t ≥ 1 of the rows in `rows` (TRL ORPO's NLL labels:
    /// `input_ids` where `attention_mask == 1`, chosen rows only).
    public static func realTokenMask(_ batch: TokenBatch, rows: Range<Int>) -> [[Bool]] {
        (0..<batch.batch).map { b in (0..<batch.length).map { t in rows.contains(b) && t >= 1 && (batch.mask?[b][t] ?? true) } }
    }

    /// The logits to request from the forward pass (`.all` when every position is needed).
    public var logitsRequest: LogitsRequest {
        if compact { return .rows(sources.map { $0.b * length + $0.p }) }
        return positions.count == length ? .all : .positions(positions)
    }

    /// Per-row log-probs from `logits` `[B, P, V]` (or `[B·P, V]`).
    public func logProbs(logits: Tensor) -> SequenceLogProbs {
        let rows = sources.count
        let V = logits.count / max(rows, 1)
        precondition(logits.count == rows * V && rows > 0, "SequenceScoring.logProbs: logits \(logits.shape) for \(rows) scored rows")
        let nll = crossEntropyForward(logits: logits.reshaped([rows, V]), targets: targets)
        var out = SequenceLogProbs(batch: batch)
        out.tokenLogProbs = nll.map { -$0 }
        for (i, row) in sources.enumerated() where targets[i] >= 0 {
            let (b, p) = (row.b, row.p)
            let lp = Double(out.tokenLogProbs[i])
            if lossMask[b][p + 1] { out.sums[b] += lp; out.counts[b] += 1 }
            if nllMask?[b][p + 1] ?? false { out.nllSums[b] -= lp; out.nllCounts[b] += 1 }
        }
        return out
    }

    /// d loss/d logits (the shape of `logits`) from d loss/d `sums[b]` and, when there is an NLL
    /// mask, d loss/d `nllSums[b]`: row (b, t−1) gets `w·(onehot(ids[t]) − softmax)` with
    /// `w = dSums[b]·[t ∈ lossMask] − dNLLSums[b]·[t ∈ nllMask]`; unscored rows get 0.
    public func backward(logits: Tensor, dSums: [Double], dNLLSums: [Double]? = nil) -> Tensor {
        let rows = sources.count
        let V = logits.count / max(rows, 1)
        var d = Tensor(shape: [rows, V])
        crossEntropyBackward(dLogits: &d, dLoss: rowWeights(dSums: dSums, dNLLSums: dNLLSums), logits: logits.reshaped([rows, V]), targets: targets)
        return d.reshaped(logits.shape)
    }

    /// `backward` that turns `logits` itself into d loss/d logits (no second `[rows, V]` buffer;
    /// the same numbers bit for bit): for training steps, where the logits are not needed afterwards.
    public func backwardInPlace(logits: inout Tensor, dSums: [Double], dNLLSums: [Double]? = nil) {
        let rows = sources.count
        let shape = logits.shape
        logits = logits.reshaped([rows, logits.count / max(rows, 1)])
        crossEntropyBackwardInPlace(&logits, dLoss: rowWeights(dSums: dSums, dNLLSums: dNLLSums), targets: targets)
        logits = logits.reshaped(shape)
    }

    /// Per logits row, the weight of `softmax − onehot`: `−(dSums[b]·[t ∈ lossMask] − dNLLSums[b]·[t ∈ nllMask])`.
    func rowWeights(dSums: [Double], dNLLSums: [Double]?) -> [Float] {
        precondition(dSums.count == batch && (dNLLSums == nil || dNLLSums!.count == batch), "SequenceScoring.backward: gradients for \(batch) rows")
        var dLoss = [Float](repeating: 0, count: sources.count)
        for (i, row) in sources.enumerated() where targets[i] >= 0 {
            let (b, p) = (row.b, row.p)
            var w = 0.0
            if lossMask[b][p + 1] { w += dSums[b] }
            if nllMask?[b][p + 1] ?? false { w -= dNLLSums?[b] ?? 0 }
            dLoss[i] = Float(-w)   // crossEntropyBackward adds dLoss·(softmax − onehot)
        }
        return dLoss
    }
}

/// Where one logits row of a scored batch comes from: sequence `b`, position `p`.
struct ScoredRow: Sendable, Equatable {
    var b: Int
    var p: Int
}

/// Per-sequence log-probs of one scored batch.
public struct SequenceLogProbs: Sendable, Equatable {
    /// `Σ log p` over each row's `lossMask` tokens (TRL's summed sequence log-prob).
    public var sums: [Double]
    /// Tokens in each row's `lossMask` (for averages: `sums[b] / counts[b]`).
    public var counts: [Int]
    /// `Σ −log p` over each row's `nllMask` tokens (0 without an NLL mask).
    public var nllSums: [Double]
    public var nllCounts: [Int]
    /// log p per logits row `b·P + j` (0 where unscored).
    public var tokenLogProbs: [Float]

    init(batch: Int) {
        sums = Array(repeating: 0, count: batch); counts = Array(repeating: 0, count: batch)
        nllSums = Array(repeating: 0, count: batch); nllCounts = Array(repeating: 0, count: batch)
        tokenLogProbs = []
    }

    /// Given values (e.g. precomputed reference log-probs read back from a side file).
    public init(sums: [Double], counts: [Int], nllSums: [Double]? = nil, nllCounts: [Int]? = nil) {
        precondition(sums.count == counts.count, "SequenceLogProbs: \(sums.count) sums for \(counts.count) counts")
        self.sums = sums; self.counts = counts
        self.nllSums = nllSums ?? Array(repeating: 0, count: sums.count)
        self.nllCounts = nllCounts ?? Array(repeating: 0, count: sums.count)
        tokenLogProbs = []
    }

    /// `sums[b] / counts[b]` (0 for an empty row), TRL's `average_log_prob=True`.
    public var averages: [Double] { zip(sums, counts).map { $1 > 0 ? $0 / Double($1) : 0 } }

    /// Rows `range` (e.g. the chosen half `0..<B` of a `[chosen; rejected]` batch).
    public func rows(_ range: Range<Int>) -> SequenceLogProbs {
        var s = self
        s.sums = Array(sums[range]); s.counts = Array(counts[range])
        s.nllSums = Array(nllSums[range]); s.nllCounts = Array(nllCounts[range])
        s.tokenLogProbs = []
        return s
    }
}
