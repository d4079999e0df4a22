import IsaerftCore

/// How the next token is chosen from a row of logits. Matches HF `generate`'s logits warpers:
/// temperature, then top-k, then top-p (nucleus, keeping at least one token), then sampling;
/// temperature 0 is greedy argmax (first index on ties, as `torch.argmax`).
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float
    public var topK: Int?
    public var topP: Float?
    public var seed: UInt64

    public init(temperature: Float = 0, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.seed = seed
    }

    public static let greedy = SamplingParameters()
}

/// Picks tokens from logits with a seeded generator.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    var rng: SplitMix64

    public init(_ p: SamplingParameters) { parameters = p; rng = SplitMix64(seed: p.seed) }

    public mutating func next(_ logits: ArraySlice<Float>) -> Int {
        let row = Array(logits)
        if parameters.temperature <= 0 { return argmax(row) }
        var scaled = row.map { $0 / parameters.temperature }
        var order = Array(0..<scaled.count)
        order.sort { scaled[$0] > scaled[$1] || (scaled[$0] == scaled[$1] && $0 < $1) }
        var keep = order.count
        if let k = parameters.topK, k > 0 { keep = min(keep, k) }
        // Probabilities over the kept candidates, in descending order.
        let top = scaled[order[0]]
        var probs = order.prefix(keep).map { Double(FastMath.exp(scaled[$0] - top)) }
        var total = probs.reduce(0, +)
        if let p = parameters.topP, p < 1 {
            var cum = 0.0, cut = probs.count
            for (i, q) in probs.enumerated() {
                cum += q / total
                if cum >= Double(p) { cut = i + 1; break }
            }
            probs = Array(probs.prefix(max(1, cut)))
            total = probs.reduce(0, +)
        }
        var u = Double(rng.next() >> 11) * 0x1p-53 * total
        for (i, q) in probs.enumerated() {
            u -= q
            if u < 0 { return order[i] }
        }
        scaled.removeAll()
        return order[probs.count - 1]
    }
}

/// Index of the largest value; the first on ties (as `torch.argmax`).
public func argmax(_ row: [Float]) -> Int {
    var best = 0
    for i in 1..<row.count where row[i] > row[best] { best = i }
    return best
}
