import Foundation
import IsaerftCore

/// Streaming activation histogram and per-interval reservoir samples for one latent, in bounded
/// memory and one pass, so quantile groups (SAEDashboard's interval sampling) can be cut at
/// fractions of the final maximum without knowing it in advance.
///
/// Positive values fall into `fineBins` equal bins over `[0, R)`; `R` starts as the smallest power
/// of two above the first value and doubles (merging bin pairs, counts added, reservoirs merged
/// uniformly) whenever a value reaches it, so `R < 2·max` once anything was added. Each fine bin
/// keeps a uniform reservoir of up to `capacity` items (Vitter's algorithm R). Coarse bins of the
/// final `[0, max]` are assembled from whole fine bins by their centres: a value is misplaced only
/// within one fine-bin width of a coarse edge (`R/fineBins < 2·max/fineBins`, 0.4 % of the maximum
/// with the default 512). Counts are exact; samples are uniform within each assembled interval.
public struct IntervalSampler<Item: Sendable>: Sendable {
    public let fineBins: Int
    public let capacity: Int
    /// `R`: the fine bins cover `[0, R)` (nil before the first value).
    public private(set) var range: Float?
    public private(set) var counts: [Int]
    var reservoirs: [[Item]]
    public private(set) var maximum: Float = 0
    public private(set) var total = 0
    var rng: SplitMix64

    public init(fineBins: Int = 512, capacity: Int, seed: UInt64) {
        precondition(fineBins >= 2 && fineBins % 2 == 0, "IntervalSampler: fineBins must be even and ≥ 2")
        self.fineBins = fineBins; self.capacity = capacity
        counts = [Int](repeating: 0, count: fineBins)
        reservoirs = [[Item]](repeating: [], count: fineBins)
        rng = SplitMix64(seed: seed)
    }

    /// Adds a positive, finite value; `item` is built only when the reservoir keeps it.
    public mutating func add(_ value: Float, item: () -> Item) {
        precondition(value > 0 && value.isFinite, "IntervalSampler.add: \(value) is not a positive finite value")
        if range == nil { range = Float(pow(2, log2(Double(value)).rounded(.down) + 1)) }   // a power of two > value
        while value >= range! { doubleRange() }
        maximum = max(maximum, value)
        total += 1
        let j = min(fineBins - 1, Int(value / range! * Float(fineBins)))
        counts[j] += 1
        if reservoirs[j].count < capacity {
            reservoirs[j].append(item())
        } else {
            let r = Int(rng.next() % UInt64(counts[j]))
            if r < capacity { reservoirs[j][r] = item() }
        }
    }

    /// Halves the resolution: fine bin j ← bins 2j and 2j+1.
    mutating func doubleRange() {
        let half = fineBins / 2
        for j in 0..<half {
            let (a, b) = (2 * j, 2 * j + 1)
            reservoirs[j] = Self.merge(reservoirs[a], population: counts[a], reservoirs[b], population: counts[b],
                                       capacity: capacity, rng: &rng)
            counts[j] = counts[a] + counts[b]
        }
        for j in half..<fineBins { counts[j] = 0; reservoirs[j] = [] }
        range! *= 2
    }

    /// A uniform sample of up to `capacity` from the union of two populations, given uniform samples
    /// of each (`a` of `na` items, `b` of `nb`). How many come from each side follows the
    /// hypergeometric law (drawn slot by slot), then that many are drawn from each sample.
    static func merge(_ a: [Item], population na: Int, _ b: [Item], population nb: Int, capacity: Int,
                      rng: inout SplitMix64) -> [Item] {
        if nb == 0 { return a }
        if na == 0 { return b }
        let k = min(capacity, na + nb)
        var ra = na, rb = nb, fromA = 0
        for _ in 0..<k {
            if Int(rng.next() % UInt64(ra + rb)) < ra { fromA += 1; ra -= 1 } else { rb -= 1 }
        }
        return Self.choose(a, fromA, &rng) + Self.choose(b, k - fromA, &rng)
    }

    /// `n` items drawn without replacement (partial Fisher–Yates), in their original order.
    static func choose(_ items: [Item], _ n: Int, _ rng: inout SplitMix64) -> [Item] {
        precondition(n <= items.count, "IntervalSampler: drawing \(n) from a sample of \(items.count)")
        if n == items.count { return items }
        var idx = Array(items.indices)
        for i in 0..<n { idx.swapAt(i, i + Int(rng.next() % UInt64(idx.count - i))) }
        return idx.prefix(n).sorted().map { items[$0] }
    }

    /// Which of `count` equal intervals of `[0, maximum]` fine bin `j` belongs to (by its centre).
    func interval(ofFineBin j: Int, count: Int) -> Int {
        guard let range, maximum > 0 else { return 0 }
        let centre = (Float(j) + 0.5) * range / Float(fineBins)
        return min(count - 1, max(0, Int(centre / maximum * Float(count))))
    }

    /// Counts in `count` equal bins over `[0, maximum]` (SAEDashboard's histogram of non-zero activations).
    public func histogram(bins count: Int) -> [Int] {
        var out = [Int](repeating: 0, count: count)
        for j in 0..<fineBins where counts[j] > 0 { out[interval(ofFineBin: j, count: count)] += counts[j] }
        return out
    }

    /// For each of `count` equal intervals of `[0, maximum]`: its population and a uniform sample of
    /// up to `capacity` items (fine-bin reservoirs merged by their populations).
    public mutating func intervalSamples(count: Int) -> [(population: Int, items: [Item])] {
        var out = [(population: Int, items: [Item])](repeating: (0, []), count: count)
        for j in 0..<fineBins where counts[j] > 0 {
            let g = interval(ofFineBin: j, count: count)
            out[g].items = Self.merge(out[g].items, population: out[g].population, reservoirs[j], population: counts[j],
                                      capacity: capacity, rng: &rng)
            out[g].population += counts[j]
        }
        return out
    }
}
