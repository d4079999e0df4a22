import Foundation
import IsaerftCore
import IsaerftData
import IsaerftModels

/// Training activations for SAEs, deterministic and resumable: text → contexts → hook values → rows →
/// shuffled batches (SAELens `ActivationsStore`, §5.5 of the notes, organised for exact resume).
///
/// - **Contexts**: the dataset is packed by `ContextPacker` (SAELens packing: documents joined with
///   BOS, `prepend_bos` per context). The first `heldOutContexts` contexts are reserved for
///   evaluation; training context `t` is packed context `heldOut + t`, cycling over the dataset when
///   it runs out (a new epoch with new shuffles).
/// - **Shards** of `contextsPerShard` contexts are the unit of model computation: forward passes of
///   `contextsPerForward` contexts with `stopAfterLayer` = the hook's layer, capturing the hook (`hook_z`
///   values flattened over heads). Shards are cached on disk when a cache folder is given; a cached
///   shard is bit-identical to a computed one because the computation is the same.
/// - **Chunks**: chunk `k` holds training contexts `[k·C, (k+1)·C)`; its rows are every position whose
///   token is not excluded (SAELens `exclude_special_tokens`), shuffled with a SplitMix64 seeded from
///   `(seed, k)`, then cut into batches of `batchSize`. **Rows left over after the last whole batch of
///   a chunk are dropped** (about ½ batch per chunk; C is sized for `batchesPerChunk + ½` batches).
/// - **Resume**: the stream position is an `ActivationCursor` (chunk, batch); `seek` regenerates only
///   that chunk, so a resumed run reads exactly the batches an uninterrupted run reads.
public final class ActivationStore {
    public let source: ActivationSource
    public let options: ActivationStoreOptions
    /// Width of one row (the hook's width; `n_heads·d_head` for `hook_z`).
    public private(set) var dIn = 0
    /// Contexts per chunk.
    public let chunkContexts: Int
    /// The next batch `nextBatch()` returns.
    public private(set) var cursor = ActivationCursor()

    private var onEvent: (ActivationStoreEvent) -> Void
    private var contexts: [[Int]] = []
    private var exhausted = false
    private let cache: ActivationCacheFolder?
    private var chunk: (index: Int, rows: Tensor, batches: Int)?
    private var shardMemo: (index: Int, activations: Tensor, tokens: [Int])?
    private var stopLayer: Int?

    /// Packs the first contexts, measures the hook width on the first context and opens the cache.
    /// - Throws: `ActivationStoreError` (too little text, a mismatching cache under `.requireReuse`),
    ///   tokenizer and model errors.
    public init(source: ActivationSource, options: ActivationStoreOptions,
                onEvent: @escaping (ActivationStoreEvent) -> Void = { _ in }) throws {
        precondition(options.batchSize > 0 && options.batchesPerChunk > 0 && options.contextsPerShard > 0 && options.contextsPerForward > 0,
                     "ActivationStore: sizes must be positive")
        self.source = source
        self.options = options
        self.onEvent = onEvent
        let usable = source.contextSize - (source.prependBOS ? 1 : 0)
        guard usable > 0 else { throw ActivationStoreError.notEnoughData("context size \(source.contextSize) leaves no token per context") }
        chunkContexts = (options.batchesPerChunk * options.batchSize + options.batchSize / 2 + usable - 1) / usable
        switch source.hook {
        case .lnFinalScale, .lnFinalNormalized: stopLayer = nil
        default: stopLayer = source.hook.layer ?? 0
        }
        cache = options.cacheDirectory.map { ActivationCacheFolder(url: $0) }
        let planned = options.plannedBatches.map { ($0 + options.batchesPerChunk - 1) / options.batchesPerChunk + 1 } ?? 1
        try ensurePacked(options.heldOutContexts + planned * chunkContexts)
        guard contexts.count > options.heldOutContexts else {
            throw ActivationStoreError.notEnoughData(
                "\(source.dataset.source): \(contexts.count) contexts of \(source.contextSize) tokens, not enough for \(options.heldOutContexts) held-out contexts and training")
        }
        // Probe: the first context's hook values give d_in and pin the computation in the manifest.
        let probe = try Self.hookRows(source: source, contexts: [contexts[0]], stopLayer: stopLayer)
        dIn = probe.matrixShape.cols
        if let cache { try openCache(cache, probe: probe) }
    }

    /// The held-out contexts (evaluation), `[heldOutContexts][contextSize]`.
    public var heldOutContexts: [[Int]] { Array(contexts.prefix(options.heldOutContexts)) }

    // MARK: - Reading

