import ArgumentParser
import Foundation
import IsaerftCheckpoints
import IsaerftModels
import IsaerftSAE
import IsaerftTuning

/// `--adapter DIR` for commands that run the model (`run`, `generate`, `sae encode`, `steer`): applies
/// a trained ISaeRFT adapter (each component on its SAE, the SAE's error term kept) to every pass.
struct AdapterOptions: ParsableArguments {
    @Option(help: "Apply an ISaeRFT adapter folder (from `isaerft tune`) to every forward pass.")
    var adapter: String?

    /// The adapter's interventions, with their SAEs loaded from what adapter_config.json records
    /// (a folder path, or a release and SAE id), checked against `model`. Empty without --adapter.
    func load(model: any HookedLanguageModel) async throws -> [LatentIntervention] {
        guard let adapter else { return [] }
        let folder = try AdapterFolder.read(from: URL(fileURLWithPath: (adapter as NSString).expandingTildeInPath))
        var saes: [String: SparseAutoencoder] = [:]
        for c in folder.config.components {
            let spec: SAESpec
            if let path = c.sae.path {
                spec = try SAESource.resolve(spec: path, release: nil, id: nil)
            } else if let release = c.sae.release, let id = c.sae.saeID {
                spec = try SAESource.resolve(spec: nil, release: release, id: id)
            } else {
                throw ValidationError("\(adapter): the component at \(c.hookName) records no SAE path or release/sae_id")
            }
            let sae = try await loadSAE(spec, label: c.sae.path ?? "\(c.sae.release!)/\(c.sae.saeID!)").sae
            try sae.checkFits(model: model, modelName: nil)
            saes[c.hookName] = sae
        }
        return try folder.interventions(saes: saes)
    }
}

extension [LatentIntervention] {
    /// Installs every intervention into `hooks` (prompt/completion positions split at `promptLength`).
    func apply(to hooks: inout HookSet, promptLength: Int) {
        for i in self { i.apply(to: &hooks, promptLength: promptLength) }
    }
}
