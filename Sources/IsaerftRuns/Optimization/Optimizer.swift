import IsaerftCore

/// Which update rule an `Optimizer` applies.
public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
    /// `torch.optim.Adam` (weight decay, when set, is added to the gradient: L2, not decoupled).
    case adam
    /// `torch.optim.AdamW` / HF `adamw_torch` (decoupled decay on the pre-update value).
    case adamw
    /// `torch.optim.SGD` with optional momentum (dampening 0) and Nesterov.
    case sgd
}

/// Hyper-parameters of an `Optimizer` (torch defaults).
public struct OptimizerConfig: Sendable, Codable, Equatable {
    public var kind: OptimizerKind
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weightDecay: Double
    public var momentum: Double
    public var nesterov: Bool
    /// Parameters whose name contains one of these strings get no weight decay (HF Trainer: "bias";
    /// its LayerNorm exclusion is by module type and has to be listed by name here).
    public var noDecayNameFragments: [String]

    public init(kind: OptimizerKind, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0, nesterov: Bool = false,
                noDecayNameFragments: [String] = ["bias"]) {
        self.kind = kind; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.momentum = momentum; self.nesterov = nesterov
        self.noDecayNameFragments = noDecayNameFragments
    }

    private enum Key: String, CodingKey {
        case kind, beta1 = "adam_beta1", beta2 = "adam_beta2", eps = "adam_epsilon", weightDecay = "weight_decay"
        case momentum, nesterov, noDecayNameFragments = "no_decay_name_fragments"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init(kind: try c.decode(OptimizerKind.self, forKey: .kind),
                  beta1: try c.decodeIfPresent(Double.self, forKey: .beta1) ?? 0.9,
                  beta2: try c.decodeIfPresent(Double.self, forKey: .beta2) ?? 0.999,
                  eps: try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-8,
                  weightDecay: try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0,
                  momentum: try c.decodeIfPresent(Double.self, forKey: .momentum) ?? 0,
                  nesterov: try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? false,
                  noDecayNameFragments: try c.decodeIfPresent([String].self, forKey: .noDecayNameFragments) ?? ["bias"])
        if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) {
            throw DecodingError.dataCorruptedError(forKey: .beta1, in: c, debugDescription: "Adam betas must lie in [0, 1), got \(beta1), \(beta2)")
        }
        if eps < 0 || weightDecay < 0 || momentum < 0 {
            throw DecodingError.dataCorruptedError(forKey: .eps, in: c, debugDescription: "eps, weight_decay and momentum must be ≥ 0")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind, forKey: .kind); try c.encode(beta1, forKey: .beta1); try c.encode(beta2, forKey: .beta2)
        try c.encode(eps, forKey: .eps); try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(momentum, forKey: .momentum); try c.encode(nesterov, forKey: .nesterov)
        try c.encode(noDecayNameFragments, forKey: .noDecayNameFragments)
    }

    /// The decay applied to parameter `name` (0 for excluded names).
    public func weightDecay(for name: String) -> Double {
        noDecayNameFragments.contains { name.contains($0) } ? 0 : weightDecay
    }
}

/// Problems restoring optimiser state.
public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    case missingState(String)
    case shapeMismatch(String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .missingState(k): "optimizer state: tensor \(k) is missing"
        case let .shapeMismatch(k, e, f): "optimizer state: \(k) has shape \(f), expected \(e)"
        }
    }
}

