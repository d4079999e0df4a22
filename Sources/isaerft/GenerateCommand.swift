import ArgumentParser
import Foundation
import IsaerftModels
import IsaerftTokenizers

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Continue a prompt with a KV cache (greedy by default).",
        discussion: """
        --sae splices SAEs in at their hooks for the prompt and every generated token (repeatable; \
        SAELens HookedSAETransformer semantics: the activation is replaced by the reconstruction unless \
        --error-term, which leaves the output unchanged).
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var spliceOptions: SpliceOptions
    @OptionGroup var adapterOptions: AdapterOptions
    @Option(help: "The prompt text.") var prompt: String
    @Option(name: .customLong("max-new-tokens"), help: "How many tokens to generate.") var maxNewTokens: Int = 32
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens.") var topK: Int?
    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the smallest set with this probability mass.") var topP: Float?
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(name: .customLong("stop-at-eos"), help: "Stop at the model's EOS token.") var stopAtEOS = false
    @Flag(help: "Print a JSON object instead of text.") var json = false

    func validate() throws {
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be ≥ 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() async throws {
        try await reportingErrors {
            let (loaded, saes) = spliceOptions.isEmpty ? (try await modelOptions.load(), []) : try await spliceOptions.load(modelOptions)
            var hooks = HookSet()
            let spliced = try spliceOptions.splice(saes, into: &hooks)
            let tok = try loaded.requireTokenizer()
            let promptIDs = try tok.encode(prompt, parseSpecial: true)
            try await adapterOptions.load(model: loaded.model).apply(to: &hooks, promptLength: promptIDs.count)
            let stream = !json && Output.stdoutIsTerminal
            if stream { FileHandle.standardOutput.write(prompt) }
            var pending: [UInt8] = []
            let stops: Set<Int> = stopAtEOS ? Set([loaded.model.eosTokenID ?? tok.eosTokenID].compactMap { $0 }) : []
            let ids = try loaded.model.generate(
                prompt: promptIDs, maxNewTokens: maxNewTokens,
                sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed),
                hooks: hooks, stopTokens: stops) { event in
                    guard stream, case .token(let id, _) = event, let bytes = try? tok.tokenBytes(id) else { return }
                    pending += bytes
                    // Print whole UTF-8 characters only.
                    if String(validating: pending, as: UTF8.self) != nil {
                        FileHandle.standardOutput.write(Data(pending)); pending = []
                    }
                }
            let newIDs = Array(ids.dropFirst(promptIDs.count))
            let newText = try tok.decode(newIDs, skipSpecial: false)
            if json {
                var o: [String: Any] = ["prompt": prompt, "prompt_ids": promptIDs, "ids": ids, "new_ids": newIDs,
                                        "text": prompt + newText, "new_text": newText]
                if !spliced.isEmpty {
                    o["saes"] = spliced.map { s -> [String: Any] in
                        let f = s.recorder.concatenatedFeatures()
                        let l0 = f.map { Double($0.scalars.filter { $0 != 0 }.count) / Double(max($0.shape[1], 1)) } ?? 0
                        return ["sae": s.sae.label, "hook_name": s.hook.description, "mean_l0": l0]
                    }
                    o["sae_error_term"] = spliceOptions.errorTerm
                }
                Output.json(o)
            } else if stream {
                if !pending.isEmpty { FileHandle.standardOutput.write(Data(pending)) }
                FileHandle.standardOutput.write("\n")
            } else {
                Output.line(prompt + newText)
            }
        }
    }
}
