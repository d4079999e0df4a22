/// The merge table of a BPE model, keyed by token ids: (left id, right id) → (rank, merged id).
///
/// Applying it follows HF `tokenizers` `models/bpe/word.rs` `Word::merge_all`: repeatedly merge the
/// adjacent pair with the lowest rank, the leftmost one on ties, until no adjacent pair has a rank.
/// (A merged token spells the bytes of its span, so stale heap entries in HF can never match a
/// different pair; the O(n²) scan below and the heap version therefore give identical results.)
package struct BPEMerges: Sendable {
    /// key = left << 32 | right; value = rank << 32 | merged id.
    private var table: [UInt64: UInt64] = [:]

    package init() {}

    package var count: Int { table.count }

    /// Adds a merge; a later duplicate of the same pair replaces the earlier one (as HF's HashMap
    /// collect and OpenAI's `dict(zip(merges, range))` do).
    package mutating func add(left: Int, right: Int, merged: Int, rank: Int) {
        table[Self.key(left, right)] = UInt64(rank) << 32 | UInt64(merged)
    }

    @inline(__always) private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }
    @inline(__always) private static func key(_ a: Int, _ b: Int) -> UInt64 { key(Int32(a), Int32(b)) }

    /// (rank, merged id) of the pair, if it is a merge.
    @inline(__always) package func lookup(_ a: Int32, _ b: Int32) -> (rank: UInt32, merged: Int32)? {
        guard let v = table[Self.key(a, b)] else { return nil }
        return (UInt32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v & 0xFFFF_FFFF))
    }

    /// Merges `symbols` in place. Short words use a direct scan; long ones a heap (HF's algorithm).
    package func apply(_ symbols: inout [Int32], heapThreshold: Int = 48) {
        if symbols.count < 2 { return }
        if symbols.count >= heapThreshold { applyWithHeap(&symbols); return }
        while symbols.count > 1 {
            var bestRank = UInt32.max, bestPos = -1, bestID: Int32 = 0
            for p in 0..<(symbols.count - 1) {
                if let m = lookup(symbols[p], symbols[p + 1]), m.rank < bestRank {
                    bestRank = m.rank; bestPos = p; bestID = m.merged
                }
            }
            if bestPos < 0 { return }
            symbols[bestPos] = bestID
            symbols.remove(at: bestPos + 1)
        }
    }

    /// HF's `merge_all`: a min-heap of (rank, position) over a doubly linked list of symbols;
    /// entries whose pair has changed since they were pushed are skipped.
    package func applyWithHeap(_ symbols: inout [Int32]) {
        let n = symbols.count
        if n < 2 { return }
        var prev = (0..<n).map { $0 - 1 }, next = (0..<n).map { $0 + 1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap()
        for p in 0..<(n - 1) {
            if let m = lookup(symbols[p], symbols[p + 1]) { heap.push(UInt64(m.rank) << 32 | UInt64(p)) }
        }
        while let top = heap.pop() {
            let rank = UInt32(top >> 32), p = Int(top & 0xFFFF_FFFF)
            guard alive[p], next[p] < n else { continue }
            let q = next[p]
            guard let m = lookup(symbols[p], symbols[q]), m.rank == rank else { continue }
            symbols[p] = m.merged
            alive[q] = false
            next[p] = next[q]
            if next[q] < n { prev[next[q]] = p }
            if prev[p] >= 0, let l = lookup(symbols[prev[p]], symbols[p]) {
                heap.push(UInt64(l.rank) << 32 | UInt64(prev[p]))
            }
            if next[p] < n, let r = lookup(symbols[p], symbols[next[p]]) {
                heap.push(UInt64(r.rank) << 32 | UInt64(p))
            }
        }
        var out: [Int32] = []
        out.reserveCapacity(n)
        var p = 0
        while p < n { out.append(symbols[p]); p = next[p] }
        symbols = out
    }
}

/// A binary min-heap of packed (rank, position) keys.
private struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l] < items[m] { m = l }
            if r < items.count, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}
