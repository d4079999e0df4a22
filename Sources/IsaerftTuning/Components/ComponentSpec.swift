/// Which kind of trainable component acts on the SAE latents (isaerft-method.md §3).
public enum ComponentKind: String, Codable, Sendable, CaseIterable {
    /// Per-latent scaling `φ(f) = (1 + p(s)) ⊙ f`, `s = 0` at start (IA3-style; the May 2025 prototype).
    case scale
    /// Latent-space bias `φ(f) = f + b`, `b = 0` at start (the prototype's "BiasOnly").
    case bias
    /// Residual MLP on latents `φ(f) = f + F(f)`, last layer zero at start.
    case mlp
}

/// The scale processor `p` of a scale component (the multiplier is `1 + p(s)`).
public enum ScaleProcessor: String, Codable, Sendable, CaseIterable {
    /// `p(s) = s`.
    case identity
    /// "Amplify only": `p(s) = |s|` with the derivative `sign(s)` taken as +1 at `s = 0` (plain `abs`
    /// has derivative 0 there and would freeze training at the zero init; the prototype's
    /// `grad_1_abs`). The multiplier is then ≥ 1: this processor **forbids down-scaling** a latent.
    case abs
}

/// Which token positions a component acts on (isaerft-method.md §10 item 6: the prototype edited
/// every position, padding included). Padding is never edited.
public enum ComponentPositions: String, Codable, Sendable, CaseIterable {
    /// Every real (non-padding) position.
    case all
    /// Positions `t < promptLength`.
    case prompt
    /// Positions `t ≥ promptLength` (the completion tokens themselves; the last prompt position, which
    /// predicts the first completion token, is a prompt position).
    case completion

    /// The row mask `[batch · length]` (row `b·T + t`) of the positions this selection edits.
    /// - Parameters:
    ///   - promptLengths: prompt tokens per sequence (ignored for `.all`).
    ///   - realLengths: real (non-padding) tokens per sequence, right padding assumed.
    public func rowMask(promptLengths: [Int], realLengths: [Int], length T: Int) -> [Bool] {
        precondition(promptLengths.count == realLengths.count, "rowMask: \(promptLengths.count) prompt lengths for \(realLengths.count) sequences")
        var mask = [Bool](repeating: false, count: realLengths.count * T)
        for b in 0..<realLengths.count {
            let lo: Int, hi: Int
            switch self {
            case .all: (lo, hi) = (0, realLengths[b])
            case .prompt: (lo, hi) = (0, min(promptLengths[b], realLengths[b]))
            case .completion: (lo, hi) = (promptLengths[b], realLengths[b])
            }
            if lo < hi { for t in lo..<min(hi, T) { mask[b * T + t] = true } }
        }
        return mask
    }
}

/// What a component is, as written to an adapter's `adapter_config.json` (`training-objectives.md` §7):
/// `{"kind": "scale", "depth": …, "hidden_size": …, "scale_processor": "identity", "scale_limit": …,
/// "active_only": false, "positions": "all"}`. Every component starts as the exact identity.
public struct ComponentSpec: Codable, Sendable, Equatable {
    public var kind: ComponentKind
    /// mlp only: −1 = a constant `c` (same as a bias), 0 = `W f + c`, k ≥ 1 = k hidden layers of
    /// width `hiddenSize`, each followed by ReLU.
    public var depth: Int
    /// mlp with depth ≥ 1: width of the hidden layers.
    public var hiddenSize: Int
    /// scale only.
    public var scaleProcessor: ScaleProcessor
    /// scale only, optional: bounds the processed scale to `(−L, L)` by `p(s) ← L·tanh(p(s)/L)`
    /// (still the identity at `s = 0`, derivative 1 there). nil: unbounded.
    public var scaleLimit: Float?
    /// bias only: add `b_i` only where the latent is active (`f_i > 0`), so the bias never switches a
    /// latent on. false: everywhere (a steering vector in latent space).
    public var activeOnly: Bool
    public var positions: ComponentPositions