/// Adam / AdamW / SGD over named parameters, one update per `update(_:parameter:gradient:…)` call.
///
/// Equals `torch.optim.{Adam, AdamW, SGD}` (single-tensor path, torch 2.13) step for step:
/// ```
/// Adam(W):  t += 1;  [AdamW: p ← p·(1 − lr·wd)]  [Adam: g ← g + wd·p]
///           m ← m + (1−β1)(g − m);  v ← β2·v + (1−β2)·g²
///           p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
/// SGD:      g ← g + wd·p;  b ← g (first step) or μ·b + g;  g ← Nesterov ? g + μ·b : b;  p ← p − lr·g
/// ```
/// State per parameter (`exp_avg`, `exp_avg_sq`, `momentum_buffer`, and its own step count, as torch
/// keeps it) is created on first update and exported by `stateTensors()` for bit-identical resume.
/// The gradient may be scaled on the fly (`gradientScale`, the grad-norm clipping coefficient): the
/// result equals scaling the gradient first, as `clip_grad_norm_` does, without a separate pass.
public struct Optimizer: Sendable {
    public var config: OptimizerConfig
    /// `exp_avg` (Adam) or `momentum_buffer` (SGD) per parameter name.
    public private(set) var firstMoments: [String: Tensor] = [:]
    /// `exp_avg_sq` (Adam) per parameter name.
    public private(set) var secondMoments: [String: Tensor] = [:]
    /// Updates applied per parameter name (torch's per-parameter `step`).
    public private(set) var steps: [String: Int] = [:]

    public init(config: OptimizerConfig) { self.config = config }

