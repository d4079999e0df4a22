import Foundation
import IsaerftCore
import IsaerftData
import IsaerftModels
import IsaerftSAE
import IsaerftTokenizers

extension LatentExampleCollector {
    /// Streams `contexts` (equal-length token rows, e.g. from `ContextPacker`) through `reader` in
    /// batches of `batchSize` rows and adds every row; only one batch's features are held at a time.
    /// - Parameter progress: called after each batch with (rows done, rows total).
    public mutating func collect(contexts: [[Int]], reader: LatentReader, batchSize: Int = 8,
                                 progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws {
        try Self.validate(configuration.latents, dSAE: reader.sae.dSAE)
        var start = 0
        while start < contexts.count {
            let batch = Array(contexts[start..<min(contexts.count, start + max(1, batchSize))])
            let f = try reader.features(batch)
            let t = batch[0].count, d = reader.sae.dSAE
            for (i, row) in batch.enumerated() {
                let slice = Tensor(shape: [t, d], scalars: Array(f.scalars[(i * t * d)..<((i + 1) * t * d)]))
                add(tokens: row, features: slice, contextIndex: start + i)
            }
            start += batch.count
            progress(start, contexts.count)
        }
    }

    /// Throws for an empty list or an index outside `0..<dSAE`.
    public static func validate(_ latents: [Int], dSAE: Int) throws {
        if latents.isEmpty { throw AnalysisError.noLatents }
        for i in latents where i < 0 || i >= dSAE { throw AnalysisError.latentOutOfRange(i, dSAE: dSAE) }
    }
}

/// Corpus rows the way the SAE was trained on them (`sae-formats-and-math.md` §5.5): documents
/// tokenised without special tokens, joined with BOS, cut into rows of the SAE's `context_size`
/// (or `contextSize`), each row BOS-first when the SAE's `prepend_bos` (default true) and the
/// tokenizer has a BOS.
public func analysisContexts(dataset: TextDataset, tokenizer: any TextTokenizer, sae: SparseAutoencoder,
                             model: any HookedLanguageModel, maxTokens: Int, contextSize: Int? = nil) throws -> [[Int]] {
    let bos = tokenizer.bosTokenID ?? model.bosTokenID
    let size = min(contextSize ?? sae.config.contextSize ?? 128, model.contextLength)
    let packer = ContextPacker(contextSize: size, prependBOS: (sae.config.prependBOS ?? true) && bos != nil, bosTokenID: bos)
    let rows = try packer.pack(dataset, tokenizer: tokenizer, maxTokens: maxTokens)
    if rows.isEmpty {
        throw AnalysisError.invalidInput("\(dataset.source): fewer than \(size) tokens, not one context of the SAE's context size")
    }
    return rows
}
