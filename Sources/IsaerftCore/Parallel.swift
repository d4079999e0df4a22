import CKernels
import Dispatch

/// How many worker chunks the element-wise kernels split their rows into.
/// Read once; BLAS has its own thread pool (OpenBLAS pthreads) and is never called from these chunks
/// with large shapes, so the two pools do not oversubscribe the cores.
public enum Parallel {
    /// Worker count for element-wise kernels: `ISAERFT_THREADS` when set, else the active cores.
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
            nonisolated(unsafe) let work = escapable
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                guard lo < hi else { return }
                isa_parallel_depth_add(1)
                work(lo..<hi)
                isa_parallel_depth_add(-1)
            }
        }
    }
}

import Foundation
enum ProcessInfoShim {
    static var activeProcessorCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
