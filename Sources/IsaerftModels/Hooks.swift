import IsaerftCore

/// Where a hook's value sits when an edit runs.
public struct HookContext: Sendable {
    /// Number of sequences in the batch.
    public var batch: Int
    /// Positions in this call (1 during a KV-cache decode step).
    public var length: Int
    /// Absolute position of this call's first token (0 for a full pass; the cache length while generating).
    public var positionOffset: Int
}

/// Changes a hook's value in place. The shape must stay as given (TransformerLens shapes, see `HookPoint`).
public typealias HookEdit = (_ value: inout Tensor, _ context: HookContext) -> Void

/// What to do at hook points during one forward pass: which values to capture and which to edit.
///
/// Edits run in insertion order; a captured value is the value after all edits of that hook (as
/// TransformerLens' cache records hook outputs). The backward pass treats an edit as the identity
/// (the gradient at a hook is taken with respect to the edited value).
public struct HookSet {
    public var capture: Set<HookPoint>
    public private(set) var edits: [HookPoint: [HookEdit]] = [:]

    public init(capture: Set<HookPoint> = []) { self.capture = capture }

    /// Adds an edit at `hook` (several edits of the same hook run in the order added).
    public mutating func edit(_ hook: HookPoint, _ body: @escaping HookEdit) {
        edits[hook, default: []].append(body)
    }

    /// Replaces the value at `hook` with `value` (its shape must match the hook's).
    public mutating func replace(_ hook: HookPoint, with value: Tensor) {
        edit(hook) { v, _ in v = value }
    }

    var isEmpty: Bool { capture.isEmpty && edits.isEmpty }
    func touches(_ h: HookPoint) -> Bool { capture.contains(h) || edits[h] != nil }
}

