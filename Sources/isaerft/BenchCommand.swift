import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftModels

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks, side by side with PyTorch.",
        subcommands: [BenchForward.self, BenchModel.self, BenchSAETrain.self])
}

/// GPT-2-small-sized forward (and frozen backward to a hook) against transformers on the same CPU.
struct BenchForward: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Time a GPT-2-small-sized model (random fp32 weights): forward tokens/s and forward + frozen backward to a hook.",
        discussion: "With --torch-python, runs scripts/bench_forward_torch.py (transformers GPT2LMHeadModel) in the same run and prints the ratio.")

    @Option(help: "Sequences per batch.") var batch = 8
    @Option(help: "Tokens per sequence.") var seq = 128
    @Option(help: "Timed repetitions (the median is reported).") var repeats = 5
    @Option(help: "Blocks (12 = GPT-2 small).") var layers = 12
    @Option(help: "Width (768 = GPT-2 small).") var width = 768
    @Option(help: "The backward stops at blocks.L.hook_resid_post.") var hookLayer = 8
    @Option(name: .customLong("torch-python"), help: "A Python with torch and transformers; when given, the PyTorch figures are measured too.")
    var torchPython: String?
    @Option(name: .customLong("torch-script"), help: "Path of bench_forward_torch.py.") var torchScript = "scripts/bench_forward_torch.py"
    @Option(help: "Threads for PyTorch.") var threads = 2
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(name: .customLong("forward-only"), help: "Time the forward only (for profiling).") var forwardOnly = false

    func run() async throws {
        try await reportingErrors {
            let config = try GPT2Config(vocabSize: 50257, contextLength: 1024, width: width, layerCount: layers,
                                        headCount: max(1, width / 64))
            let model = GPT2Model(config: config, weights: .random(config, std: 0.02, seed: 1))
            var rng = SplitMix64(seed: 2)
            let ids = (0..<batch).map { _ in (0..<seq).map { _ in Int(rng.next() % 50257) } }
            let tb = TokenBatch(ids: ids)
            let tokens = Double(batch * seq)
            let hook = HookPoint.residPost(min(hookLayer, layers - 1))

            Output.progress("measuring sgemm peak…")
            let peak = sgemmPeakGFLOPS()
            Output.progress("timing forward…")
            let fwd = try median(repeats) { _ = try model.forward(tb) }
            Output.progress("timing forward + backward to \(hook)…")
            let fb = forwardOnly ? fwd : try median(repeats) {
                let out = try model.forward(tb, options: ForwardOptions(retainForBackward: true))
                let (_, d) = nextTokenLoss(logits: out.logits!, batch: tb)
                _ = try model.backward(out.activations!, dLogits: d, to: [hook])
            }
            Output.endProgress()
            let flops = forwardFLOPs(config, batch: batch, seq: seq)
            var result: [String: Any] = [
                "batch": batch, "seq": seq, "layers": layers, "width": width, "blas_core": BLAS.coreName,
                "sgemm_peak_gflops": peak,
                "forward_tokens_per_s": tokens / fwd, "forward_seconds": fwd,
                "forward_gflops": flops / fwd / 1e9, "forward_fraction_of_peak": flops / fwd / 1e9 / peak,
                "forward_backward_to_hook_tokens_per_s": tokens / fb, "hook": hook.description,
            ]
            if let torchPython {
                Output.progress("timing PyTorch…")
                let torch = try runTorch(torchPython)
                Output.endProgress()
                result["torch"] = torch
                if let tf = torch["forward_tokens_per_s"] as? Double { result["forward_ratio_vs_torch"] = tokens / fwd / tf }
                if let tb = torch["forward_backward_to_hook_tokens_per_s"] as? Double { result["forward_backward_ratio_vs_torch"] = tokens / fb / tb }
            }
            if json { Output.json(result); return }
            func f(_ x: Any?) -> String { (x as? Double).map { String(format: "%.1f", $0) } ?? "-" }
            Output.line("OpenBLAS core \(BLAS.coreName); sgemm peak \(f(peak)) GFLOP/s")
            Output.line("isaerft forward:                 \(f(tokens / fwd)) tokens/s (\(f(flops / fwd / 1e9)) GFLOP/s, \(String(format: "%.0f", 100 * flops / fwd / 1e9 / peak))% of peak)")
            Output.line("isaerft forward + backward to \(hook): \(f(tokens / fb)) tokens/s")
            if let torch = result["torch"] as? [String: Any] {
                Output.line("PyTorch \(torch["torch"] ?? "?") forward:                 \(f(torch["forward_tokens_per_s"])) tokens/s")
                Output.line("PyTorch forward + backward to hook: \(f(torch["forward_backward_to_hook_tokens_per_s"])) tokens/s")
                Output.line("ratio forward: \(String(format: "%.2f", result["forward_ratio_vs_torch"] as? Double ?? 0))×, forward + backward: \(String(format: "%.2f", result["forward_backward_ratio_vs_torch"] as? Double ?? 0))×")
            }
        }
    }

    func runTorch(_ python: String) throws -> [String: Any] {
        try runScript(python, [torchScript, "--json-only", "--batch", "\(batch)", "--seq", "\(seq)", "--repeats", "\(repeats)",
                               "--threads", "\(threads)", "--hook-layer", "\(hookLayer)"])
    }
}

/// Median wall time of `n` runs after one warm-up.
func median(_ n: Int, _ body: () throws -> Void) throws -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<max(1, n) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

/// Best of several 1024² × 1024 sgemms, in GFLOP/s.
func sgemmPeakGFLOPS() -> Double {
    let n = 1024
    let a = Tensor.randomNormal([n, n], seed: 1), b = Tensor.randomNormal([n, n], seed: 2)
    var c = Tensor(shape: [n, n])
    var best = Double.infinity
    for _ in 0..<8 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        matmul(a, b, into: &c)
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return 2 * Double(n * n * n) / best / 1e9
}

/// Matrix-product FLOPs of one forward pass (projections, attention as computed, the head).
func forwardFLOPs(_ c: GPT2Config, batch: Int, seq: Int) -> Double {
    let n = Double(batch * seq), d = Double(c.width), m = Double(c.mlpWidth)
    let perLayer = 2 * n * (3 * d * d + d * d + 2 * d * m) + 2 * 2 * Double(batch) * Double(seq * seq) * d
    return Double(c.layerCount) * perLayer + 2 * n * d * Double(c.vocabSize)
}