    /// The batch at the cursor, `[batchSize, d_in]`; advances the cursor.
    public func nextBatch() throws -> Tensor {
        while true {
            let c = try loadChunk(cursor.chunk)
            if cursor.batch < c.batches {
                let b = c.rows.rows((cursor.batch * options.batchSize)..<((cursor.batch + 1) * options.batchSize))
                cursor.batch += 1
                if cursor.batch == c.batches { cursor = ActivationCursor(chunk: cursor.chunk + 1, batch: 0) }
                return b
            }
            cursor = ActivationCursor(chunk: cursor.chunk + 1, batch: 0)
        }
    }

    /// Moves to `cursor` (from a checkpoint); the chunk is regenerated when the next batch is read.
    public func seek(to cursor: ActivationCursor) { self.cursor = cursor }

    /// SAELens `ActivationScaler.estimate_scaling_factor`: `√d_in / mean‖x‖` over the rows of the first
    /// `batches` batches of the stream (SAELens averages per-batch means; batches are equal in size,
    /// so this is the same). Leaves the cursor where it was.
    public func estimateNormScalingFactor(batches: Int) throws -> Double {
        precondition(batches > 0, "estimateNormScalingFactor: batches \(batches)")
        let saved = cursor
        defer { cursor = saved }
        cursor = ActivationCursor()
        var total = 0.0, rows = 0
        for _ in 0..<batches {
            let b = try nextBatch()
            let (n, d) = b.matrixShape
            b.withUnsafeBufferPointer { p in
                for r in 0..<n {
                    var s = 0.0
                    for j in 0..<d { let v = Double(p[r * d + j]); s += v * v }
                    total += s.squareRoot()
                }
            }
            rows += n
        }
        return Double(dIn).squareRoot() / (total / Double(rows))
    }

    /// The mean training row over the first `batches` batches, each row multiplied by `scale` first
    /// (`[d_in]`): an initial `b_dec` that centres the SAE's input (SAELens' `b_dec_init_method="mean"`).
    /// Reads from the start of the stream and leaves the cursor where it was.
    public func estimateMean(batches: Int, scale: Double? = nil) throws -> [Float] {
        precondition(batches > 0, "estimateMean: batches \(batches)")
        let saved = cursor
        defer { cursor = saved }
        cursor = ActivationCursor()
        var sum = [Double](repeating: 0, count: dIn), rows = 0
        for _ in 0..<batches {
            let b = try nextBatch()
            let (n, d) = b.matrixShape
            b.withUnsafeBufferPointer { p in
                for r in 0..<n { for j in 0..<d { sum[j] += Double(p[r * d + j]) } }
            }
            rows += n
        }
        let f = (scale ?? 1) / Double(max(rows, 1))
        return sum.map { Float($0 * f) }
    }

    // MARK: - Chunks

