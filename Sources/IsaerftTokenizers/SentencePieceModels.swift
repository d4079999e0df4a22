/// The two models of SentencePiece-style BPE (symbols are UTF-8 characters, spaces already `▁`).
package enum SentencePieceModel: Sendable {
    /// llama.cpp's SPM tokenizer over scores (GGUF vocabularies).
    case scores(ScoreBPE)
    /// HF `tokenizers` BPE over characters with a merge list (`tokenizer.json`).
    case merges(CharMergeBPE)

    package func encode(_ piece: UnsafeBufferPointer<UInt8>) -> [Int32] {
        switch self {
        case .scores(let m): m.encode(piece)
        case .merges(let m): m.encode(piece)
        }
    }
}

/// llama.cpp `llm_tokenizer_spm_session::tokenize` (tokenizers.md §3): symbols are UTF-8 characters;
/// a max-priority queue holds every adjacent pair whose concatenation is a vocabulary token, keyed by
/// that token's score (ties: smaller left index first); pop, skip stale pairs, merge, push the new
/// pairs with both neighbours; repeat. A final symbol that is not a token becomes its `<0xXX>` byte
/// tokens (or `unk` when a byte token is missing).
package struct ScoreBPE: Sendable {
    /// Every token's bytes → id (all token types, as llama.cpp's `token_to_id`; a repeated piece keeps
    /// its last id), looked up without copying through `ByteSpanTable`.
    let table: ByteSpanTable
    let scores: [Float]
    /// byte → id of `<0xXX>`, or -1.
    let byteIDs: [Int32]
    let unkID: Int32?

    init(idOf: [[UInt8]: Int32], scores: [Float], byteIDs: [Int32], unkID: Int32?) {
        table = ByteSpanTable(idOf)
        self.scores = scores
        self.byteIDs = byteIDs
        self.unkID = unkID
    }

    private struct Bigram {
        var score: Float
        var left: Int
        var right: Int
        var size: Int
        /// Pops first: higher score, then smaller left index (llama.cpp's comparator).
        func before(_ other: Bigram) -> Bool {
            score > other.score || (score == other.score && left < other.left)
        }
    }

    package func encode(_ text: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var start: [Int] = [], length: [Int] = []
        var offset = 0
        while offset < text.count {
            let n = min(UTF8Scalars.length(lead: text[offset]), text.count - offset)
            start.append(offset); length.append(n)
            offset += n
        }
        let count = start.count
        if count == 0 { return [] }
        var next = Array(1...count), prev = Array(-1..<(count - 1))
        next[count - 1] = -1
        var heap: [Bigram] = []

        func push(_ b: Bigram) {
            heap.append(b)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard heap[i].before(heap[parent]) else { break }
                heap.swapAt(i, parent); i = parent
            }
        }
        func pop() -> Bigram? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if heap.isEmpty { return top }
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, heap[l].before(heap[m]) { m = l }
                if r < heap.count, heap[r].before(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m); i = m
            }
            return top
        }
        func tryAdd(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = length[left] + length[right]
            guard let id = table.id(of: UnsafeBufferPointer(rebasing: text[start[left]..<(start[left] + size)])) else { return }
            push(Bigram(score: scores[Int(id)], left: left, right: right, size: size))
        }

        for i in 1..<count { tryAdd(i - 1, i) }
        while let b = pop() {
            guard length[b.left] != 0, length[b.right] != 0, length[b.left] + length[b.right] == b.size else { continue }
            length[b.left] += length[b.right]
            length[b.right] = 0
            next[b.left] = next[b.right]
            if next[b.right] >= 0 { prev[next[b.right]] = b.left }
            tryAdd(prev[b.left], b.left)
            tryAdd(b.left, next[b.left])
        }

        var out: [Int32] = []
        var i = 0
        while i != -1 {
            let bytes = UnsafeBufferPointer(rebasing: text[start[i]..<(start[i] + length[i])])
            if let id = table.id(of: bytes) {
                out.append(id)
            } else {
                for byte in bytes {
                    let id = byteIDs[Int(byte)]
                    if id >= 0 { out.append(id) } else if let unk = unkID { out.append(unk) }
                }
            }
            i = next[i]
        }
        return out
    }
}

