import Foundation
import IsaerftAnalysis
import IsaerftCore
import IsaerftModels
import IsaerftSAE
import IsaerftTuning

/// Per-latent statistics of an SAE on the audit data (one forward per row, stopping after the hook's
/// block; tokens in `excluded`, i.e. BOS, are not counted).
struct LatentDataStatistics: Sendable {
    var tokenCount = 0
    /// Fraction of counted tokens with `f_i > 0`.
    var frequency: [Double]
    /// `mean_t |f_i(t)|`.
    var meanAbsActivation: [Double]
    /// mlp components: `mean_t δ_i(t)` and `mean_t |δ_i(t)|` with `δ = F(f)`.
    var meanChange: [Double]?
    var meanAbsChange: [Double]?
    var excluded: Set<Int>

    static func collect(rows: [[Int]], model: any HookedLanguageModel, sae: SparseAutoencoder, component: AdapterComponent,
                        adapter: AdapterFolder, excluded: Set<Int>) throws -> LatentDataStatistics {
        guard let hook = HookPoint(name: component.hookName) else {
            throw AuditError.badInput("component hook \(component.hookName) is not a hook name this library supports")
        }
        let reader = try LatentReader(model: model, sae: sae, hook: hook)
        let d = sae.dSAE
        var active = [Double](repeating: 0, count: d), sumAbs = [Double](repeating: 0, count: d)
        let mlp = component.kind == .mlp ? try MLPComponentForward(component: component, adapter: adapter) : nil
        var sumDelta = [Double](repeating: 0, count: mlp == nil ? 0 : d), sumAbsDelta = sumDelta
        var count = 0
        for row in rows {
            let ids = Array(row.prefix(model.contextLength))
            guard !ids.isEmpty else { continue }
            let f = try reader.features([ids]).reshaped([ids.count, d])
            let kept = ids.indices.filter { !excluded.contains(ids[$0]) }
            guard !kept.isEmpty else { continue }
            count += kept.count
            for t in kept {
                let base = t * d
                for i in 0..<d {
                    let v = f.scalars[base + i]
                    if v > 0 { active[i] += 1 }
                    if v != 0 { sumAbs[i] += Double(Swift.abs(v)) }
                }
            }
            if let mlp {
                let rowsF = Tensor(shape: [kept.count, d], scalars: kept.flatMap { t in f.scalars[(t * d)..<((t + 1) * d)] })
                let delta = mlp.change(rowsF)
                for r in 0..<kept.count {
                    for i in 0..<d { let v = Double(delta.scalars[r * d + i]); sumDelta[i] += v; sumAbsDelta[i] += Swift.abs(v) }
                }
            }
        }
        let n = Double(max(count, 1))
        return LatentDataStatistics(tokenCount: count, frequency: active.map { $0 / n }, meanAbsActivation: sumAbs.map { $0 / n },
                                    meanChange: mlp == nil ? nil : sumDelta.map { $0 / n },
                                    meanAbsChange: mlp == nil ? nil : sumAbsDelta.map { $0 / n }, excluded: excluded)
    }
}

/// `F(f)` of an adapter's mlp component, computed by the components' own forward (`LatentComponent`).
struct MLPComponentForward {
    let component: LatentComponent

    init(component c: AdapterComponent, adapter: AdapterFolder) throws {
        let spec = ComponentSpec(kind: .mlp, depth: c.depth ?? 1, hiddenSize: c.hiddenSize ?? 64)
        component = try LatentComponent(spec: spec, latentCount: c.sae.dSAE, hookName: c.hookName, tensors: adapter.tensors)
    }

    /// `[n, d_sae]` → `[n, d_sae]`.
    func change(_ f: Tensor) -> Tensor {
        let (n, d) = f.matrixShape
        return component.forward(f, rowMask: nil).delta.dense(rowCount: n, width: d)
    }
}
