import IsaerftCore

/// Which examples each micro-batch reads: a pure function of (seed, micro-batch index), so a
/// resumed run reads exactly what the uninterrupted run would have read, with no sampler state.
///
/// Each epoch shuffles the examples (SplitMix64 seeded by seed and epoch), sorts each window of
/// 8 batches by length and cuts it into batches — similar lengths share a batch, so little is
/// padded (HF `group_by_length`) — then shuffles the batch order.
struct BatchPlan {
    let lengths: [Int]
    let batchSize: Int
    let seed: UInt64

    var batchesPerEpoch: Int { (lengths.count + batchSize - 1) / batchSize }

    func batch(_ micro: Int) -> [Int] {
        let perEpoch = batchesPerEpoch
        return epoch(micro / perEpoch)[micro % perEpoch]
    }

    func epoch(_ e: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed &+ 0x9E37_79B9 &* UInt64(e + 1))
        var order = Array(lengths.indices)
        shuffle(&order, &rng)
        var batches: [[Int]] = []
        let window = batchSize * 8
        for lo in stride(from: 0, to: order.count, by: window) {
            let chunk = order[lo..<min(lo + window, order.count)].sorted { (lengths[$0], $0) > (lengths[$1], $1) }
            for b in stride(from: 0, to: chunk.count, by: batchSize) {
                batches.append(Array(chunk[(chunk.startIndex + b)..<min(chunk.startIndex + b + batchSize, chunk.endIndex)]))
            }
        }
        shuffle(&batches, &rng)
        return batches
    }

    private func shuffle<T>(_ a: inout [T], _ rng: inout SplitMix64) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
    }
}
