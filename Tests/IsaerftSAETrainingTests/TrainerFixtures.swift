import Foundation
import IsaerftCore
import IsaerftData
import IsaerftModels
import IsaerftSAETraining
import IsaerftTestSupport
import IsaerftTokenizers

/// Shared inputs of the activation-store and trainer tests: `fixtures/gpt2/tiny_a` (GPT-2, d_model 64,
/// 2 blocks, V = 1000, 128 positions, BOS = EOS = 999) and the GPT-2 tokenizer from ../shared/data,
/// its ids folded into tiny_a's vocabulary (`FoldedTokenizer`), reading Tiny Shakespeare paragraphs.
enum TrainerFixture {
    static let tinyA: GPT2Model = try! GPT2Model.load(folder: SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a"))
    static let tokenizerPath = "gpt2-tokenizer"
    static let textPath = "text/tinyshakespeare.txt"

    /// Skips (nil) when ../shared/data lacks the tokenizer or the text.
    static var available: Bool { SharedData.url(tokenizerPath) != nil && SharedData.url(textPath) != nil }
    static var missing: String { SharedData.missingMessage(SharedData.url(tokenizerPath) == nil ? tokenizerPath : textPath) }

    static let tokenizer: (any TextTokenizer)? = {
        guard let dir = SharedData.url(tokenizerPath) else { return nil }
        return FoldedTokenizer(base: try! Tokenizers.load(directory: dir), vocabularySize: 1000)
    }()

    /// The first 300 paragraphs of Tiny Shakespeare (short documents, so BOS separators occur inside contexts).
    static let dataset: TextDataset? = {
        guard let url = SharedData.url(textPath) else { return nil }
        let all = try! TextDataset(url: url, splitParagraphs: true)
        return TextDataset(documents: Array(all.documents.prefix(300)), source: url.path)
    }()

    static func source(model: any HookedLanguageModel = tinyA, contextSize: Int = 32, hook: HookPoint = .residPost(0),
                       prependBOS: Bool = true, tokenizerIdentity: String = "gpt2 folded to 1000") -> ActivationSource {
        ActivationSource(model: model, modelIdentity: "fixtures/gpt2/tiny_a", tokenizer: tokenizer!, tokenizerIdentity: tokenizerIdentity,
                         dataset: dataset!, hook: hook, contextSize: contextSize, prependBOS: prependBOS)
    }

    /// Small sizes: batches of 64 rows, chunks of ~4 batches (10 contexts of 32), shards of 8 contexts
    /// (so chunks straddle shards), forward passes of 4 contexts, 4 held-out contexts.
    static func options(seed: UInt64 = 7, cache: URL? = nil, policy: ActivationCachePolicy = .reuseOrRebuild,
                        source: ActivationSource? = nil) -> ActivationStoreOptions {
        ActivationStoreOptions(batchSize: 64, seed: seed, batchesPerChunk: 4, heldOutContexts: 4,
                               excludedTokens: (source ?? Self.source()).specialTokens, contextsPerShard: 8, contextsPerForward: 4,
                               cacheDirectory: cache, cachePolicy: policy, plannedBatches: 16)
    }

    static func temporaryFolder(_ label: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-satrain-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// The GPT-2 tokenizer with ids folded into a smaller vocabulary: `<|endoftext|>` (50256) → V − 1,
/// every other id → id mod (V − 1). Real GPT-2 tokenisation, ids a tiny model accepts.
struct FoldedTokenizer: TextTokenizer {
    let base: any TextTokenizer
    let vocabularySize: Int
    var bosTokenID: Int? { vocabularySize - 1 }
    var eosTokenID: Int? { vocabularySize - 1 }
    var addsBOS: Bool { false }

    func fold(_ id: Int) -> Int { id == base.eosTokenID ? vocabularySize - 1 : id % (vocabularySize - 1) }

    func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        try base.encode(text, parseSpecial: parseSpecial, addSpecialTokens: addSpecialTokens).map(fold)
    }
    func decode(_ ids: [Int], skipSpecial: Bool) throws -> String { try base.decode(ids, skipSpecial: skipSpecial) }
    func tokenBytes(_ id: Int) throws -> [UInt8] { try base.tokenBytes(id) }
}