/// HF `tokenizers` `BPE::merge_word` + `Word::merge_all` for a model whose symbols are characters
/// (no ByteLevel): each character's id, else with `byteFallback` its `<0xXX>` tokens (all of them
/// must exist), else `unk` (consecutive ones fused with `fuseUnk`; dropped without an unk token);
/// then merges by rank. With `ignoreMerges` a piece that is itself a token is emitted directly.
package struct CharMergeBPE: Sendable {
    /// The model vocabulary (`model.vocab`, not added tokens), bytes → id.
    let table: ByteSpanTable
    let merges: BPEMerges
    let byteFallback: Bool
    let byteIDs: [Int32]
    let unkID: Int32?
    let fuseUnk: Bool
    let ignoreMerges: Bool

    init(idOf: [[UInt8]: Int32], merges: BPEMerges, byteFallback: Bool, byteIDs: [Int32], unkID: Int32?,
         fuseUnk: Bool, ignoreMerges: Bool) {
        table = ByteSpanTable(idOf)
        self.merges = merges; self.byteFallback = byteFallback; self.byteIDs = byteIDs
        self.unkID = unkID; self.fuseUnk = fuseUnk; self.ignoreMerges = ignoreMerges
    }

    package func encode(_ piece: UnsafeBufferPointer<UInt8>) -> [Int32] {
        if piece.isEmpty { return [] }
        if ignoreMerges, let id = table.id(of: piece) { return [id] }
        var symbols: [Int32] = []
        symbols.reserveCapacity(piece.count)
        var pendingUnk = false   // an unk not yet added (HF keeps it to fuse the next one)
        var i = 0
        while i < piece.count {
            let n = min(UTF8Scalars.decode(piece, at: i).1, piece.count - i)
            let char = UnsafeBufferPointer(rebasing: piece[i..<(i + n)])
            i += n
            if let id = table.id(of: char) {
                if pendingUnk, let unk = unkID { symbols.append(unk); pendingUnk = false }
                symbols.append(id)
                continue
            }
            if byteFallback, char.allSatisfy({ byteIDs[Int($0)] >= 0 }) {
                // HF adds the byte tokens without flushing a pending unk first.
                for b in char { symbols.append(byteIDs[Int(b)]) }
                continue
            }
            guard let unk = unkID else { continue }
            if pendingUnk && !fuseUnk { symbols.append(unk) }
            pendingUnk = true
        }
        if pendingUnk, let unk = unkID { symbols.append(unk) }
        merges.apply(&symbols)
        return symbols
    }
}

/// Byte string → id without allocating a key per lookup: a 64-bit FNV-1a hash of the bytes indexes
/// the id, which is then checked byte for byte; the rare strings whose hashes collide go to an
/// ordinary `[[UInt8]: Int32]` dictionary.
package struct ByteSpanTable: Sendable {
    private var byHash: [UInt64: Int32] = [:]
    private var pieces: [[UInt8]] = []
    private var ids: [Int32] = []
    private var collided: [[UInt8]: Int32] = [:]
    private var collidedHashes: Set<UInt64> = []

    package init(_ idOf: [[UInt8]: Int32]) {
        byHash.reserveCapacity(idOf.count)
        for (bytes, id) in idOf {
            let h = bytes.withUnsafeBufferPointer { Self.hash($0) }
            if collidedHashes.contains(h) { collided[bytes] = id; continue }
            if let k = byHash[h] {
                collidedHashes.insert(h)
                collided[pieces[Int(k)]] = ids[Int(k)]
                collided[bytes] = id
                byHash[h] = nil
                continue
            }
            byHash[h] = Int32(pieces.count)
            pieces.append(bytes)
            ids.append(id)
        }
    }

    @inline(__always)
    package func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        let h = Self.hash(bytes)
        if let k = byHash[h] {
            return pieces[Int(k)].withUnsafeBufferPointer { $0.elementsEqual(bytes) } ? ids[Int(k)] : nil
        }
        return collidedHashes.contains(h) ? collided[Array(bytes)] : nil
    }

    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