    public init(kind: ComponentKind, depth: Int = 1, hiddenSize: Int = 64, scaleProcessor: ScaleProcessor = .identity,
                scaleLimit: Float? = nil, activeOnly: Bool = false, positions: ComponentPositions = .all) {
        self.kind = kind; self.depth = depth; self.hiddenSize = hiddenSize; self.scaleProcessor = scaleProcessor
        self.scaleLimit = scaleLimit; self.activeOnly = activeOnly; self.positions = positions
    }

    public static func scale(_ processor: ScaleProcessor = .identity, limit: Float? = nil) -> ComponentSpec {
        ComponentSpec(kind: .scale, scaleProcessor: processor, scaleLimit: limit)
    }
    public static func bias(activeOnly: Bool = false) -> ComponentSpec { ComponentSpec(kind: .bias, activeOnly: activeOnly) }
    public static func mlp(depth: Int, hiddenSize: Int = 64) -> ComponentSpec { ComponentSpec(kind: .mlp, depth: depth, hiddenSize: hiddenSize) }

    private enum Key: String, CodingKey {
        case kind, depth, hiddenSize = "hidden_size", scaleProcessor = "scale_processor", scaleLimit = "scale_limit"
        case activeOnly = "active_only", positions
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        kind = try c.decode(ComponentKind.self, forKey: .kind)
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? 1
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? 64
        scaleProcessor = try c.decodeIfPresent(ScaleProcessor.self, forKey: .scaleProcessor) ?? .identity
        scaleLimit = try c.decodeIfPresent(Float.self, forKey: .scaleLimit)
        activeOnly = try c.decodeIfPresent(Bool.self, forKey: .activeOnly) ?? false
        positions = try c.decodeIfPresent(ComponentPositions.self, forKey: .positions) ?? .all
        if kind == .mlp && depth < -1 {
            throw DecodingError.dataCorruptedError(forKey: .depth, in: c, debugDescription: "mlp depth \(depth) is below −1")
        }
        if kind == .mlp && depth >= 1 && hiddenSize < 1 {
            throw DecodingError.dataCorruptedError(forKey: .hiddenSize, in: c, debugDescription: "mlp hidden_size \(hiddenSize) must be ≥ 1")
        }
        if let l = scaleLimit, !(l > 0) {
            throw DecodingError.dataCorruptedError(forKey: .scaleLimit, in: c, debugDescription: "scale_limit \(l) must be > 0")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind, forKey: .kind)
        switch kind {
        case .scale:
            try c.encode(scaleProcessor, forKey: .scaleProcessor)
            try c.encodeIfPresent(scaleLimit, forKey: .scaleLimit)
        case .bias:
            try c.encode(activeOnly, forKey: .activeOnly)
        case .mlp:
            try c.encode(depth, forKey: .depth)
            if depth >= 1 { try c.encode(hiddenSize, forKey: .hiddenSize) }
        }
        try c.encode(positions, forKey: .positions)
    }
}

/// Errors of building or loading components and interventions.
public enum ComponentError: Error, CustomStringConvertible, Equatable {
    case invalidSpec(String)
    case missingTensor(String)
    case unexpectedTensor(String)
    case shapeMismatch(String, expected: [Int], found: [Int])
    case noForwardRecorded(hook: String)
    case widthMismatch(hook: String, expected: Int, found: [Int])

    public var description: String {
        switch self {
        case .invalidSpec(let why): "invalid component: \(why)"
        case .missingTensor(let k): "component tensor \(k) is missing"
        case .unexpectedTensor(let k): "tensor \(k) does not belong to this component"
        case let .shapeMismatch(k, e, f): "component tensor \(k): expected shape \(e), found \(f)"
        case .noForwardRecorded(let h): "intervention at \(h): backward called before a forward pass recorded its input"
        case let .widthMismatch(h, e, f): "intervention at \(h): hook value \(f) does not give rows of d_in = \(e)"
        }
    }
}
