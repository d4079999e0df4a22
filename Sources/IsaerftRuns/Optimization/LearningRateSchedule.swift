import Foundation

/// Learning-rate schedules as closed forms of the optimiser step `k` (0, 1, …, T−1): the value is
/// the learning rate used for update k (the scheduler steps after each update, as HF and SAELens do).
public enum LearningRateSchedule: Sendable, Equatable {
    /// HF `get_scheduler("linear")`: `k/W` during warm-up, then `max(0, (T−k)/(T−W))`.
    case hfLinear(warmupSteps: Int)
    /// HF `get_scheduler("cosine")` (half a cycle): warm-up, then `max(0, ½(1 + cos(π·(k−W)/(T−W))))`.
    case hfCosine(warmupSteps: Int)
    /// HF `get_scheduler("constant")`.
    case hfConstant
    /// HF `get_scheduler("constant_with_warmup")`: `k/W` during warm-up, then 1.
    case hfConstantWithWarmup(warmupSteps: Int)
    /// SAELens `get_lr_scheduler`: `LinearLR(1/W → 1)` over W steps, then the main phase
    /// (constant, cosine annealing to `lrEnd`, or cosine with `cycles` warm restarts), then a linear
    /// decay from `lrEnd` (from lr for "constant") to 0 over D steps.
    case saeLens(SAELensLRSchedule)

    /// Learning rate for update `step` of `totalSteps` with base rate `baseLR`.
    public func learningRate(step k: Int, totalSteps t: Int, baseLR lr: Double) -> Double {
        switch self {
        case let .hfLinear(w):
            if k < w { return lr * Double(k) / Double(max(1, w)) }
            return lr * max(0, Double(t - k) / Double(max(1, t - w)))
        case let .hfCosine(w):
            if k < w { return lr * Double(k) / Double(max(1, w)) }
            let progress = Double(k - w) / Double(max(1, t - w))
            return lr * max(0, 0.5 * (1 + cos(Double.pi * 2 * 0.5 * progress)))
        case .hfConstant:
            return lr
        case let .hfConstantWithWarmup(w):
            if k < w { return lr * Double(k) / Double(max(1, w)) }
            return lr
        case let .saeLens(s):
            return s.learningRate(step: k, totalSteps: t, baseLR: lr)
        }
    }
}

/// SAELens 6.54.12 `training/optim.py` `get_lr_scheduler` (a `SequentialLR` of LinearLR warm-up,
/// the main scheduler and a LinearLR decay), in closed form.
public struct SAELensLRSchedule: Sendable, Equatable, Codable {
    public enum Main: String, Sendable, Codable { case constant, cosineannealing, cosineannealingwarmrestarts }
    public var main: Main
    public var warmUpSteps: Int
    public var decaySteps: Int
    /// `lr_end` (SAELens default lr/10; ignored by "constant", whose decay starts at lr).
    public var lrEnd: Double
    public var cycles: Int

    public init(main: Main = .constant, warmUpSteps: Int = 0, decaySteps: Int = 0, lrEnd: Double, cycles: Int = 1) {
        self.main = main; self.warmUpSteps = warmUpSteps; self.decaySteps = decaySteps; self.lrEnd = lrEnd; self.cycles = cycles
    }

    public func learningRate(step k: Int, totalSteps t: Int, baseLR lr: Double) -> Double {
        let w = warmUpSteps, d = decaySteps
        if w > 0 && k < w {
            // LinearLR(start 1/W, end 1, total_iters W−1): factor (k+1)/W.
            return lr * Double(k + 1) / Double(w)
        }
        let decayStart = t - d
        if d > 0 && k >= decayStart {
            let end = main == .constant ? lr : lrEnd
            let s = Double(min(k - decayStart, d))
            return lr * (end / lr) * (1 - s / Double(d))
        }
        let s = k - w, span = t - w - d
        switch main {
        case .constant:
            return lr
        case .cosineannealing:
            guard span > 0 else { return lr }
            return lrEnd + (lr - lrEnd) * (1 + cos(Double.pi * Double(s) / Double(span))) / 2
        case .cosineannealingwarmrestarts:
            let t0 = span / max(1, cycles)
            guard t0 > 0 else { return lr }
            return lrEnd + (lr - lrEnd) * (1 + cos(Double.pi * Double(s % t0) / Double(t0))) / 2
        }
    }
}

/// SAELens `CoefficientScheduler`: the sparsity coefficient used at step `k` is
/// `final·k/W` while `k < W` (0 at step 0), then `final`.
public struct CoefficientWarmUp: Sendable, Equatable, Codable {
    public var finalValue: Double
    public var warmUpSteps: Int

    public init(finalValue: Double, warmUpSteps: Int) { self.finalValue = finalValue; self.warmUpSteps = warmUpSteps }

    public func value(step k: Int) -> Double {
        warmUpSteps > 0 && k < warmUpSteps ? finalValue * Double(k) / Double(warmUpSteps) : finalValue
    }
}
