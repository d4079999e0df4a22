import ArgumentParser
import Foundation
import IsaerftModels

/// Writes a GPT-2 folder with seeded random weights (for trying pipelines without a download).
struct MakeRandomModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-random-model",
        abstract: "Write a GPT-2 model folder (config.json + model.safetensors) with seeded random weights.")

    @Option(help: "Output folder.") var output: String
    @Option(help: "Blocks.") var layers = 2
    @Option(help: "Width (n_embd).") var width = 128
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Vocabulary size (50257 fits the GPT-2 tokenizer).") var vocab = 50257
    @Option(help: "Context length.") var context = 256
    @Option(help: "Standard deviation of the weights.") var std: Float = 0.1
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(name: .customLong("tokenizer-from"), help: "Copy tokenizer files (tokenizer.json, vocab.json, merges.txt, tokenizer_config.json) from this folder.")
    var tokenizerFrom: String?

    func run() async throws {
        try await reportingErrors {
            let config = try GPT2Config(vocabSize: vocab, contextLength: context, width: width, layerCount: layers,
                                        headCount: heads, bosTokenID: vocab - 1, eosTokenID: vocab - 1)
            let model = GPT2Model(config: config, weights: .random(config, std: std, seed: seed))
            let folder = URL(fileURLWithPath: output)
            try model.save(folder: folder)
            if let tokenizerFrom {
                let fm = FileManager.default
                var copied = 0
                for name in ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] {
                    let src = URL(fileURLWithPath: tokenizerFrom).appendingPathComponent(name)
                    guard fm.fileExists(atPath: src.path) else { continue }
                    let dst = folder.appendingPathComponent(name)
                    try? fm.removeItem(at: dst)
                    try fm.copyItem(at: src, to: dst)
                    copied += 1
                }
                if copied == 0 { throw ValidationError("--tokenizer-from: no tokenizer files in \(tokenizerFrom)") }
            }
            Output.line("wrote \(folder.path)")
        }
    }
}
