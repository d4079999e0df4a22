import IsaerftCore

/// Token ids for one forward pass: `batch` rows of equal length, with an optional attention mask
/// (false = padding). Positions follow HF `generate`: cumsum(mask) − 1, clipped at 0, so
/// left-padded rows number their real tokens from 0; with no mask, 0..<T.
public struct TokenBatch: Sendable, Equatable {
    public var ids: [[Int]]
    public var mask: [[Bool]]?

    public init(ids: [[Int]], mask: [[Bool]]? = nil) { self.ids = ids; self.mask = mask }
    public init(_ ids: [Int]) { self.ids = [ids]; self.mask = nil }

    public var batch: Int { ids.count }
    public var length: Int { ids.first?.count ?? 0 }

    /// Right-pads rows of different lengths with `pad` and masks the padding.
    public static func padded(_ rows: [[Int]], pad: Int = 0, left: Bool = false) -> TokenBatch {
        let t = rows.map(\.count).max() ?? 0
        let ids = rows.map { r in left ? Array(repeating: pad, count: t - r.count) + r : r + Array(repeating: pad, count: t - r.count) }
        let mask = rows.map { r in
            left ? Array(repeating: false, count: t - r.count) + Array(repeating: true, count: r.count)
                 : Array(repeating: true, count: r.count) + Array(repeating: false, count: t - r.count)
        }
        return TokenBatch(ids: ids, mask: rows.allSatisfy { $0.count == t } ? nil : mask)
    }

    func validate(vocabularySize: Int) throws {
        guard batch > 0, length > 0 else { throw ModelError.emptyInput }
        guard ids.allSatisfy({ $0.count == length }) else { throw ModelError.raggedBatch }
        if let mask, mask.count != batch || !mask.allSatisfy({ $0.count == length }) { throw ModelError.raggedBatch }
        for row in ids { for id in row where id < 0 || id >= vocabularySize {
            throw ModelError.tokenOutOfRange(id, vocabularySize: vocabularySize)
        } }
    }
}

/// Which logits to compute: the output layer is the most expensive product for large vocabularies.
public enum LogitsRequest: Sendable, Equatable {
    case all
    case none
    /// The last position of every row (generation).
    case lastPosition
    /// The given positions of every row, in the order given.
    case positions([Int])
    /// Arbitrary rows of the flattened `batch · length` positions (row `b·T + t`), in the order
    /// given; logits come back as `[1, rows.count, vocab]`. Training on completion tokens only
    /// asks for the rows its loss reads.
    case rows([Int])

    /// The logits tensor's shape for `rowCount` computed rows of a `batch`-row pass.
    func logitsShape(batch: Int, rowCount: Int, vocabularySize: Int) -> [Int] {
        if case .rows = self { return [1, rowCount, vocabularySize] }
        return [batch, rowCount / batch, vocabularySize]
    }
}

/// Where a resumed forward pass starts: the residual stream entering block `layer`
/// (`blocks.layer.hook_resid_pre`, before that hook's edits), so blocks `< layer` and the embedding
/// are skipped. `layer == layerCount` runs only the final norm and the head. Positions, padding
/// masks and RoPE still come from the `TokenBatch`; local/global attention follows the absolute
/// layer index. Used when the model below a hook is frozen and its activation is cached.
public struct ResidualStart: Sendable {
    public var layer: Int
    /// `[batch, length, d_model]` (a `[batch·length, d_model]` tensor is accepted too).
    public var residual: Tensor

    public init(layer: Int, residual: Tensor) { self.layer = layer; self.residual = residual }
}

/// Options of one forward pass.
public struct ForwardOptions {
    public var hooks: HookSet
    public var logits: LogitsRequest
    /// Keep every intermediate activation so `backward` can run.
    public var retainForBackward: Bool
    /// Run blocks 0...stopAfterLayer only (no final norm, no logits), like TransformerLens `stop_at_layer = L + 1`.
    public var stopAfterLayer: Int?
    /// Resume from a residual stream instead of embedding the tokens (see `ResidualStart`). Hooks
    /// before `blocks.start.hook_resid_pre` (capture, edit or gradient) are an error.
    public var start: ResidualStart?

    public init(hooks: HookSet = HookSet(), logits: LogitsRequest = .all, retainForBackward: Bool = false,
                stopAfterLayer: Int? = nil, start: ResidualStart? = nil) {
        self.hooks = hooks; self.logits = logits; self.retainForBackward = retainForBackward
        self.stopAfterLayer = stopAfterLayer; self.start = start
    }

