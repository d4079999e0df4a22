import IsaerftTokenizers

/// Fixed-length token contexts from documents, as SAELens' activation pipeline builds them
/// (`sae-formats-and-math.md` §5.5): each document tokenised without special tokens, documents
/// joined with a separator (BOS) between them, cut into rows of `contextSize`; with `prependBOS`
/// every row starts with BOS (the first token is not doubled when it is already BOS).
public struct ContextPacker: Sendable {
    public var contextSize: Int
    public var prependBOS: Bool
    public var bosTokenID: Int?
    /// Put `bosTokenID` between documents (SAELens' `sequence_separator_token` default).
    public var separateDocuments: Bool

    public init(contextSize: Int, prependBOS: Bool, bosTokenID: Int?, separateDocuments: Bool = true) {
        self.contextSize = contextSize; self.prependBOS = prependBOS; self.bosTokenID = bosTokenID
        self.separateDocuments = separateDocuments
    }

    /// Packs until `maxTokens` tokens (rows × contextSize) are produced or the documents run out.
    /// A final row shorter than `contextSize` is dropped, as SAELens does.
    public func pack(_ dataset: TextDataset, tokenizer: any TextTokenizer, maxTokens: Int? = nil) throws -> [[Int]] {
        precondition(contextSize > (prependBOS ? 1 : 0), "ContextPacker: context size \(contextSize)")
        var rows: [[Int]] = []
        var current: [Int] = []
        var used = 0   // tokens of `current` already emitted (trimmed lazily)
        func nextRow() -> [Int]? {
            let available = current.count - used
            if prependBOS, let bos = bosTokenID, current.indices.contains(used) ? current[used] != bos : true {
                guard available >= contextSize - 1 else { return nil }
                defer { used += contextSize - 1 }
                return [bos] + current[used..<(used + contextSize - 1)]
            }
            guard available >= contextSize else { return nil }
            defer { used += contextSize }
            return Array(current[used..<(used + contextSize)])
        }
        for (i, doc) in dataset.documents.enumerated() {
            if i > 0, separateDocuments, let bos = bosTokenID { current.append(bos) }
            current += try tokenizer.encode(doc, parseSpecial: false, addSpecialTokens: false)
            while let row = nextRow() {
                rows.append(row)
                if let maxTokens, rows.count * contextSize >= maxTokens { return rows }
            }
            if used > 1 << 16 { current.removeFirst(used); used = 0 }
        }
        return rows.filter { $0.count == contextSize }
    }
}
