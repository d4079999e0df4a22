import Foundation
import IsaerftCore

/// A context window around one token where a latent fired (Neuronpedia `activations[]` item).
public struct LatentExample: Sendable, Equatable {
    /// Row of the corpus (Neuronpedia `dataIndex`).
    public var contextIndex: Int
    /// Position of the centre token in its row.
    public var position: Int
    /// The latent's activation at `position`.
    public var activation: Float
    /// Position in the row of `tokens[0]`.
    public var windowStart: Int
    /// Token ids of the window `[position − before, position + after]`, clipped to the row.
    public var tokens: [Int]
    /// The latent's activation at each window token (0 for excluded tokens such as BOS).
    public var activations: [Float]

    public init(contextIndex: Int, position: Int, activation: Float, windowStart: Int, tokens: [Int], activations: [Float]) {
        self.contextIndex = contextIndex; self.position = position; self.activation = activation
        self.windowStart = windowStart; self.tokens = tokens; self.activations = activations
    }

    /// Index of the centre token inside `tokens` (Neuronpedia `maxValueTokenIndex` for top examples).
    public var centreIndex: Int { position - windowStart }

    /// True when `self` ranks above `other`: higher activation, then earlier row, then earlier position.
    public func ranks(above other: LatentExample) -> Bool {
        if activation != other.activation { return activation > other.activation }
        if contextIndex != other.contextIndex { return contextIndex < other.contextIndex }
        return position < other.position
    }
}

/// Examples from one activation interval (SAEDashboard quantile group "INTERVAL a − b").
public struct QuantileGroup: Sendable, Equatable {
    /// Interval edges in activation units (`binMin`, `binMax`); the last interval includes `binMax`.
    public var lower: Float
    public var upper: Float
    /// Active tokens in the interval (`binContains` is `population / activeCount`).
    public var population: Int
    /// A uniform sample, highest activation first.
    public var examples: [LatentExample]
}

/// What one pass over a corpus found for one latent.
public struct LatentActivityReport: Sendable {
    public var latent: Int
    /// Tokens counted (excluded tokens such as BOS are not).
    public var tokenCount: Int
    /// Tokens with activation > 0.
    public var activeCount: Int
    /// `activeCount / tokenCount` (Neuronpedia `frac_nonzero`).
    public var density: Double { tokenCount == 0 ? 0 : Double(activeCount) / Double(tokenCount) }
    /// Largest activation seen (Neuronpedia `maxActApprox`), 0 when never active.
    public var maxActivation: Float
    /// Mean activation over active tokens.
    public var meanActive: Double
    /// Highest-activation examples, best first.
    public var top: [LatentExample]
    /// Intervals of `[0, maxActivation]`, lowest first.
    public var quantiles: [QuantileGroup]
    /// Counts of non-zero activations in equal bins over `[0, maxActivation]`.
    public var histogram: [Int]
    /// Bin edges of `histogram` (count + 1 values).
    public var histogramEdges: [Float] {
        (0...histogram.count).map { Float($0) * maxActivation / Float(max(histogram.count, 1)) }
    }
}

/// Settings of a top-examples pass (defaults: sae_vis / SAEDashboard, `analysis-and-dashboards.md` §1).
public struct TopExamplesConfiguration: Sendable {
    public var latents: [Int]
    /// Examples in the top group (20).
    public var topCount = 20
    /// Context tokens before and after the centre token (5, 5).
    public var windowBefore = 5
    public var windowAfter = 5
    /// Quantile groups × examples (10 × 5).
    public var quantileGroups = 10
    public var examplesPerQuantile = 5
    /// Histogram bins (50).
    public var histogramBins = 50
    /// Resolution of the streaming intervals (see `IntervalSampler`).
    public var fineBins = 512
    /// At most one top example per (latent, row): the row's maximum (Neuronpedia's per-sequence
    /// records). false: any tokens, as SAEDashboard's top-k over tokens.
    public var onePerContext = true
    /// Token ids left out of every statistic (BOS and other special tokens).
    public var excludedTokens: Set<Int> = []
    public var seed: UInt64 = 0

    public init(latents: [Int]) { self.latents = latents }
}

/// Collects, in one streaming pass with bounded memory, each chosen latent's top examples (a min-heap
/// of `topCount`), interval samples, histogram and density. Feed it rows with `add`, then read `reports()`.
///
/// Memory per latent: `topCount` examples, up to `fineBins × examplesPerQuantile` sampled examples
/// and `fineBins` counters, independent of the corpus size.
public struct LatentExampleCollector: Sendable {
    public let configuration: TopExamplesConfiguration
    var heaps: [MinHeap]
    var samplers: [IntervalSampler<LatentExample>]
    var tokenCount = 0
    var activeSums: [Double]
    /// Rows added so far (the next row's `contextIndex` when none is given).
    public private(set) var rowsSeen = 0

