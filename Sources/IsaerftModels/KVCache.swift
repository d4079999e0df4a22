import IsaerftCore

/// Keys and values of every layer for the positions seen so far, per batch row, for incremental
/// decoding. Positions and the padding mask continue across calls (HF `generate` semantics).
public struct KVCache: Sendable {
    /// Positions already cached (the same for every row; padding counts as a position).
    public internal(set) var length: Int = 0
    /// Next position id per row (real tokens seen so far).
    var nextPosition: [Int]
    /// Key mask per row over every cached position and the current call's.
    var mask: [[Bool]]
    /// [layer][row] → flat `[length, width]` keys and values.
    var keys: [[[Float]]]
    var values: [[[Float]]]

    public init(layers: Int, batch: Int) {
        nextPosition = [Int](repeating: 0, count: batch)
        mask = [[Bool]](repeating: [], count: batch)
        keys = [[[Float]]](repeating: [[Float]](repeating: [], count: batch), count: layers)
        values = keys
    }

    mutating func appendMask(_ m: [Bool], batch: Int, length t: Int) {
        for b in 0..<batch { mask[b] += m[(b * t)..<((b + 1) * t)] }
    }

    /// The flattened key mask `[batch · (length + current)]`, or nil when every key is real.
    var keyMaskIfNeeded: [Bool]? {
        mask.allSatisfy({ $0.allSatisfy { $0 } }) ? nil : mask.flatMap { $0 }
    }

    /// Appends this call's `[B·T, width]` keys and values to layer `l` and returns all of them as
    /// `[B·(length + T), width]`, rows grouped by batch row.
    mutating func append(layer l: Int, k: Tensor, v: Tensor, batch: Int, length t: Int) -> (Tensor, Tensor) {
        let w = k.matrixShape.cols
        for b in 0..<batch {
            keys[l][b] += k.scalars[(b * t * w)..<((b + 1) * t * w)]
            values[l][b] += v.scalars[(b * t * w)..<((b + 1) * t * w)]
        }
        let total = length + t
        if batch == 1 { return (Tensor(shape: [total, w], scalars: keys[l][0]), Tensor(shape: [total, w], scalars: values[l][0])) }
        return (Tensor(shape: [batch * total, w], scalars: keys[l].flatMap { $0 }),
                Tensor(shape: [batch * total, w], scalars: values[l].flatMap { $0 }))
    }
}
