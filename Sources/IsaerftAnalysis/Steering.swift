import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftSAE

/// Which absolute positions an intervention touches (`analysis-and-dashboards.md` §3: a mask from
/// the current call's length breaks under a KV cache, so positions are absolute:
/// `HookContext.positionOffset + t`).
public enum SteeringPositions: String, Sendable, CaseIterable {
    /// Positions `0..<promptLength`: the prompt pass only. (SAELens' tutorial steers `[:prompt_len − 1]`
    /// and skips KV-cached decode steps; here the last prompt token is included.)
    case prompt
    /// Positions `≥ promptLength`: the generated tokens as they are fed back. The first new token is
    /// predicted from the prompt alone, so it is never affected.
    case generated
    /// Every position, prompt and generated.
    case all

    public func contains(_ position: Int, promptLength: Int) -> Bool {
        switch self {
        case .prompt: position < promptLength
        case .generated: position >= promptLength
        case .all: true
        }
    }
}

/// What an intervention does at its hook (`analysis-and-dashboards.md` §3, recipes 1–3).
public enum SteeringMode: Sendable, Equatable {
    /// `x ← x + coefficient·d` with `d = W_dec[i]` (never assumed unit norm; see `normalizeDirection`):
    /// TransformerLens' steering hook.
    case add(coefficient: Float)
    /// SAELens `use_error_term` clamp: `f_i ← value`, output `dec(f′) + (x − dec(f))`, i.e.
    /// `x + (value − f_i)·W_dec[i]` for an SAE without run-time normalisation (`/‖W_dec[i]‖` for
    /// rescaled TopK, scaled back for `constant_norm_rescale` / `layer_norm`, all through `decode`).
    /// `conditional`: only where `f_i > 0` (Khoriaty et al.).
    case clamp(value: Float, conditional: Bool)

    /// Zero-ablation with the error term kept: removes exactly the latent's contribution.
    public static var ablate: SteeringMode { .clamp(value: 0, conditional: false) }
}

/// One latent intervention at an SAE's hook.
public struct SteeringIntervention: Sendable, Equatable {
    public var latent: Int
    public var mode: SteeringMode
    public var positions: SteeringPositions
    /// Where to apply it (default: the SAE's `hook_name`).
    public var hook: HookPoint?
    /// `add` only: use `W_dec[i] / ‖W_dec[i]‖` (the coefficient is then a residual-norm distance).
    public var normalizeDirection: Bool

    public init(latent: Int, mode: SteeringMode, positions: SteeringPositions = .all, hook: HookPoint? = nil,
                normalizeDirection: Bool = false) {
        self.latent = latent; self.mode = mode; self.positions = positions; self.hook = hook
        self.normalizeDirection = normalizeDirection
    }

    /// Checks the latent index and that the SAE fits `model` at the intervention's hook.
    public func check(model: any HookedLanguageModel, sae: SparseAutoencoder) throws {
        try LatentExampleCollector.validate([latent], dSAE: sae.dSAE)
        try sae.checkFits(model: model, modelName: nil, at: hook ?? sae.hookPoint())
    }

    /// Adds the edit to `hooks`. Positions are absolute (`positionOffset + t`), so the same `HookSet`
    /// is correct for a full pass and for every KV-cache step; `promptLength` separates prompt from
    /// generated positions. Call `check` first: a value of the wrong width is a programmer error here.
    public func install(into hooks: inout HookSet, sae: SparseAutoencoder, promptLength: Int) throws {
        try LatentExampleCollector.validate([latent], dSAE: sae.dSAE)
        let point = try hook ?? sae.hookPoint()
        let dIn = sae.dIn, i = latent
        var direction = Array(sae.weights.wDec.scalars[(i * dIn)..<((i + 1) * dIn)])
        if normalizeDirection {
            let n = Float(direction.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
            guard n > 0 else { throw AnalysisError.invalidInput("latent \(i) has a zero decoder row: it cannot be normalised") }
            direction = direction.map { $0 / n }
        }
        let head = sae.config.hookHeadIndex
        let (mode, positions) = (self.mode, self.positions)
        hooks.edit(point) { value, context in
            // Rows of d_in values: flat [b·t, d_in] (hook_z heads flattened), or one head's slice.
            let t = context.length, rows = context.batch * t
            let stride: Int, offset: Int
            if let head {
                precondition(value.rank == 4 && value.shape[3] == dIn && head < value.shape[2],
                             "steering at \(point): value \(value.shape) has no head \(head) of width \(dIn)")
                stride = value.shape[2] * dIn; offset = head * dIn
            } else {
                precondition(value.count == rows * dIn, "steering at \(point): value \(value.shape) does not give rows of d_in = \(dIn)")
                stride = dIn; offset = 0
            }
            let chosen = (0..<rows).filter { positions.contains(context.positionOffset + $0 % t, promptLength: promptLength) }
            if chosen.isEmpty { return }
            switch mode {
            case .add(let c):
                for r in chosen { for j in 0..<dIn { value.scalars[r * stride + offset + j] += c * direction[j] } }
            case let .clamp(target, conditional):
                var x = Tensor(shape: [chosen.count, dIn])
                for (k, r) in chosen.enumerated() { for j in 0..<dIn { x.scalars[k * dIn + j] = value.scalars[r * stride + offset + j] } }
                guard let (f, stats) = try? sae.encodeWithStatistics(x) else { preconditionFailure("steering: encode failed for \(x.shape)") }
                var clamped = f
                var any = false
                for k in 0..<chosen.count where !conditional || f.scalars[k * sae.dSAE + i] > 0 {
                    clamped.scalars[k * sae.dSAE + i] = target; any = true
                }
                guard any else { return }
                let before = sae.decode(f, statistics: stats), after = sae.decode(clamped, statistics: stats)
                for (k, r) in chosen.enumerated() {
                    for j in 0..<dIn { value.scalars[r * stride + offset + j] += after.scalars[k * dIn + j] - before.scalars[k * dIn + j] }
                }
            }
        }
    }
}
