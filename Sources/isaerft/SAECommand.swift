import ArgumentParser
import Foundation
import IsaerftCheckpoints
import IsaerftCore
import IsaerftModels
import IsaerftSAE

struct SAECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae",
        abstract: "Inspect, run and evaluate sparse autoencoders (SAELens formats, Gemma Scope, Llama Scope).",
        discussion: """
        --sae takes a local folder (SAELens cfg.json + sae_weights.safetensors, Gemma Scope params.npz, \
        Gemma Scope 2 params.safetensors, Llama Scope hyperparams.json), release/sae_id of a SAELens \
        pretrained release (e.g. gpt2-small-res-jb/blocks.8.hook_resid_pre), or org/repo/folder of a hub \
        repository of SAELens folders; --sae-release and --sae-id name a release and id separately. \
        Hub files come from the Hugging Face cache and are downloaded when missing.
        """,
        subcommands: [SAEInfoCommand.self, SAEEncodeCommand.self, SAEEvalCommand.self,
                      SAETopExamplesCommand.self, SAEDashboardCommand.self])
}

/// `--sae` / `--sae-release` / `--sae-id`.
struct SAEOptions: ParsableArguments {
    @Option(name: .customLong("sae"), help: "An SAE folder, release/sae_id (e.g. gpt2-small-res-jb/blocks.8.hook_resid_pre), or org/repo/folder on the hub.")
    var sae: String?
    @Option(name: .customLong("sae-release"), help: "A SAELens pretrained release (with --sae-id) or a hub repository of SAELens folders.")
    var saeRelease: String?
    @Option(name: .customLong("sae-id"), help: "The SAE id within --sae-release.")
    var saeID: String?

    func spec() throws -> SAESpec { try SAESource.resolve(spec: sae, release: saeRelease, id: saeID) }

    /// What the user named, for messages and output.
    var label: String { sae ?? "\(saeRelease ?? "")/\(saeID ?? "")" }

    /// Resolves and loads the SAE, downloading a registry entry's files when they are not cached.
    func load() async throws -> LoadedSAE { try await loadSAE(try spec(), label: label) }
}

/// Loads a resolved SAE spec, downloading a registry entry's files when they are not cached.
func loadSAE(_ spec: SAESpec, label: String) async throws -> LoadedSAE {
    switch spec {
    case .folder:
        return LoadedSAE(sae: try SAESource.load(spec), spec: spec, label: label)
    case .registry(let entry):
        let root = try await fetch(entry, files: entry.files, optionalFiles: entry.optionalFiles)
        return LoadedSAE(sae: try SAESource.load(spec, downloadedTo: root), spec: spec, label: label)
    }
}

/// The hub snapshot folder holding `files` of `entry`'s repository.
func fetch(_ entry: SAERegistryEntry, files: [String], optionalFiles: [String] = []) async throws -> URL {
    let root = try await snapshotFiles(repo: entry.repoID, files: files, optionalFiles: optionalFiles, progress: downloadProgress)
    Output.endProgress()
    return root
}

struct LoadedSAE {
    var sae: SparseAutoencoder
    var spec: SAESpec
    var label: String

    var entry: SAERegistryEntry? { if case .registry(let e) = spec { e } else { nil } }
}

/// `--model` plus the flags that decide how it meets the SAE.
struct SAEModelOptions: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @Flag(name: .customLong("ignore-model-name"), help: "Do not compare the SAE's model_name with --model (widths and hooks are still checked).")
    var ignoreModelName = false

    /// Loads the SAE, then the model — with TransformerLens' center_writing_weights when the SAE
    /// was trained on centred residuals (gpt2-small-res-jb) — and checks that they fit.
    func load(_ saeOptions: SAEOptions) async throws -> (LoadedModel, LoadedSAE) {
        let sae = try await saeOptions.load()
        let center = model.centerWritingWeights || sae.sae.config.expectsCenteredWritingWeights
        let loaded = try await ModelSource.load(model.model, centerWritingWeights: center, progress: downloadProgress)
        Output.endProgress()
        if !ignoreModelName { try SAESource.checkModelName(sae.sae, model: model.model) }
        try sae.sae.checkFits(model: loaded.model, modelName: nil)
        if sae.sae.needsNormScalingFactor {
            Output.status("isaerft: warning: \(sae.label) uses expected_average_only_in without a folded scaling factor; like SAELens it sees unscaled activations")
        }
        return (loaded, sae)
    }
}

/// The rows `[T, d_in]` an SAE reads from a hook value `[1, T, …]`: a head's slice with
/// `hook_head_index`, else the trailing axes flattened (`hook_z`).
func saeRows(_ value: Tensor, sae: SparseAutoencoder) -> Tensor {
    let s = value.shape
    if let head = sae.config.hookHeadIndex, s.count == 4 {
        let (n, h, dh) = (s[0] * s[1], s[2], s[3])
        var out = Tensor(shape: [n, dh])
        for r in 0..<n { for j in 0..<dh { out.scalars[r * dh + j] = value.scalars[(r * h + head) * dh + j] } }
        return out
    }
    return value.reshaped([value.count / sae.dIn, sae.dIn])
}

/// Compact number formatting for tables.
func formatMetric(_ v: Double) -> String {
    if !v.isFinite { return "\(v)" }
    if v != 0 && (abs(v) >= 1e5 || abs(v) < 1e-3) { return String(format: "%.4e", v) }
    return String(format: "%.5f", v)
}