    /// Seed of chunk `k`'s shuffle.
    static func chunkSeed(_ seed: UInt64, _ k: Int) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (UInt64(k) &* 0xD1B5_4A32_D192_ED03))
        return g.next()
    }

    private func loadChunk(_ k: Int) throws -> (index: Int, rows: Tensor, batches: Int) {
        if let c = chunk, c.index == k { return c }
        let first = k * chunkContexts
        var rowsOut: [Float] = []
        rowsOut.reserveCapacity(chunkContexts * source.contextSize * dIn)
        let ctx = source.contextSize
        for t in first..<(first + chunkContexts) {
            let g = try globalContext(t)
            let shard = try loadShard(g / options.contextsPerShard)
            let base = (g % options.contextsPerShard) * ctx
            shard.activations.withUnsafeBufferPointer { p in
                for pos in 0..<ctx where !options.excludedTokens.contains(shard.tokens[base + pos]) {
                    rowsOut.append(contentsOf: p[((base + pos) * dIn)..<((base + pos + 1) * dIn)])
                }
            }
        }
        let n = rowsOut.count / dIn
        // Fisher–Yates over row indices, then one gather.
        var order = Array(0..<n)
        var rng = SplitMix64(seed: Self.chunkSeed(options.seed, k))
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) } }
        let batches = n / options.batchSize
        guard batches > 0 else { throw ActivationStoreError.chunkTooSmall(chunk: k, rows: n, batchSize: options.batchSize) }
        var shuffled = Tensor.uninitialized([batches * options.batchSize, dIn])
        let d = dIn
        rowsOut.withUnsafeBufferPointer { src in
            shuffled.withUnsafeMutableBufferPointer { dst in
                for r in 0..<(batches * options.batchSize) {
                    let from = order[r] * d
                    for j in 0..<d { dst[r * d + j] = src[from + j] }
                }
            }
        }
        chunk = (k, shuffled, batches)
        onEvent(.chunkReady(index: k, rows: n, batches: batches))
        return chunk!
    }

    /// The packed index of training context `t` (held-out contexts first; cycling when the dataset is exhausted).
    private func globalContext(_ t: Int) throws -> Int {
        let h = options.heldOutContexts
        try ensurePacked(h + t + 1)
        if h + t < contexts.count { return h + t }
        return h + t % (contexts.count - h)
    }

    // MARK: - Packing

    /// Packs at least `count` contexts (rounded up to whole shards) unless the dataset runs out.
    /// Packing is a prefix: packing more never changes earlier contexts.
    private func ensurePacked(_ count: Int) throws {
        guard count > contexts.count, !exhausted else { return }
        let s = options.contextsPerShard
        let wanted = max(count, 2 * contexts.count)
        let rounded = (wanted + s - 1) / s * s
        let packer = ContextPacker(contextSize: source.contextSize, prependBOS: source.prependBOS, bosTokenID: source.bosTokenID)
        contexts = try packer.pack(source.dataset, tokenizer: source.tokenizer, maxTokens: rounded * source.contextSize)
        exhausted = contexts.count < rounded
        onEvent(.packed(contexts: contexts.count, exhausted: exhausted))
    }

    // MARK: - Shards

    private func loadShard(_ index: Int) throws -> (index: Int, activations: Tensor, tokens: [Int]) {
        if let m = shardMemo, m.index == index { return m }
        let s = options.contextsPerShard
        let range = (index * s)..<min((index + 1) * s, contexts.count)
        let ids = range.flatMap { contexts[$0] }
        if let cache, let cached = try cache.readShard(index, rows: ids.count, dIn: dIn) {
            guard cached.tokens == ids else {
                throw ActivationStoreError.badShard(cache.shardURL(index).path, "its tokens differ from the packed contexts \(range)")
            }
            shardMemo = (index, cached.activations, ids)
            onEvent(.shardLoaded(index: index))
            return shardMemo!
        }
        let start = Date()
        var rows: [Float] = []
        rows.reserveCapacity(ids.count * dIn)
        var c = range.lowerBound
        while c < range.upperBound {
            let end = min(c + options.contextsPerForward, range.upperBound)
            let t = try Self.hookRows(source: source, contexts: Array(contexts[c..<end]), stopLayer: stopLayer)
            rows += t.scalars
            c = end
        }
        let activations = Tensor(shape: [ids.count, dIn], scalars: rows)
        if let cache { try cache.writeShard(index, activations: activations, tokens: ids) }
        shardMemo = (index, activations, ids)
        onEvent(.shardComputed(index: index, contexts: range, seconds: Date().timeIntervalSince(start)))
        return shardMemo!
    }

    /// The hook values of `contexts` as rows `[contexts·T, width]`.
    static func hookRows(source: ActivationSource, contexts: [[Int]], stopLayer: Int?) throws -> Tensor {
        let options = ForwardOptions(hooks: HookSet(capture: [source.hook]), logits: .none, stopAfterLayer: stopLayer)
        let result = try source.model.forward(TokenBatch(ids: contexts), options: options)
        guard let v = result.captured[source.hook] else { throw ActivationStoreError.hookNotCaptured(source.hook.description) }
        let n = contexts.count * source.contextSize
        return v.reshaped([n, v.count / n])
    }

    // MARK: - Cache

    private func openCache(_ cache: ActivationCacheFolder, probe: Tensor) throws {
        var digest = FNV64()
        for id in contexts[0] { digest.add(UInt64(bitPattern: Int64(id))) }
        for v in probe.scalars { digest.add(UInt64(v.bitPattern)) }
        let path = source.dataset.source
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        let model = source.model
        let current = ActivationCacheManifest(
            storeVersion: ActivationCacheManifest.currentVersion, modelIdentity: source.modelIdentity,
            modelShape: "layers=\(model.layerCount), vocab=\(model.vocabularySize), context=\(model.contextLength)",
            hook: source.hook.description, contextSize: source.contextSize, prependBOS: source.prependBOS,
            datasetPath: URL(fileURLWithPath: path).standardizedFileURL.path, datasetBytes: bytes,
            datasetDocuments: source.dataset.documents.count, tokenizerIdentity: source.tokenizerIdentity,
            tokenizerVocabularySize: source.tokenizer.vocabularySize, dIn: dIn, contextsPerShard: options.contextsPerShard,
            contextsPerForward: options.contextsPerForward, probeDigest: digest.hex)
        if let cached = try cache.readManifest() {
            guard let diff = cached.firstDifference(from: current) else { onEvent(.cacheOpened(cache.url)); return }
            if options.cachePolicy == .requireReuse {
                throw ActivationStoreError.cacheMismatch(cache.url.path, field: diff.field, cached: diff.mine, current: diff.theirs)
            }
            try cache.clear()
            onEvent(.cacheCleared(cache.url, field: diff.field))
        } else if options.cachePolicy == .requireReuse {
            throw ActivationStoreError.cacheMismatch(cache.url.path, field: "manifest.json", cached: "absent", current: "required")
        } else {
            try cache.clear()   // shards without a manifest cannot be trusted
        }
        try cache.writeManifest(current)
    }
}
