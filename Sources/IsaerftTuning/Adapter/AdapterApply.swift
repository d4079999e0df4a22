import IsaerftModels
import IsaerftSAE

extension AdapterFolder {
    /// The adapter's components as interventions on their SAEs (`saes`: hook name → the SAE the
    /// component was trained on; each must have the recorded d_in and d_sae).
    public func interventions(saes: [String: SparseAutoencoder]) throws -> [LatentIntervention] {
        try config.components.map { c in
            guard let sae = saes[c.hookName] else { throw AdapterError.invalidConfig("no SAE given for the component at \(c.hookName)") }
            guard sae.dIn == c.sae.dIn, sae.dSAE == c.sae.dSAE else {
                throw AdapterError.invalidConfig("the SAE for \(c.hookName) has d_in \(sae.dIn), d_sae \(sae.dSAE); the adapter was trained on d_in \(c.sae.dIn), d_sae \(c.sae.dSAE)")
            }
            guard let hook = HookPoint(name: c.hookName) else { throw AdapterError.invalidConfig("unknown hook \(c.hookName)") }
            var spec = ComponentSpec(kind: c.kind, depth: c.depth ?? 1, hiddenSize: c.hiddenSize ?? 64,
                                     scaleProcessor: c.scaleProcessor, activeOnly: c.activeOnly)
            spec.positions = c.positions
            let component = try LatentComponent(spec: spec, latentCount: sae.dSAE, hookName: c.hookName, tensors: tensors)
            return try LatentIntervention(sae: sae, hook: hook, component: component)
        }
    }
}

extension LatentIntervention {
    /// Applies the intervention in an inference pass or generation: positions `all` edit every
    /// row; `prompt` / `completion` edit absolute positions before / from `promptLength` (with a KV
    /// cache the decode steps are completion positions). Every row of the batch shares `promptLength`.
    public func apply(to hooks: inout HookSet, promptLength: Int) {
        let positions = component.spec.positions
        install(into: &hooks, recorder: InterventionRecorder()) { ctx in
            guard positions != .all else { return nil }
            var mask = [Bool](repeating: false, count: ctx.batch * ctx.length)
            for b in 0..<ctx.batch {
                for t in 0..<ctx.length {
                    let p = ctx.positionOffset + t
                    mask[b * ctx.length + t] = positions == .prompt ? p < promptLength : p >= promptLength
                }
            }
            return mask
        }
    }
}
