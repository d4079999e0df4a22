import ArgumentParser
import Foundation
import IsaerftCheckpoints
import IsaerftCore
import IsaerftModels
import IsaerftSAE

/// `--sae` (repeatable) for commands that run the model with SAEs spliced in (`run`, `generate`),
/// as SAELens' `HookedSAETransformer` does with `add_sae`.
struct SpliceOptions: ParsableArguments {
    @Option(name: .customLong("sae"), help: "Splice an SAE in at its hook (repeatable): a folder, release/sae_id or org/repo/folder, as for `isaerft sae`.")
    var saes: [String] = []
    @Flag(name: .customLong("error-term"), inversion: .prefixedNo,
          help: "Keep the SAE's error term so the model's outputs are unchanged while features are read (SAELens use_error_term). Default off, as in SAELens' HookedSAETransformer: the activation is replaced by the reconstruction.")
    var errorTerm = false
    @Flag(name: .customLong("ignore-model-name"), help: "Do not compare the SAEs' model_name with --model (widths and hooks are still checked).")
    var ignoreModelName = false

    var isEmpty: Bool { saes.isEmpty }

    /// One spliced SAE and the recorder of its features.
    struct Spliced {
        var sae: LoadedSAE
        var hook: HookPoint
        var recorder: SAEFeatureRecorder
    }

    /// Loads the SAEs (before the model, so that an SAE trained on centred residuals gets a centred
    /// model as in `sae` commands), then the model; checks every SAE fits (model name, hook, width)
    /// before anything runs.
    func load(_ modelOptions: ModelOptions) async throws -> (LoadedModel, [LoadedSAE]) {
        var loaded: [LoadedSAE] = []
        for text in saes { loaded.append(try await loadSAE(try SAESource.resolve(spec: text), label: text)) }
        let center = modelOptions.centerWritingWeights || loaded.contains { $0.sae.config.expectsCenteredWritingWeights }
        let model = try await ModelSource.load(modelOptions.model, centerWritingWeights: center, progress: downloadProgress)
        Output.endProgress()
        var seen: [HookPoint: String] = [:]
        for s in loaded {
            if !ignoreModelName { try SAESource.checkModelName(s.sae, model: modelOptions.model) }
            try s.sae.checkFits(model: model.model, modelName: nil)
            let hook = try s.sae.hookPoint()
            if let other = seen[hook] { throw ValidationError("--sae \(s.label) and --sae \(other) both splice at \(hook)") }
            seen[hook] = s.label
            if s.sae.needsNormScalingFactor {
                Output.status("isaerft: warning: \(s.label) uses expected_average_only_in without a folded scaling factor; like SAELens it sees unscaled activations")
            }
        }
        return (model, loaded)
    }

    /// Splices every SAE into `hooks` (in the order given), each with a feature recorder.
    func splice(_ saes: [LoadedSAE], into hooks: inout HookSet) throws -> [Spliced] {
        try saes.map { s in
            let recorder = SAEFeatureRecorder()
            let hook = try s.sae.hookPoint()
            try s.sae.splice(into: &hooks, at: hook, keepError: errorTerm, recorder: recorder)
            return Spliced(sae: s, hook: hook, recorder: recorder)
        }
    }
}