    /// One update of `parameter` (named `name`) with `gradient` (same shape) at learning rate `lr`.
    public mutating func update(_ name: String, parameter: inout Tensor, gradient: Tensor, learningRate lr: Double,
                                gradientScale: Float = 1) {
        precondition(parameter.shape == gradient.shape,
                     "Optimizer.update(\(name)): parameter \(parameter.shape), gradient \(gradient.shape)")
        let n = parameter.count
        let t = (steps[name] ?? 0) + 1
        steps[name] = t
        let wd = config.weightDecay(for: name)
        switch config.kind {
        case .adam, .adamw:
            var m = firstMoments.removeValue(forKey: name) ?? Tensor(shape: parameter.shape)
            var v = secondMoments.removeValue(forKey: name) ?? Tensor(shape: parameter.shape)
            let bc1 = 1 - pow(config.beta1, Double(t)), bc2 = 1 - pow(config.beta2, Double(t))
            let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot())
            let oneMinusB1 = Float(1 - config.beta1), b2 = Float(config.beta2), oneMinusB2 = Float(1 - config.beta2)
            let eps = Float(config.eps)
            let decoupled: Float = config.kind == .adamw ? Float(1 - lr * wd) : 1
            let l2: Float = config.kind == .adam ? Float(wd) : 0
            gradient.withUnsafeBufferPointer { g in
                parameter.withUnsafeMutableBufferPointer { p in
                    m.withUnsafeMutableBufferPointer { mp in
                        v.withUnsafeMutableBufferPointer { vp in
                            adamKernel(p: p.baseAddress!, m: mp.baseAddress!, v: vp.baseAddress!, g: g.baseAddress!, n: n,
                                       gradientScale: gradientScale, decoupled: decoupled, l2: l2,
                                       oneMinusB1: oneMinusB1, b2: b2, oneMinusB2: oneMinusB2,
                                       stepSize: stepSize, bc2Sqrt: bc2Sqrt, eps: eps)
                        }
                    }
                }
            }
            firstMoments[name] = m
            secondMoments[name] = v
        case .sgd:
            let mu = Float(config.momentum), lrf = Float(lr), wdf = Float(wd)
            var buf = firstMoments.removeValue(forKey: name)
            let shape = parameter.shape, nesterov = config.nesterov
            gradient.withUnsafeBufferPointer { g in
                parameter.withUnsafeMutableBufferPointer { p in
                    if mu == 0 {
                        for i in 0..<n { let gi = g[i] * gradientScale + wdf * p[i]; p[i] -= lrf * gi }
                        return
                    }
                    let first = buf == nil
                    if first { buf = Tensor(shape: shape) }
                    buf!.withUnsafeMutableBufferPointer { b in
                        for i in 0..<n {
                            var gi = g[i] * gradientScale
                            if wdf != 0 { gi += wdf * p[i] }
                            b[i] = first ? gi : b[i] * mu + gi
                            let d = nesterov ? gi + mu * b[i] : b[i]
                            p[i] -= lrf * d
                        }
                    }
                }
            }
            if let buf { firstMoments[name] = buf }
        }
    }

    /// Updates every parameter that has a gradient (names in sorted order).
    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor], learningRate: Double,
                              gradientScale: Float = 1) {
        for name in gradients.keys.sorted() where parameters[name] != nil {
            update(name, parameter: &parameters[name]!, gradient: gradients[name]!, learningRate: learningRate,
                   gradientScale: gradientScale)
        }
    }

    /// State as tensors: `{prefix}{name}.exp_avg`, `.exp_avg_sq` (Adam), `.momentum_buffer` (SGD),
    /// `.step` (shape [1]; exact up to 2²⁴ steps).
    public func stateTensors(prefix: String = "optimizer.") -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, t) in steps { out["\(prefix)\(name).step"] = Tensor(shape: [1], scalars: [Float(t)]) }
        let firstKey = config.kind == .sgd ? "momentum_buffer" : "exp_avg"
        for (name, m) in firstMoments { out["\(prefix)\(name).\(firstKey)"] = m }
        for (name, v) in secondMoments { out["\(prefix)\(name).exp_avg_sq"] = v }
        return out
    }

    /// Restores what `stateTensors(prefix:)` wrote for the named parameters (`shapes`: name → shape).
    public mutating func restore(from tensors: [String: Tensor], shapes: [String: [Int]], prefix: String = "optimizer.") throws {
        var m: [String: Tensor] = [:], v: [String: Tensor] = [:], s: [String: Int] = [:]
        let firstKey = config.kind == .sgd ? "momentum_buffer" : "exp_avg"
        for (name, shape) in shapes {
            guard let st = tensors["\(prefix)\(name).step"] else { continue }   // never updated
            s[name] = Int(st.scalars.first ?? 0)
            func load(_ key: String) throws -> Tensor? {
                guard let t = tensors["\(prefix)\(name).\(key)"] else { return nil }
                guard t.shape == shape else { throw OptimizerError.shapeMismatch("\(prefix)\(name).\(key)", expected: shape, found: t.shape) }
                return t
            }
            if config.kind == .sgd {
                if config.momentum != 0 {
                    guard let b = try load(firstKey) else { throw OptimizerError.missingState("\(prefix)\(name).\(firstKey)") }
                    m[name] = b
                }
            } else {
                guard let a = try load("exp_avg") else { throw OptimizerError.missingState("\(prefix)\(name).exp_avg") }
                guard let b = try load("exp_avg_sq") else { throw OptimizerError.missingState("\(prefix)\(name).exp_avg_sq") }
                m[name] = a; v[name] = b
            }
        }
        firstMoments = m; secondMoments = v; steps = s
    }
}

/// The fused Adam(W) loop over flat buffers (see `Optimizer`); `gradientScale` multiplies g first.
@inline(__always)
func adamKernel(p: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                g: UnsafePointer<Float>, n: Int, gradientScale: Float, decoupled: Float, l2: Float,
                oneMinusB1: Float, b2: Float, oneMinusB2: Float, stepSize: Float, bc2Sqrt: Float, eps: Float) {
    Parallel.forEach(n, costPerItem: 8) { range in
        for i in range {
            var pi = p[i]
            var gi = g[i] * gradientScale
            if l2 != 0 { gi += l2 * pi }
            pi *= decoupled
            let mi = m[i] + oneMinusB1 * (gi - m[i])
            let vi = v[i] * b2 + oneMinusB2 * (gi * gi)
            m[i] = mi; v[i] = vi
            p[i] = pi - stepSize * (mi / ((vi.squareRoot() / bc2Sqrt) + eps))
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
