import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftSAETraining

/// SAE training steps per second against PyTorch (plain and SAELens) on the same CPU.
struct BenchSAETrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae-train",
        abstract: "Time SAE training steps (forward, loss, backward, clipping, Adam) on random activations.",
        discussion: "With --torch-python, runs scripts/bench_sae_train_torch.py (plain PyTorch and SAELens' training class) in the same run and prints the ratios.")

    @Option(help: "Latents.") var dSae = 6144
    @Option(help: "Input width.") var dIn = 768
    @Option(help: "Activations per step.") var batch = 4096
    @Option(help: "standard, topk, batchtopk, jumprelu or gated.") var architecture = "topk"
    @Option(help: "k of topk / batchtopk.") var k = 32
    @Option(help: "Timed steps (the median is reported).") var repeats = 3
    @Option(name: .customLong("torch-python"), help: "A Python with torch (and sae_lens for the SAELens figure).")
    var torchPython: String?
    @Option(name: .customLong("torch-script"), help: "Path of bench_sae_train_torch.py.") var torchScript = "scripts/bench_sae_train_torch.py"
    @Option(help: "Threads for PyTorch.") var threads = 2
    @Flag(name: .customLong("no-saelens"), help: "Skip the SAELens training-class timing.") var noSAELens = false
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        try await reportingErrors {
            guard let arch = SAETrainingArchitecture(rawValue: architecture) else {
                throw ValidationError("unknown architecture \(architecture)")
            }
            let config = SAETrainingConfig(architecture: arch, dIn: dIn, dSAE: dSae, k: Double(k), l1Coefficient: 5)
            var sae = try TrainingSAE(config: config)
            let x = Tensor.randomNormal([batch, dIn], seed: 1)
            Output.progress("timing isaerft \(architecture) step…")
            var step = 0
            let seconds = try median(repeats) { _ = try sae.trainStep(x, step: step, totalSteps: 1_000_000); step += 1 }
            Output.endProgress()
            var result: [String: Any] = ["architecture": architecture, "d_in": dIn, "d_sae": dSae, "batch": batch, "k": k,
                                         "blas_core": BLAS.coreName, "seconds_per_step": seconds,
                                         "activations_per_s": Double(batch) / seconds]
            if let torchPython {
                Output.progress("timing PyTorch…")
                var args = [torchScript, "--architecture", architecture == "standard" ? "standard" : "topk",
                            "--d-in", "\(dIn)", "--d-sae", "\(dSae)", "--batch", "\(batch)", "--k", "\(k)",
                            "--repeats", "\(repeats)", "--threads", "\(threads)"]
                if noSAELens { args.append("--no-saelens") }
                let torch = try runScript(torchPython, args)
                Output.endProgress()
                result["torch"] = torch
                let ours = Double(batch) / seconds
                if let p = torch["plain_activations_per_s"] as? Double { result["ratio_vs_plain_torch"] = ours / p }
                if let s = torch["saelens_activations_per_s"] as? Double { result["ratio_vs_saelens"] = ours / s }
            }
            if json { Output.json(result); return }
            func f(_ v: Any?) -> String { (v as? Double).map { String(format: "%.0f", $0) } ?? "-" }
            Output.line("OpenBLAS core \(BLAS.coreName); \(architecture) d_in \(dIn) d_sae \(dSae) batch \(batch)\(arch == .topk || arch == .batchtopk ? " k \(k)" : "")")
            Output.line("isaerft:        \(f(Double(batch) / seconds)) activations/s (\(String(format: "%.3f", seconds)) s/step)")
            if let torch = result["torch"] as? [String: Any] {
                Output.line("PyTorch plain:  \(f(torch["plain_activations_per_s"])) activations/s  → ratio \(String(format: "%.2f", result["ratio_vs_plain_torch"] as? Double ?? 0))×")
                if torch["saelens_activations_per_s"] != nil {
                    Output.line("SAELens class:  \(f(torch["saelens_activations_per_s"])) activations/s  → ratio \(String(format: "%.2f", result["ratio_vs_saelens"] as? Double ?? 0))×")
                }
            }
        }
    }
}
