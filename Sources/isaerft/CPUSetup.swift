import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) misdetects recent Xeons as "Prescott" and runs about five
/// times below peak. It reads `OPENBLAS_CORETYPE` once, when the library loads, so the choice has to
/// be made before: when the variable is unset and the CPU has AVX-512 (or AVX2), set it and re-execute
/// this same binary. Never forces an AVX-512 core on a CPU without AVX-512.
enum CPUSetup {
    static func chooseBLASCoreAndReexecIfNeeded() {
        #if os(Linux)
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["ISAERFT_NO_REEXEC"] == nil,
              let core = preferredCore() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("ISAERFT_NO_REEXEC", "1", 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        execv("/proc/self/exe", &cargs)
        // execv returned: keep going with the detected core.
        #endif
    }

    /// Activations and logits are large arrays allocated and freed every pass. glibc serves blocks above
    /// its mmap threshold (at most 32 MB) with fresh mappings, so every pass paid a page fault per 4 KB
    /// (≈ 4% of a GPT-2 forward). Keep them in the heap and do not hand freed memory back.
    static func keepLargeAllocations() {
        isa_keep_large_allocations()
    }

    /// "SKYLAKEX" with AVX-512 F/BW/VL/DQ, "HASWELL" with AVX2 + FMA, else nil (let OpenBLAS decide).
    static func preferredCore() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(flags.contains) { return "SKYLAKEX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "HASWELL" }
        return nil
    }
}
