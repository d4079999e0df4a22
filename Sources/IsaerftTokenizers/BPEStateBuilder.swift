/// Turns a parsed vocabulary, merge list and added tokens into `ByteLevelBPETokenizer.State`.
/// Merges are resolved to ids once (HF `BpeBuilder::build`: each merge's tokens and their
/// concatenation must be in the vocabulary, else `MergeTokenOutOfVocabulary`); rank = position.
extension ByteLevelBPETokenizer {
    static func buildState(
        vocabulary: [([UInt8], Int)], vocabFile: String,
        merges: [([UInt8], [UInt8])], mergeField: (Int) -> (file: String, field: String),
        added: [AddedTokenMatcher.Entry], normalizer: TextNormalizer?, preTokenizer: PreTokenizer,
        ignoreMerges: Bool, unkToken: [UInt8]?, fuseUnk: Bool
    ) throws -> State {
        var idOf: [[UInt8]: Int] = [:]
        idOf.reserveCapacity(vocabulary.count)
        var maxID = -1
        for (token, id) in vocabulary {
            guard id >= 0, id < Int(Int32.max) else {
                throw TokenizerError.malformedJSON(file: vocabFile, field: "vocab[\(TokenizerError.quoted(String(decoding: token, as: UTF8.self)))]",
                                                   reason: "token id \(id) is negative or too large")
            }
            idOf[token] = id
            maxID = max(maxID, id)
        }
        for entry in added { maxID = max(maxID, entry.id) }

        // id → bytes: what HF's ByteLevel decoder makes of the token's text: each symbol back to its
        // byte, or the text's own UTF-8 when some character is not a byte symbol.
        var idToBytes = [[UInt8]?](repeating: nil, count: maxID + 1)
        for (token, id) in vocabulary { idToBytes[id] = ByteLevelTable.bytes(ofSymbols: token) ?? token }
        var isSpecial = [Bool](repeating: false, count: maxID + 1)
        var idOfContent = idOf
        for entry in added {   // HF looks added tokens up before the model's vocabulary
            idToBytes[entry.id] = ByteLevelTable.bytes(ofSymbols: entry.content) ?? entry.content
            isSpecial[entry.id] = entry.special
            idOfContent[entry.content] = entry.id
        }

        let byteToID: [Int32] = (0..<256).map { b in
            idOf[ByteLevelTable.byteToSymbolUTF8[b]].map { Int32($0) } ?? -1
        }

        var table = BPEMerges()
        for (rank, (left, right)) in merges.enumerated() {
            func id(_ token: [UInt8]) throws -> Int {
                guard let id = idOf[token] else {
                    let (file, field) = mergeField(rank)
                    throw TokenizerError.tokenNotInVocabulary(file: file, field: field, token: String(decoding: token, as: UTF8.self))
                }
                return id
            }
            table.add(left: try id(left), right: try id(right), merged: try id(left + right), rank: rank)
        }

        var unkID: Int32?
        if let unk = unkToken {
            guard let id = idOf[unk] else {
                throw TokenizerError.tokenNotInVocabulary(file: vocabFile, field: "model.unk_token",
                                                          token: String(decoding: unk, as: UTF8.self))
            }
            unkID = Int32(id)
        }

        return State(
            byteToID: byteToID, merges: table,
            symbolVocab: ignoreMerges ? idOf.mapValues { Int32($0) } : [:],
            ignoreMerges: ignoreMerges, unkID: unkID, fuseUnk: fuseUnk,
            pipeline: EncodingPipeline(added: added, normalizer: normalizer, preTokenizer: preTokenizer),
            idToBytes: idToBytes, isSpecial: isSpecial, idOfContent: idOfContent)
    }
}
