import IsaerftCore

/// Non-zero entries of `[n, d_sae]` latents in compressed-row form: row r holds the entries
/// `rowStart[r] ..< rowStart[r + 1]` of `columns` / `values`. SAE latents are sparse (an L0 of tens
/// out of 16k), so per-latent components work on these entries only.
public struct SparseLatents: Sendable, Equatable {
    public var rowCount: Int
    public var width: Int
    public var rowStart: [Int]      // [n + 1]
    public var columns: [Int32]     // [nnz]
    public var values: [Float]      // [nnz]

    public var nonZeroCount: Int { columns.count }

    /// The entries of `f` `[n, d]` that satisfy `keep`, in rows where `rowMask` (nil: every row) is true.
    public init(_ f: Tensor, rowMask: [Bool]?, keep: (Float) -> Bool = { $0 != 0 }) {
        let (n, d) = f.matrixShape
        rowCount = n; width = d
        rowStart = [Int](repeating: 0, count: n + 1)
        columns = []; values = []
        f.withUnsafeBufferPointer { p in
            for r in 0..<n {
                if rowMask?[r] ?? true {
                    let row = p.baseAddress! + r * d
                    for i in 0..<d where keep(row[i]) { columns.append(Int32(i)); values.append(row[i]) }
                }
                rowStart[r + 1] = columns.count
            }
        }
    }

    /// The same pattern with other values.
    public func with(values v: [Float]) -> SparseLatents {
        precondition(v.count == values.count, "SparseLatents.with: \(v.count) values for \(values.count) entries")
        var s = self; s.values = v; return s
    }

    /// The dense `[n, d]` tensor (tests, small sizes).
    public func dense() -> Tensor {
        var t = Tensor(shape: [rowCount, width])
        for r in 0..<rowCount { for k in rowStart[r]..<rowStart[r + 1] { t.scalars[r * width + Int(columns[k])] = values[k] } }
        return t
    }
}

/// `δ = φ(f) − f` of a component on `[n, d_sae]` latents, in the cheapest exact form for its kind.
/// Rows that are not listed (or have no entries) have δ = 0.
public enum LatentDelta: Sendable, Equatable {
    /// δ = 0 on every row (component off, or parameters that give no change).
    case zero
    /// The same `vector` `[d_sae]` on each of `rows` (bias on every position, mlp depth −1).
    case uniform(rows: [Int], vector: [Float])
    /// Entries on a sparse pattern (scale; bias on active latents only).
    case sparse(SparseLatents)
    /// `values` `[rows.count, d_sae]`, row i belonging to latent row `rows[i]` (mlp depth ≥ 0).
    case dense(rows: [Int], values: Tensor)

    /// The dense `[n, d]` δ (tests, small sizes).
    public func dense(rowCount n: Int, width d: Int) -> Tensor {
        var t = Tensor(shape: [n, d])
        switch self {
        case .zero: break
        case let .uniform(rows, v): for r in rows { for i in 0..<d { t.scalars[r * d + i] = v[i] } }
        case .sparse(let s): t = s.dense()
        case let .dense(rows, values): for (k, r) in rows.enumerated() { for i in 0..<d { t.scalars[r * d + i] = values.scalars[k * d + i] } }
        }
        return t
    }
}

/// `d loss / d δ` in the form the component's `LatentDelta` asks for.
public enum LatentDeltaGradient: Sendable, Equatable {
    case zero
    /// `Σ_{r ∈ rows} d loss/d δ_r` `[d_sae]` (a uniform δ only needs the sum over its rows).
    case rowSum([Float])
    /// d loss/d δ at the entries of the delta's sparse pattern (same order).
    case sparse([Float])
    /// `[rows.count, d_sae]`, rows as in the delta.
    case dense(Tensor)

    /// The gradient the form of `delta` needs, from a dense `g` `[n, d]` (tests, small sizes).
    public static func from(dense g: Tensor, for delta: LatentDelta) -> LatentDeltaGradient {
        let d = g.matrixShape.cols
        switch delta {
        case .zero: return .zero
        case let .uniform(rows, _):
            var s = [Float](repeating: 0, count: d)
            for r in rows { for i in 0..<d { s[i] += g.scalars[r * d + i] } }
            return .rowSum(s)
        case .sparse(let p):
            var v = [Float](repeating: 0, count: p.nonZeroCount)
            for r in 0..<p.rowCount { for k in p.rowStart[r]..<p.rowStart[r + 1] { v[k] = g.scalars[r * d + Int(p.columns[k])] } }
            return .sparse(v)
        case let .dense(rows, _):
            var t = Tensor(shape: [rows.count, d])
            for (k, r) in rows.enumerated() { for i in 0..<d { t.scalars[k * d + i] = g.scalars[r * d + i] } }
            return .dense(t)
        }
    }
}
