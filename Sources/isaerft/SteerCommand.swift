import ArgumentParser
import Foundation
import IsaerftAnalysis
import IsaerftModels
import IsaerftSAE

/// `isaerft steer`: generation with one SAE latent added, clamped or ablated at the SAE's hook.
struct SteerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steer",
        abstract: "Generate with an SAE latent steered: add its decoder direction, clamp it, or ablate it at the SAE's hook.",
        discussion: """
        add: x + C·W_dec[i] (TransformerLens' steering hook; --normalize for a unit direction). \
        clamp: f_i set to C with the SAE's error term kept, x + (C − f_i)·W_dec[i] (--conditional: only \
        where f_i > 0). ablate: clamp to 0. --positions chooses the prompt, the generated tokens, or \
        all; with the KV cache positions are absolute, so the choice holds at every decode step. The \
        prompt gets BOS first when the SAE's prepend_bos is true (the default), as TransformerLens does.
        """)

    enum Mode: String, ExpressibleByArgument, CaseIterable { case add, clamp, ablate }
    enum Positions: String, ExpressibleByArgument, CaseIterable { case prompt, generated, all }

    @OptionGroup var modelOptions: SAEModelOptions
    @OptionGroup var saeOptions: SAEOptions
    @OptionGroup var adapterOptions: AdapterOptions
    @Option(help: "The latent to steer.") var latent: Int
    @Option(parsing: .unconditional, help: "add: the coefficient of W_dec[i]; clamp: the value f_i is set to (may be negative).") var coefficient: Float?
    @Option(help: "add, clamp or ablate.") var mode: Mode = .add
    @Option(help: "prompt, generated or all.") var positions: Positions = .all
    @Flag(help: "clamp only where the latent is active.") var conditional = false
    @Flag(help: "add: use W_dec[i]/‖W_dec[i]‖.") var normalize = false
    @Option(help: "The prompt text.") var prompt: String
    @Option(name: .customLong("max-new-tokens"), help: "How many tokens to generate.") var maxNewTokens = 32
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens.") var topK: Int?
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass.") var topP: Float?
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(name: .customLong("prepend-bos"), inversion: .prefixedNo, help: "Put BOS before the prompt (default: the SAE's prepend_bos).")
    var prependBOS: Bool?
    @Flag(help: "Also generate without steering, for comparison.") var baseline = false
    @Option(help: "Labels file (Neuronpedia export or CSV) to name the latent.") var labels: String?
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be ≥ 0") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        switch mode {
        case .add, .clamp: if coefficient == nil { throw ValidationError("--mode \(mode.rawValue) needs --coefficient") }
        case .ablate: if let c = coefficient, c != 0 { throw ValidationError("--mode ablate takes no --coefficient (it clamps to 0)") }
        }
        if conditional && mode == .add { throw ValidationError("--conditional applies to clamp and ablate") }
        if normalize && mode != .add { throw ValidationError("--normalize applies to --mode add") }
    }

    func run() async throws {
        try await reportingErrors {
            let (loaded, loadedSAE) = try await modelOptions.load(saeOptions)
            let sae = loadedSAE.sae, model = loaded.model
            let tok = try loaded.requireTokenizer()
            var ids = try tok.encode(prompt, parseSpecial: true, addSpecialTokens: false)
            if prependBOS ?? sae.config.prependBOS ?? true, let bos = model.bosTokenID ?? tok.bosTokenID, ids.first != bos { ids.insert(bos, at: 0) }
            guard !ids.isEmpty else { throw ValidationError("the prompt is empty") }
            let steeringMode: SteeringMode
            switch mode {
            case .add: steeringMode = .add(coefficient: coefficient!)
            case .clamp: steeringMode = .clamp(value: coefficient!, conditional: conditional)
            case .ablate: steeringMode = .clamp(value: 0, conditional: conditional)
            }
            let intervention = SteeringIntervention(latent: latent, mode: steeringMode, positions: SteeringPositions(rawValue: positions.rawValue)!,
                                                    normalizeDirection: normalize)
            let np = try (sae.config.neuronpediaID ?? loadedSAE.entry?.neuronpediaID).map { try NeuronpediaID($0) }
            let label = try labels.map { try LatentLabels.load(URL(fileURLWithPath: $0), source: np?.sourceID) }?.label(for: latent)
            let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
            let adapter = try await adapterOptions.load(model: model)
            func run(_ interventions: [SteeringIntervention]) throws -> [String: Any] {
                let out = try Steering.generate(model: model, sae: sae, prompt: ids, maxNewTokens: maxNewTokens,
                                                interventions: interventions, sampling: sampling,
                                                otherEdits: { adapter.apply(to: &$0, promptLength: ids.count) })
                let newText = try tok.decode(out.newIDs, skipSpecial: false)
                return ["ids": out.ids, "new_ids": out.newIDs, "new_text": newText, "text": prompt + newText]
            }
            let steered = try run([intervention])
            let base = baseline ? try run([]) : nil
            if json {
                var o: [String: Any] = ["prompt": prompt, "prompt_ids": ids, "latent": latent, "mode": mode.rawValue,
                                        "positions": positions.rawValue, "hook_name": try sae.hookPoint().description,
                                        "sae": loadedSAE.label, "steered": steered]
                if let coefficient { o["coefficient"] = Double("\(coefficient)") ?? Double(coefficient) }
                if let label { o["label"] = label }
                if let np { o["url"] = np.featureURL(latent) }
                if let base { o["baseline"] = base }
                Output.json(o)
                return
            }
            Output.status((["latent \(latent)", label.map { "\"\($0)\"" }, np?.featureURL(latent)].compactMap { $0 }).joined(separator: " · "))
            if let base {
                Output.line("baseline: \(base["text"] as! String)")
                Output.line("steered:  \(steered["text"] as! String)")
            } else {
                Output.line(steered["text"] as! String)
            }
        }
    }
}
