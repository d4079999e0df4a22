import Foundation
import IsaerftCore

/// A seeded train/eval split: the indices are shuffled with Fisher–Yates driven by
/// `SplitMix64(seed)` (`j = next() % (i + 1)` for i from n−1 down to 1), the first
/// `round(evalFraction · n)` shuffled indices form the eval set, and both sets keep the original order.
/// The same seed, fraction and count always give the same split.
public func seededSplit<T>(_ items: [T], evalFraction: Double, seed: UInt64) -> (train: [T], eval: [T]) {
    let n = items.count
    let k = min(n, max(0, Int((evalFraction * Double(n)).rounded())))
    var order = Array(0..<n)
    var rng = SplitMix64(seed: seed)
    if n > 1 {
        for i in stride(from: n - 1, through: 1, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
    }
    let evalSet = Set(order.prefix(k))
    var train: [T] = [], eval: [T] = []
    for (i, item) in items.enumerated() { if evalSet.contains(i) { eval.append(item) } else { train.append(item) } }
    return (train, eval)
}
