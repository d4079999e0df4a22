import CKernels

/// The one pool of threads for the kernels and the split BLAS products (`BLAS.gemm`; OpenBLAS itself
/// runs single-threaded). Chunks run on the caller and on `coreCount − 1` workers that spin briefly
/// between jobs (`CKernels/pool.c`).
public enum Parallel {
    /// Worker count: `ISAERFT_THREADS` when set, else the active cores.
    public static let coreCount: Int = {
        if let v = ProcessInfo.processInfo.environment["ISAERFT_THREADS"], let n = Int(v), n > 0 { return n }
        return max(1, ProcessInfoShim.activeProcessorCount)
    }()

    /// Whether the calling thread is running a chunk of `forEach`.
    public static var isInsideChunk: Bool { isa_parallel_depth_add(0) > 0 }

    /// Runs `body` over `0..<n` split into at most `coreCount` contiguous ranges, in parallel when
    /// the work (`n × costPerItem` scalar operations) is large enough to pay for the hand-off.
    /// A call made inside a chunk runs serially on that worker (no nested fan-out).
    public static func forEach(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let chunks = min(coreCount, n)
        if chunks <= 1 || n * costPerItem < 32_768 || isInsideChunk {
            if n > 0 { body(0..<n) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            // The chunks write disjoint rows; the caller's closure is not Sendable by type only.
            var job = ChunkJob(body: escapable, n: n, chunks: chunks)
            withUnsafeMutablePointer(to: &job) { ptr in
                isa_pool_run(chunks, Int32(coreCount - 1), { ctx, c in
                    let job = ctx!.assumingMemoryBound(to: ChunkJob.self)
                    let n = job.pointee.n, chunks = job.pointee.chunks
                    let lo = n * c / chunks, hi = n * (c + 1) / chunks
                    if lo < hi { job.pointee.body(lo..<hi) }
                }, ptr)
            }
        }
    }
}

/// One `forEach` call as the C pool sees it.
private struct ChunkJob {
    let body: (Range<Int>) -> Void
    let n: Int
    let chunks: Int
}

import Foundation
enum ProcessInfoShim {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
