import Foundation
import IsaerftCore

/// A trainable component φ acting per token on post-activation SAE latents `f` `[n, d_sae]`
/// (isaerft-method.md §3). Every kind starts as the exact identity (δ = φ(f) − f = 0), which makes
/// "component off" a valid DPO reference, and has an on/off switch (`isEnabled`).
///
/// Parameters (`parameters`, in the order of `parameterNames`), under the adapter keys of
/// `training-objectives.md` §7:
/// - scale: `<hook>.scale` `[d_sae]` — φ(f) = (1 + p(s)) ⊙ f;
/// - bias: `<hook>.bias` `[d_sae]` — φ(f) = f + b (optionally only where f > 0);
/// - mlp: `<hook>.mlp.<i>.weight` `[out, in]` (the `nn.Linear` layout) and `<hook>.mlp.<i>.bias` `[out]`
///   for layers i = 0…depth (depth −1: only `mlp.0.bias`, a constant) — φ(f) = f + F(f) with ReLU
///   after every hidden layer (the prototype applied none after the last hidden layer), hidden
///   weights Xavier-uniform from a seeded SplitMix64, hidden biases 0, last layer zero.
///
/// `forward` returns δ in the cheapest exact form (`LatentDelta`) and a cache; `backward` maps
/// d loss/dδ (in the matching `LatentDeltaGradient` form) to one gradient per parameter.
public struct LatentComponent: Sendable {
    public let spec: ComponentSpec
    public let latentCount: Int
    /// Off: δ = 0 and the intervention leaves its hook untouched (the base model, bit for bit).
    public var isEnabled: Bool = true
    /// The parameters, in the order of `parameterNames`; update them in place (SGD, Adam).
    public var parameters: [Tensor]

    /// A fresh, identity-initialised component.
    /// - Parameter seed: seeds the Xavier-uniform hidden weights of an mlp (unused otherwise).
    public init(spec: ComponentSpec, latentCount d: Int, seed: UInt64 = 0) throws {
        guard d > 0 else { throw ComponentError.invalidSpec("d_sae \(d) must be positive") }
        self.spec = spec
        self.latentCount = d
        let shapes = try Self.parameterShapes(spec, d)
        parameters = shapes.map { Tensor(shape: $0) }
        if spec.kind == .mlp && spec.depth >= 1 {
            var rng = SplitMix64(seed: seed)
            for layer in 0..<spec.depth {           // hidden layers: Xavier uniform, bias 0
                let idx = 2 * layer, shape = shapes[idx]
                let bound = Float((6.0 / Double(shape[0] + shape[1])).squareRoot())
                for i in 0..<parameters[idx].count { parameters[idx].scalars[i] = (2 * rng.nextUnitFloat() - 1) * bound }
            }
        }
    }

    /// A component with the given parameters (checked against the spec's shapes).
    public init(spec: ComponentSpec, latentCount d: Int, parameters: [Tensor]) throws {
        let shapes = try Self.parameterShapes(spec, d)
        guard parameters.count == shapes.count else {
            throw ComponentError.invalidSpec("\(parameters.count) parameter tensors for a \(spec.kind.rawValue) component with \(shapes.count)")
        }
        for (i, (p, s)) in zip(parameters, shapes).enumerated() where p.shape != s {
            throw ComponentError.shapeMismatch(Self.localNames(spec)[i], expected: s, found: p.shape)
        }
        self.spec = spec; self.latentCount = d; self.parameters = parameters
    }

    /// Loads this component's tensors from an adapter's tensors (keys `"<hookName>.…"`, other hooks'
    /// keys are ignored). Every expected key must be present with its shape, and no other key may
    /// start with `"<hookName>."`.
    public init(spec: ComponentSpec, latentCount d: Int, hookName: String, tensors: [String: Tensor]) throws {
        let names = try Self.parameterNames(spec, d, hookName: hookName)
        let shapes = try Self.parameterShapes(spec, d)
        var params: [Tensor] = []
        for (name, shape) in zip(names, shapes) {
            guard let t = tensors[name] else { throw ComponentError.missingTensor(name) }
            guard t.count == shape.reduce(1, *), t.shape == shape || t.shape == [t.count] && shape.count == 1 else {
                throw ComponentError.shapeMismatch(name, expected: shape, found: t.shape)
            }
            params.append(t.reshaped(shape))
        }
        let known = Set(names)
        if let extra = tensors.keys.sorted().first(where: { $0.hasPrefix(hookName + ".") && !known.contains($0) }) {
            throw ComponentError.unexpectedTensor(extra)
        }
        try self.init(spec: spec, latentCount: d, parameters: params)
    }

    /// Adapter keys of the parameters, in order.
    public func parameterNames(hookName: String) -> [String] {
        Self.localNames(spec).map { "\(hookName).\($0)" }
    }

    /// `(key, tensor)` for every parameter, for saving.
    public func namedParameters(hookName: String) -> [(String, Tensor)] {
        Array(zip(parameterNames(hookName: hookName), parameters))
    }

    /// Number of trainable floats.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// True when δ = 0 for every input (all parameters of scale/bias zero; the last mlp layer zero).
    public var isIdentity: Bool {
        switch spec.kind {
        case .scale, .bias: return parameters[0].scalars.allSatisfy { $0 == 0 }
        case .mlp:
            let last = parameters.count - (spec.depth == -1 ? 1 : 2)
            return parameters[last...].allSatisfy { $0.scalars.allSatisfy { $0 == 0 } }
        }
    }

    static func localNames(_ spec: ComponentSpec) -> [String] {
        switch spec.kind {
        case .scale: return ["scale"]
        case .bias: return ["bias"]
        case .mlp:
            if spec.depth == -1 { return ["mlp.0.bias"] }
            return (0...spec.depth).flatMap { ["mlp.\($0).weight", "mlp.\($0).bias"] }
        }
    }

    static func parameterNames(_ spec: ComponentSpec, _ d: Int, hookName: String) throws -> [String] {
        _ = try parameterShapes(spec, d)
        return localNames(spec).map { "\(hookName).\($0)" }
    }

    /// Shapes in parameter order.
    static func parameterShapes(_ spec: ComponentSpec, _ d: Int) throws -> [[Int]] {
        switch spec.kind {
        case .scale:
            if let l = spec.scaleLimit, !(l > 0) { throw ComponentError.invalidSpec("scale_limit \(l) must be > 0") }
            return [[d]]
        case .bias: return [[d]]
        case .mlp:
            let k = spec.depth, h = spec.hiddenSize
            if k < -1 { throw ComponentError.invalidSpec("mlp depth \(k) is below −1") }
            if k == -1 { return [[d]] }
            if k == 0 { return [[d, d], [d]] }
            guard h >= 1 else { throw ComponentError.invalidSpec("mlp hidden_size \(h) must be ≥ 1") }
            var shapes: [[Int]] = [[h, d], [h]]
            for _ in 1..<k { shapes += [[h, h], [h]] }
            return shapes + [[d, h], [d]]
        }
    }
}
