import Foundation
import IsaerftData
import IsaerftModels
import IsaerftTokenizers

/// Where training activations come from: a model read at one hook over packed text contexts.
public struct ActivationSource: Sendable {
    public var model: any HookedLanguageModel
    /// Names the model in the cache manifest (a path or repo id; the manifest also pins a digest of
    /// the hook values of the first context, so other weights under the same name are caught).
    public var modelIdentity: String
    public var tokenizer: any TextTokenizer
    /// Names the tokenizer in the cache manifest.
    public var tokenizerIdentity: String
    public var dataset: TextDataset
    public var hook: HookPoint
    /// Tokens per context (SAELens `context_size`).
    public var contextSize: Int
    /// BOS first in every context (SAELens `prepend_bos`); documents are separated by BOS either way.
    public var prependBOS: Bool

    public init(model: any HookedLanguageModel, modelIdentity: String, tokenizer: any TextTokenizer, tokenizerIdentity: String,
                dataset: TextDataset, hook: HookPoint, contextSize: Int, prependBOS: Bool) {
        self.model = model; self.modelIdentity = modelIdentity; self.tokenizer = tokenizer
        self.tokenizerIdentity = tokenizerIdentity; self.dataset = dataset; self.hook = hook
        self.contextSize = contextSize; self.prependBOS = prependBOS
    }

    /// The BOS id used for packing (the model's, else the tokenizer's).
    public var bosTokenID: Int? { model.bosTokenID ?? tokenizer.bosTokenID }

    /// SAELens' `exclude_special_tokens` default: the BOS and EOS ids of the model and the tokenizer
    /// (the tokenizer protocol exposes no PAD id; GPT-2's PAD is its EOS).
    public var specialTokens: Set<Int> {
        Set([model.bosTokenID, model.eosTokenID, tokenizer.bosTokenID, tokenizer.eosTokenID].compactMap { $0 })
    }
}

/// What to do with an activation cache whose manifest does not match the current source.
public enum ActivationCachePolicy: String, Sendable, Codable {
    /// Delete the mismatching shards and compute them again (a notice goes out as an event).
    case reuseOrRebuild
    /// Throw `ActivationStoreError.cacheMismatch` (the user asked to reuse the cache).
    case requireReuse
}

/// Settings of an `ActivationStore`.
public struct ActivationStoreOptions: Sendable {
    /// Rows (tokens) per training batch (SAELens `train_batch_size_tokens`, 4096).
    public var batchSize: Int
    /// Seeds the per-chunk shuffles.
    public var seed: UInt64
    /// Chunk size in batches: a chunk holds enough contexts for about `batchesPerChunk + ½` batches
    /// after special tokens are dropped, is shuffled as a whole (SAELens' mixing buffer), and its rows
    /// beyond the last whole batch are dropped. Memory: chunk rows × d_in floats.
    public var batchesPerChunk: Int
    /// The first contexts of the packed stream are held out from training (evaluation contexts).
    public var heldOutContexts: Int
    /// Token ids whose positions give no training row (`ActivationSource.specialTokens` as SAELens'
    /// `exclude_special_tokens`; empty keeps every position).
    public var excludedTokens: Set<Int>
    /// Contexts per cache shard (the unit of model computation, cached or not).
    public var contextsPerShard: Int
    /// Contexts per forward pass.
    public var contextsPerForward: Int
    /// A folder for cached activations (nil: computed in memory only).
    public var cacheDirectory: URL?
    public var cachePolicy: ActivationCachePolicy
    /// Batches the run is expected to read: sizes the first tokenisation (more is packed on demand).
    public var plannedBatches: Int?

    public init(batchSize: Int = 4096, seed: UInt64 = 42, batchesPerChunk: Int = 16, heldOutContexts: Int = 0,
                excludedTokens: Set<Int> = [], contextsPerShard: Int = 64, contextsPerForward: Int = 8,
                cacheDirectory: URL? = nil, cachePolicy: ActivationCachePolicy = .reuseOrRebuild, plannedBatches: Int? = nil) {
        self.batchSize = batchSize; self.seed = seed; self.batchesPerChunk = batchesPerChunk
        self.heldOutContexts = heldOutContexts; self.excludedTokens = excludedTokens
        self.contextsPerShard = contextsPerShard; self.contextsPerForward = contextsPerForward
        self.cacheDirectory = cacheDirectory; self.cachePolicy = cachePolicy; self.plannedBatches = plannedBatches
    }
}

/// A position in the batch stream: batch `batch` of chunk `chunk`. Saved in checkpoints; `seek`
/// regenerates only that chunk.
public struct ActivationCursor: Sendable, Codable, Equatable {
    public var chunk: Int
    public var batch: Int
    public init(chunk: Int = 0, batch: Int = 0) { self.chunk = chunk; self.batch = batch }
}

/// Progress of the activation pipeline (libraries never print).
public enum ActivationStoreEvent: Sendable {
    /// Text was tokenised into `contexts` contexts; `exhausted`: the dataset has no more.
    case packed(contexts: Int, exhausted: Bool)
    /// An existing cache with a matching manifest was opened.
    case cacheOpened(URL)
    /// A cache whose manifest did not match was cleared (`field` differed).
    case cacheCleared(URL, field: String)
    /// Shard `index` (contexts `contexts`) was computed with the model in `seconds`.
    case shardComputed(index: Int, contexts: Range<Int>, seconds: Double)
    case shardLoaded(index: Int)
    /// Chunk `index` is ready: `rows` rows after exclusions, `batches` whole batches.
    case chunkReady(index: Int, rows: Int, batches: Int)
}

/// Errors of the activation pipeline; one line each.
public enum ActivationStoreError: Error, CustomStringConvertible, Equatable {
    case notEnoughData(String)
    case cacheMismatch(String, field: String, cached: String, current: String)
    case badShard(String, String)
    case chunkTooSmall(chunk: Int, rows: Int, batchSize: Int)
    case hookNotCaptured(String)
    case io(String, String)

    public var description: String {
        switch self {
        case let .notEnoughData(why): why
        case let .cacheMismatch(dir, field, cached, current):
            "activation cache \(dir) was made for another setup: \(field) is \(cached) there, \(current) now (use another folder, or let it be rebuilt)"
        case let .badShard(file, why): "activation cache shard \(file): \(why)"
        case let .chunkTooSmall(chunk, rows, b):
            "chunk \(chunk) has \(rows) rows after dropping special tokens, fewer than one batch of \(b)"
        case let .hookNotCaptured(h): "the model did not capture \(h)"
        case let .io(path, why): "\(path): \(why)"
        }
    }
}
