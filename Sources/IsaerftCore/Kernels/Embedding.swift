/// Row gather: out[i] = table[ids[i]]. Matches `torch.nn.Embedding`.
/// Shapes: ids `[n]` (each in 0..<V, checked by the caller), table `[V, d]`, out `[n, d]`.
public func embeddingForward(out: inout Tensor, ids: [Int], table: Tensor) {
    let (v, d) = table.matrixShape
    precondition(out.shape == [ids.count, d], "embeddingForward: out \(out.shape), expected [\(ids.count), \(d)]")
    table.withUnsafeBufferPointer { pt in out.withUnsafeMutableBufferPointer { po in
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && id < v, "embeddingForward: id \(id) outside 0..<\(v)")
            (po.baseAddress! + i * d).update(from: pt.baseAddress! + id * d, count: d)
        }
    } }
}

/// Backward of `embeddingForward`: dTable[ids[i]] += dOut[i] (scatter-add).
public func embeddingBackward(dTable: inout Tensor, dOut: Tensor, ids: [Int]) {
    let (_, d) = dTable.matrixShape
    precondition(dOut.shape == [ids.count, d], "embeddingBackward: dOut \(dOut.shape)")
    for (i, id) in ids.enumerated() { for j in 0..<d { dTable.scalars[id * d + j] += dOut.scalars[i * d + j] } }
}
