import ArgumentParser
import Foundation
import IsaerftCore
import IsaerftModels

/// Prefill and decode speed of a real model (e.g. `--model gemma3-270m`) against transformers.
struct BenchModel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Time prefill (1×T and B×T, full and last-position logits) and KV-cache decode of a model.",
        discussion: "With --torch-python, runs scripts/bench_gemma3_torch.py (transformers, same shapes) and prints the ratios.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Tokens per sequence.") var seq = 128
    @Option(help: "Sequences in the batched prefill.") var batch = 8
    @Option(name: .customLong("new-tokens"), help: "Tokens generated in the decode measurement.") var newTokens = 32
    @Option(help: "Timed repetitions (median).") var repeats = 3
    @Option(name: .customLong("torch-python"), help: "A Python with torch and transformers (and gguf) for the side-by-side figures.")
    var torchPython: String?
    @Option(name: .customLong("torch-script"), help: "The PyTorch benchmark script.") var torchScript = "scripts/bench_gemma3_torch.py"
    @Flag(help: "Print one JSON object.") var json = false

    func run() async throws {
        try await reportingErrors {
            let loaded = try await modelOptions.load()
            let model = loaded.model
            var rng = SplitMix64(seed: 3)
            func ids(_ b: Int) -> TokenBatch {
                TokenBatch(ids: (0..<b).map { _ in (0..<seq).map { _ in Int(rng.next() % UInt64(min(model.vocabularySize, 200_000))) } })
            }
            let one = ids(1), many = ids(batch)
            Output.progress("prefill 1×\(seq)…")
            let t1 = try median(repeats) { _ = try model.forward(one) }
            let t1last = try median(repeats) { _ = try model.forward(one, options: ForwardOptions(logits: .lastPosition)) }
            Output.progress("prefill \(batch)×\(seq)…")
            let tB = try median(repeats) { _ = try model.forward(many) }
            let tBlast = try median(repeats) { _ = try model.forward(many, options: ForwardOptions(logits: .lastPosition)) }
            Output.progress("decode…")
            let prompt = Array(one.ids[0].prefix(16))
            let td = try median(max(1, repeats - 1)) { _ = try model.generate(prompt: prompt, maxNewTokens: newTokens) }
            let tp = try median(max(1, repeats - 1)) { _ = try model.generate(prompt: prompt, maxNewTokens: 1) }
            Output.endProgress()
            var r: [String: Any] = [
                "model": loaded.spec, "seq": seq, "batch": batch, "blas_core": BLAS.coreName,
                "prefill_1_full_logits_tokens_per_s": Double(seq) / t1,
                "prefill_1_last_logits_tokens_per_s": Double(seq) / t1last,
                "prefill_batch_full_logits_tokens_per_s": Double(batch * seq) / tB,
                "prefill_batch_last_logits_tokens_per_s": Double(batch * seq) / tBlast,
                "decode_tokens_per_s": Double(newTokens - 1) / max(td - tp, 1e-9),
            ]
            if let torchPython {
                Output.progress("timing PyTorch…")
                let torch = try runScript(torchPython, [torchScript, "--json-only", "--seq", "\(seq)", "--batches", "1,\(batch)",
                                                        "--new", "\(newTokens)", "--repeats", "\(repeats)"])
                Output.endProgress()
                r["torch"] = torch
                let prefill = torch["prefill"] as? [String: Any] ?? [:]
                func tps(_ shape: String, _ kind: String) -> Double? {
                    ((prefill[shape] as? [String: Any])?[kind] as? [String: Any])?["tokens_per_s"] as? Double
                }
                let pairs: [(String, Double?)] = [
                    ("prefill_1_full_logits_tokens_per_s", tps("1x\(seq)", "full_logits")),
                    ("prefill_1_last_logits_tokens_per_s", tps("1x\(seq)", "logits_to_keep_1")),
                    ("prefill_batch_full_logits_tokens_per_s", tps("\(batch)x\(seq)", "full_logits")),
                    ("prefill_batch_last_logits_tokens_per_s", tps("\(batch)x\(seq)", "logits_to_keep_1")),
                    ("decode_tokens_per_s", (torch["decode"] as? [String: Any])?["tokens_per_s"] as? Double),
                ]
                for (key, theirs) in pairs {
                    if let a = r[key] as? Double, let b = theirs, b > 0 { r["torch_" + key] = b; r["ratio_" + key] = a / b }
                }
            }
            if json { Output.json(r); return }
            for k in r.keys.sorted() where !(r[k] is [String: Any]) {
                let v = r[k]!
                Output.line("\(k): " + ((v as? Double).map { String(format: "%.2f", $0) } ?? "\(v)"))
            }
        }
    }
}

/// Runs a Python benchmark script and parses the last stdout line as a JSON object.
func runScript(_ python: String, _ args: [String]) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
          let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw ValidationError("the PyTorch benchmark (\(python) \(args.first ?? "")) failed with status \(p.terminationStatus)")
    }
    return obj
}
