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

/// The vector–Jacobian product of one edit: maps, in place, d loss / d (value after the edit) to
/// d loss / d (value before the edit). Both have the hook's TransformerLens shape.
public typealias HookVJP = (_ gradient: inout Tensor) -> Void

/// An edit that also returns its vector–Jacobian product for the backward pass. The returned
/// closure may keep whatever the edit needs (masks, statistics) from this forward call.
public typealias GradientHookEdit = (_ value: inout Tensor, _ context: HookContext) -> HookVJP

/// What to do at hook points during one forward pass: which values to capture and which to edit.
///
/// Edits run in insertion order; a captured value is the value after all edits of that hook (as
/// TransformerLens' cache records hook outputs).
///
/// Gradients: `backward` reports the gradient at a hook with respect to the value **after** all
/// its edits, then continues down with the gradient with respect to the value **before** them:
/// it applies the VJPs of gradient-aware edits (`editWithGradient(_:_:)`) in reverse edit order.
/// A plain edit (`edit(_:_:)`, `replace`) counts as the identity — as if its output were
/// `value + stopgrad(edit(value) − value)` — which is exact for additive steering and the right
/// rule for edits that should carry no gradient. Gradient-aware edits are supported at every hook
/// whose gradient `backward` can report; elsewhere `backward` refuses them.
public struct HookSet {
    /// One stored edit; a plain edit returns no VJP (the identity).
    typealias StoredEdit = (_ value: inout Tensor, _ context: HookContext) -> HookVJP?

    public var capture: Set<HookPoint>
    private(set) var edits: [HookPoint: [StoredEdit]] = [:]

    public init(capture: Set<HookPoint> = []) { self.capture = capture }

    /// Adds an edit at `hook` (several edits of the same hook run in the order added). The backward
    /// pass treats it as the identity.
    public mutating func edit(_ hook: HookPoint, _ body: @escaping HookEdit) {
        edits[hook, default: []].append { v, c in body(&v, c); return nil }
    }

    /// Adds an edit whose vector–Jacobian product the backward pass applies (see the type's notes).
    public mutating func editWithGradient(_ hook: HookPoint, _ body: @escaping GradientHookEdit) {
        edits[hook, default: []].append { v, c in body(&v, c) }
    }

    /// Replaces the value at `hook` with `value` (its shape must match the hook's). Counts as the
    /// identity in the backward pass.
    public mutating func replace(_ hook: HookPoint, with value: Tensor) {
        edit(hook) { v, _ in v = value }
    }

    /// The hooks that have edits.
    public var editedHooks: Set<HookPoint> { Set(edits.keys) }

    var isEmpty: Bool { capture.isEmpty && edits.isEmpty }
    func touches(_ h: HookPoint) -> Bool { capture.contains(h) || edits[h] != nil }
    /// Every hook the set captures or edits.
    var touchedHooks: Set<HookPoint> { capture.union(edits.keys) }
}

/// The VJPs of the gradient-aware edits of one forward pass, per hook in edit order (kept in
/// `ModelActivations` when `retainForBackward`).
struct EditVJPs: @unchecked Sendable {   // closures are only run by the backward of the pass that made them
    var byHook: [HookPoint: [HookVJP]] = [:]

    /// Applies the VJPs of `h` in reverse edit order to `g` seen under the hook's `shape`.
    func pull(_ h: HookPoint, _ g: inout Tensor, shape: [Int]) {
        guard let vjps = byHook[h] else { return }
        let internalShape = g.shape
        var t = g.reshaped(shape)
        for v in vjps.reversed() { v(&t) }
        precondition(t.shape == shape, "the VJP of an edit at \(h) changed the gradient's shape \(shape) to \(t.shape)")
        g = t.reshaped(internalShape)
    }
}
