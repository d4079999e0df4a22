import IsaerftCore

/// Row-compressed sparse activations: row r owns entries `rowStart[r] ..< rowStart[r+1]`.
struct SparseRows: Sendable {
    var rowStart: [Int] = [0]
    var cols: [Int32] = []
    /// The selected pre-activation (topk: h, ReLU applied by the caller; aux-k: h itself).
    var vals: [Float] = []
    /// Per-entry gradient of the loss with respect to the decoder coefficient (filled by the backward).
    var grads: [Float] = []

    var rows: Int { rowStart.count - 1 }
    var count: Int { cols.count }
}

/// The `k` largest values of `row[candidates[t]]` (or of `row[0..<m]` when `candidates` is nil),
/// unordered, written to `outCols` / `outVals` (`k` entries). A binary min-heap: one comparison per
/// value once the heap is full. Ties keep the earlier index.
@inline(__always)
func topKOfRow(_ row: UnsafePointer<Float>, m: Int, candidates: UnsafePointer<Int32>?, candidateCount: Int, k: Int,
               outCols: UnsafeMutablePointer<Int32>, outVals: UnsafeMutablePointer<Float>) {
    let total = candidates == nil ? m : candidateCount
    precondition(k <= total, "topKOfRow: k \(k) > \(total) candidates")
    @inline(__always) func idx(_ t: Int) -> Int32 { candidates.map { $0[t] } ?? Int32(t) }
    // Fill and heapify.
    for t in 0..<k { let j = idx(t); outCols[t] = j; outVals[t] = row[Int(j)] }
    @inline(__always) func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var s = i
            if l < k && outVals[l] < outVals[s] { s = l }
            if r < k && outVals[r] < outVals[s] { s = r }
            if s == i { return }
            outVals.swapAt(i, s); outCols.swapAt(i, s)
            i = s
        }
    }
    var i = k / 2 - 1
    while i >= 0 { siftDown(i); i -= 1 }
    var minV = outVals[0]
    if candidates == nil {
        // Dense row: skip 16 values at a time while none beats the heap's minimum.
        var t = firstGreater(row, from: k, count: m, than: minV)
        while t < m {
            outVals[0] = row[t]; outCols[0] = Int32(t); siftDown(0); minV = outVals[0]
            t = firstGreater(row, from: t + 1, count: m, than: minV)
        }
        return
    }
    for t in k..<total {
        let j = idx(t)
        let v = row[Int(j)]
        if v > minV { outVals[0] = v; outCols[0] = j; siftDown(0); minV = outVals[0] }
    }
}

extension UnsafeMutablePointer {
    @inline(__always) func swapAt(_ a: Int, _ b: Int) { let t = self[a]; self[a] = self[b]; self[b] = t }
}

/// Per-row top-k of `h` `[n, m]` (over `candidates` when given): SAELens `TopK` / `calculate_topk_aux_acts`
/// selection (`torch.topk(…, sorted=False)`; order differs, the set is the same without ties).
func selectTopKPerRow(_ h: Tensor, k: Int, candidates: [Int32]?, into s: inout SparseRows) {
    let (n, m) = h.matrixShape
    s.rowStart = (0...n).map { $0 * k }
    if s.cols.count != n * k { s.cols = [Int32](repeating: 0, count: n * k); s.vals = [Float](repeating: 0, count: n * k) }
    let cand = candidates ?? []
    h.withUnsafeBufferPointer { hp in s.cols.withUnsafeMutableBufferPointer { cp in s.vals.withUnsafeMutableBufferPointer { vp in
        cand.withUnsafeBufferPointer { candP in
            let hb = hp.baseAddress!, cb = cp.baseAddress!, vb = vp.baseAddress!
            let candBase = candidates == nil ? nil : candP.baseAddress
            Parallel.forEach(n, costPerItem: candidates?.count ?? m) { rows in
                for r in rows {
                    topKOfRow(hb + r * m, m: m, candidates: candBase, candidateCount: cand.count, k: k,
                              outCols: cb + r * k, outVals: vb + r * k)
                }
            }
        }
    } } }
}