    public init(_ configuration: TopExamplesConfiguration) {
        self.configuration = configuration
        let n = configuration.latents.count
        heaps = [MinHeap](repeating: MinHeap(capacity: configuration.topCount), count: n)
        samplers = (0..<n).map { i in
            IntervalSampler(fineBins: configuration.fineBins, capacity: configuration.examplesPerQuantile,
                            seed: configuration.seed &+ UInt64(i) &* 0x9E37_79B9)
        }
        activeSums = [Double](repeating: 0, count: n)
    }

    /// Adds one row: its tokens `[T]` and SAE features `[T, d_sae]` (or `[1, T, d_sae]`).
    public mutating func add(tokens: [Int], features: Tensor, contextIndex: Int? = nil) {
        let t = tokens.count, d = features.shape.last ?? 0
        precondition(features.count == t * d, "LatentExampleCollector: features \(features.shape) for \(t) tokens")
        let row = contextIndex ?? rowsSeen
        rowsSeen += 1
        let c = configuration
        let counted = tokens.map { !c.excludedTokens.contains($0) }
        tokenCount += counted.filter { $0 }.count
        for (k, latent) in c.latents.enumerated() {
            precondition(latent >= 0 && latent < d, "LatentExampleCollector: latent \(latent) outside 0..<\(d)")
            let acts = (0..<t).map { p in counted[p] ? features.scalars[p * d + latent] : 0 }
            func example(_ p: Int) -> LatentExample {
                let lo = max(0, p - c.windowBefore), hi = min(t - 1, p + c.windowAfter)
                return LatentExample(contextIndex: row, position: p, activation: acts[p], windowStart: lo,
                                     tokens: Array(tokens[lo...hi]), activations: Array(acts[lo...hi]))
            }
            var rowBest: Int? = nil
            for p in 0..<t where acts[p] > 0 && acts[p].isFinite {
                activeSums[k] += Double(acts[p])
                samplers[k].add(acts[p]) { example(p) }
                if c.onePerContext {
                    if rowBest == nil || acts[p] > acts[rowBest!] { rowBest = p }
                } else {
                    heaps[k].offer(acts[p], row: row, position: p) { example(p) }
                }
            }
            if let p = rowBest { heaps[k].offer(acts[p], row: row, position: p) { example(p) } }
        }
    }

    /// One report per latent, in `configuration.latents` order.
    public func reports() -> [LatentActivityReport] {
        let c = configuration
        return c.latents.enumerated().map { k, latent in
            var sampler = samplers[k]
            let groups = sampler.intervalSamples(count: c.quantileGroups)
            let m = sampler.maximum
            let quantiles = groups.enumerated().map { g, group in
                QuantileGroup(lower: m * Float(g) / Float(c.quantileGroups), upper: m * Float(g + 1) / Float(c.quantileGroups),
                              population: group.population,
                              examples: group.items.sorted { $0.ranks(above: $1) })
            }
            return LatentActivityReport(latent: latent, tokenCount: tokenCount, activeCount: sampler.total, maxActivation: m,
                                        meanActive: sampler.total == 0 ? 0 : activeSums[k] / Double(sampler.total),
                                        top: heaps[k].sortedBestFirst(), quantiles: quantiles,
                                        histogram: sampler.histogram(bins: c.histogramBins))
        }
    }
}

/// A bounded min-heap of examples: the root is the lowest-ranked kept example.
struct MinHeap: Sendable {
    let capacity: Int
    var items: [LatentExample] = []

    init(capacity: Int) { self.capacity = capacity }

    /// Keeps the candidate when there is room or it ranks above the root; `make` runs only then.
    mutating func offer(_ activation: Float, row: Int, position: Int, make: () -> LatentExample) {
        guard capacity > 0 else { return }
        if items.count == capacity {
            let root = items[0]
            let above = activation != root.activation ? activation > root.activation
                : (row != root.contextIndex ? row < root.contextIndex : position < root.position)
            guard above else { return }
            items[0] = make()
            siftDown(0)
        } else {
            items.append(make())
            siftUp(items.count - 1)
        }
    }

    /// `a` belongs nearer the root than `b` (ranks lower).
    func lower(_ a: Int, _ b: Int) -> Bool { items[b].ranks(above: items[a]) }

    mutating func siftUp(_ i: Int) {
        var c = i
        while c > 0 {
            let p = (c - 1) / 2
            guard lower(c, p) else { return }
            items.swapAt(c, p); c = p
        }
    }

    mutating func siftDown(_ i: Int) {
        var p = i
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < items.count && lower(l, m) { m = l }
            if r < items.count && lower(r, m) { m = r }
            if m == p { return }
            items.swapAt(p, m); p = m
        }
    }

    func sortedBestFirst() -> [LatentExample] { items.sorted { $0.ranks(above: $1) } }
}
