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

/// `F(f)` of an mlp component (`isaerft-method.md` §3.3): linear layers `x ← x·W_iᵀ + b_i` (nn.Linear
/// layout `[out, in]`) with ReLU after every hidden layer (not after the last); depth 0 is one linear layer.
/// A plain forward for audits only; training uses the component code.
struct MLPComponentForward {
    var layers: [(weight: Tensor, bias: Tensor)]

    init(component: AdapterComponent, adapter: AdapterFolder) throws {
        let names = try component.tensorShapes().map(\.0)
        var layers: [(Tensor, Tensor)] = []
        for k in stride(from: 0, to: names.count, by: 2) {
            guard let w = adapter.tensors[names[k]], let b = adapter.tensors[names[k + 1]] else {
                throw AuditError.badInput("adapter has no \(names[k]) / \(names[k + 1])")
            }
            layers.append((w, b))
        }
        self.layers = layers
    }

    /// `[n, d_sae]` → `[n, d_sae]`.
    func change(_ f: Tensor) -> Tensor {
        var x = f
        let n = f.matrixShape.rows
        for (k, layer) in layers.enumerated() {
            let out = layer.weight.shape[0]
            var y = Tensor(shape: [n, out])
            matmulTransposedB(x, layer.weight, into: &y)
            for r in 0..<n {
                for j in 0..<out {
                    var v = y.scalars[r * out + j] + layer.bias.scalars[j]
                    if k < layers.count - 1 { v = max(v, 0) }
                    y.scalars[r * out + j] = v
                }
            }
            x = y
        }
        return x
    }
}
