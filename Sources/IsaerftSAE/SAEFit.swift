import IsaerftCore
import IsaerftModels

extension SparseAutoencoder {
    /// The hook point named by `metadata.hook_name` (TransformerLens name).
    public func hookPoint() throws -> HookPoint {
        guard let name = config.hookName else { throw SAEError.noHook }
        guard let h = HookPoint(name: name) else {
            throw SAEError.unknownHook(name, reason: "not a TransformerLens hook name this library supports")
        }
        return h
    }

    /// Checks that this SAE can be spliced into `model` at its hook (or `hook` when given):
    /// the hook exists in the model, the hook's width equals `d_in` (`n_heads·d_head` for
    /// `hook_z`-style hooks, `d_head` with a `hook_head_index`), and, when `modelName` is given and
    /// the SAE names its model, the names agree (`gpt2` = `gpt2-small` = `openai-community/gpt2`;
    /// organisation prefixes and case are ignored).
    ///
    /// The check cannot see weight processing: SAEs with `expectsCenteredWritingWeights`
    /// (gpt2-small-res-jb) need the model loaded with `GPT2Model.centeringWritingWeights()`.
    public func checkFits(model: any HookedLanguageModel, modelName: String?, at hook: HookPoint? = nil) throws {
        if let modelName, let saeModel = config.modelName, !Self.sameModel(saeModel, modelName) {
            throw SAEError.modelMismatch(saeModel: saeModel, model: modelName)
        }
        let point = try hook ?? hookPoint()
        if let l = point.layer, l >= model.layerCount {
            throw SAEError.unknownHook(point.description, reason: "the model has blocks 0..<\(model.layerCount)")
        }
        guard model.hookPoints.contains(point) else {
            throw SAEError.unknownHook(point.description, reason: "the model has no such hook point")
        }
        let tail = try Self.hookValueTail(point, in: model)
        let width: Int
        if let head = config.hookHeadIndex {
            guard tail.count == 2 else {
                throw SAEError.unknownHook(point.description, reason: "hook_head_index \(head) given, but the hook has no head axis")
            }
            guard head >= 0 && head < tail[0] else {
                throw SAEError.unknownHook(point.description, reason: "hook_head_index \(head) is outside 0..<\(tail[0])")
            }
            width = tail[1]
        } else {
            width = tail.reduce(1, *)
        }
        guard width == dIn else { throw SAEError.widthMismatch(hook: point.description, saeWidth: dIn, modelWidth: width) }
    }

    /// The per-position shape of `hook`'s value (`[d]`, or `[n_heads, d_head]` for q/k/v/z), read
    /// from a one-token forward pass that stops after the hook's block.
    public static func hookValueTail(_ hook: HookPoint, in model: any HookedLanguageModel) throws -> [Int] {
        let token = model.bosTokenID ?? 0
        var options = ForwardOptions(hooks: HookSet(capture: [hook]), logits: .none)
        options.stopAfterLayer = hook.layer
        let out = try model.forward(TokenBatch([token]), options: options)
        guard let v = out.captured[hook] else { throw SAEError.unknownHook(hook.description, reason: "the model did not produce it") }
        switch hook {
        case .attnQ, .attnK, .attnV, .attnZ, .rotQ, .rotK: return Array(v.shape.dropFirst(2))
        case .attnScores, .attnPattern: return Array(v.shape.dropFirst(1))
        default: return Array(v.shape.dropFirst(2))
        }
    }

    /// Model names compared loosely: case and an organisation prefix are ignored, and
    /// TransformerLens aliases map to HF names (`gpt2-small` → `gpt2`).
    public static func sameModel(_ a: String, _ b: String) -> Bool {
        canonicalModel(a) == canonicalModel(b)
    }

    static func canonicalModel(_ name: String) -> String {
        var n = name.lowercased()
        if let slash = n.lastIndex(of: "/") { n = String(n[n.index(after: slash)...]) }
        let aliases = ["gpt2-small": "gpt2", "gpt2-medium": "gpt2-medium", "llama-3.1-8b": "llama-3.1-8b"]
        return aliases[n] ?? n
    }
}