/// BatchTopK selection (SAELens `BatchTopK`): the `count` largest values of `ReLU(h)` over the whole
/// batch. Values are ranked by the bits of their float pattern (monotone for positive floats): a
/// 65,536-bin histogram of the high 16 bits finds the bin of the cut-off, which is then sorted.
/// Entries equal to the cut-off are all kept (a tie exactly at the cut-off selects a few more than
/// `count`; torch keeps an arbitrary subset). Zeros are never selected (they decode to nothing and
/// pass no gradient). Returns the smallest selected value (0 when nothing is positive).
func selectBatchTopK(_ h: Tensor, count: Int, into s: inout SparseRows) -> Float {
    let (n, m) = h.matrixShape
    let chunks = max(1, min(Parallel.coreCount, n))
    var hist = [Int32](repeating: 0, count: chunks << 16)
    h.withUnsafeBufferPointer { hp in hist.withUnsafeMutableBufferPointer { histP in
        let hb = UnsafeRawPointer(hp.baseAddress!).assumingMemoryBound(to: UInt32.self), hs = histP.baseAddress!
        Parallel.forEach(chunks, costPerItem: 1 << 30) { cs in
            for c in cs {
                let lo = n * c / chunks * m, hi = n * (c + 1) / chunks * m
                let local = hs + (c << 16)
                for i in lo..<hi {
                    let b = hb[i]
                    if b & 0x8000_0000 == 0 && b != 0 { local[Int(b >> 16)] += 1 }   // positive floats only
                }
            }
        }
    } }
    var merged = [Int](repeating: 0, count: 1 << 16)
    for c in 0..<chunks { for b in 0..<(1 << 16) { merged[b] += Int(hist[(c << 16) + b]) } }
    let positives = merged.reduce(0, +)
    var cutoff: Float = 0
    if positives > count, count > 0 {
        var above = 0, bin = (1 << 16) - 1
        while above + merged[bin] < count { above += merged[bin]; bin -= 1 }
        var inBin: [Float] = []
        inBin.reserveCapacity(merged[bin])
        h.withUnsafeBufferPointer { hp in
            let hb = UnsafeRawPointer(hp.baseAddress!).assumingMemoryBound(to: UInt32.self)
            for i in 0..<(n * m) where hb[i] >> 16 == UInt32(bin) && hb[i] & 0x8000_0000 == 0 { inBin.append(hp[i]) }
        }
        inBin.sort(by: >)
        cutoff = inBin[count - above - 1]
    } else {
        cutoff = count > 0 ? .leastNonzeroMagnitude : .infinity   // all positives, or nothing
    }
    // Rows: count, prefix, fill.
    var perRow = [Int](repeating: 0, count: n)
    h.withUnsafeBufferPointer { hp in perRow.withUnsafeMutableBufferPointer { pr in
        let hb = hp.baseAddress!, prb = pr.baseAddress!
        Parallel.forEach(n, costPerItem: m) { rows in
            for r in rows { var c = 0; let row = hb + r * m; for j in 0..<m where row[j] >= cutoff && row[j] > 0 { c += 1 }; prb[r] = c }
        }
    } }
    s.rowStart = [Int](repeating: 0, count: n + 1)
    for r in 0..<n { s.rowStart[r + 1] = s.rowStart[r] + perRow[r] }
    let total = s.rowStart[n]
    s.cols = [Int32](repeating: 0, count: total); s.vals = [Float](repeating: 0, count: total)
    var smallest = Float.infinity
    h.withUnsafeBufferPointer { hp in s.cols.withUnsafeMutableBufferPointer { cp in s.vals.withUnsafeMutableBufferPointer { vp in
        s.rowStart.withUnsafeBufferPointer { rs in
            let hb = hp.baseAddress!, cb = cp.baseAddress!, vb = vp.baseAddress!, rsb = rs.baseAddress!
            Parallel.forEach(n, costPerItem: m) { rows in
                for r in rows {
                    var o = rsb[r]
                    let row = hb + r * m
                    for j in 0..<m where row[j] >= cutoff && row[j] > 0 { cb[o] = Int32(j); vb[o] = row[j]; o += 1 }
                }
            }
        }
    } } }
    for v in s.vals { smallest = min(smallest, v) }
    return total == 0 ? 0 : smallest
}