    /// Checks `start` against a model of `layerCount` blocks of width `width` and the batch, and
    /// that no hook runs before it. Returns the first block to run (0 without a start).
    func firstLayer(layerCount: Int, width: Int, batch B: Int, length T: Int, cached: Bool) throws -> Int {
        guard let start else { return 0 }
        guard start.layer >= 0 && start.layer <= layerCount else {
            throw ModelError.invalidStart("layer \(start.layer) is outside 0...\(layerCount)")
        }
        guard start.residual.count == B * T * width,
              start.residual.shape == [B, T, width] || start.residual.shape == [B * T, width] else {
            throw ModelError.invalidStart("the residual has shape \(start.residual.shape), the batch needs [\(B), \(T), \(width)]")
        }
        if cached { throw ModelError.invalidStart("a resumed pass cannot extend a KV cache") }
        if let stop = stopAfterLayer, stop < start.layer {
            throw ModelError.invalidStart("stop after layer \(stop) is before the start at layer \(start.layer)")
        }
        let first = Self.firstHook(start.layer, layerCount: layerCount)
        for h in hooks.touchedHooks where h.order(layerCount: layerCount) < first.order(layerCount: layerCount) {
            throw ModelError.hookBeforeStart(h.description, start: first.description)
        }
        return start.layer
    }

    /// The first hook a pass resumed at `layer` runs.
    static func firstHook(_ layer: Int, layerCount: Int) -> HookPoint {
        layer < layerCount ? .residPre(layer) : .lnFinalScale
    }
}

/// The result of a forward pass.
public struct ForwardResult {
    /// `[batch, positions, vocab]` as requested by `LogitsRequest` (nil for `.none` or a stopped pass).
    public var logits: Tensor?
    /// Captured hook values (after edits), TransformerLens shapes.
    public var captured: [HookPoint: Tensor]
    /// Saved activations for `backward` (when `retainForBackward`).
    public var activations: ModelActivations?
}

/// Saved state of one GPT-2 block for the backward pass. Rows are `batch · length`.
public struct GPT2BlockActivations: Sendable {
    var residPre: Tensor               // [N, d]
    var ln1Out: Tensor, ln1Mean: Tensor, ln1Rstd: Tensor
    var q: Tensor, k: Tensor, v: Tensor  // [N, d] each (heads contiguous)
    var probs: Tensor                  // [B, H, T, T]
    var z: Tensor                      // [N, d]
    var residMid: Tensor
    var ln2Out: Tensor, ln2Mean: Tensor, ln2Rstd: Tensor
    var mlpPre: Tensor, mlpPost: Tensor  // [N, m]
}

/// Everything `backward` needs from a forward pass.
public struct GPT2Activations: Sendable {
    public internal(set) var batch: Int
    public internal(set) var length: Int
    var ids: [Int]
    var positions: [Int]
    var keyMask: [Bool]?
    var blocks: [GPT2BlockActivations]
    var residFinal: Tensor?
    var lnfOut: Tensor?, lnfMean: Tensor?, lnfRstd: Tensor?
    /// Row indices (into the N rows) whose logits were computed, in output order.
    var logitRows: [Int]
    /// The first block that ran (`ForwardOptions.start`; `blocks[i]` is block `firstLayer + i`).
    var firstLayer = 0
    /// True when the pass was resumed from a residual (`ForwardOptions.start`).
    var resumed = false
    /// VJPs of the gradient-aware edits that ran.
    var vjps = EditVJPs()
}

// MARK: - Shared pass set-up

/// Positions and key mask of one pass, continuing a KV cache when there is one (HF `generate`
/// semantics: positions = cumsum(mask) − 1 clipped at 0; padding keys are never attended to).
struct PassLayout {
    var positions: [Int]
    var keyMask: [Bool]?

    init(_ batch: TokenBatch, cache: inout KVCache?, contextLength: Int) throws {
        let B = batch.batch, T = batch.length, N = B * T
        let rowMask = batch.mask?.flatMap { $0 }
        positions = [Int](repeating: 0, count: N)
        for b in 0..<B {
            var next = cache?.nextPosition[b] ?? 0
            for t in 0..<T {
                let real = rowMask?[b * T + t] ?? true
                positions[b * T + t] = real ? next : max(0, next - 1)
                if real { next += 1 }
            }
            if cache != nil { cache!.nextPosition[b] = next }
        }
        for p in positions where p >= contextLength { throw ModelError.sequenceTooLong(p + 1, maximum: contextLength) }
        if cache != nil {
            cache!.appendMask(rowMask ?? [Bool](repeating: true, count: N), batch: B, length: T)
            keyMask = cache!.keyMaskIfNeeded
        } else {
            keyMask = rowMask
        }
    }
}

extension LogitsRequest {
    /// Row indices (into the `batch · length` rows) whose logits are computed, in output order.
    func rows(batch B: Int, length T: Int) throws -> [Int] {
        switch self {
        case .all: return Array(0..<(B * T))
        case .none: return []
        case .lastPosition: return (0..<B).map { $0 * T + T - 1 }
        case .positions(let ps):
            for p in ps where p < 0 || p >= T { throw ModelError.invalidConfig("logit position \(p) outside 0..<\(T)") }
            return (0..<B).flatMap { b in ps.map { b * T + $0 } }
        case .rows(let rs):
            for r in rs where r < 0 || r >= B * T { throw ModelError.invalidConfig("logit row \(r) outside 0..<\(B * T)") }
            return rs
        }
    }
}
