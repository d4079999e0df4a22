import Foundation
import IsaerftCore
import IsaerftData
import IsaerftModels
import IsaerftSAE
import IsaerftSAETraining
import IsaerftTestSupport
import Testing

/// Bit patterns, so that equality means bitwise equality (NaN and −0 included).
private func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

private func read(_ store: ActivationStore, _ n: Int) throws -> [[UInt32]] { try (0..<n).map { _ in bits(try store.nextBatch()) } }

@Suite("ActivationStore on tiny_a", .enabled(if: TrainerFixture.available, "\(TrainerFixture.missing)"))
struct ActivationStoreTests {
    @Test("the same settings give the same batches; another seed another order")
    func deterministic() throws {
        let a = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options()), 10)
        let b = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options()), 10)
        #expect(a == b)
        let c = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options(seed: 8)), 10)
        #expect(a[0] != c[0])
        // Same chunk, another shuffle: both seeds serve rows of the same chunk; only the rows left over
        // after the last whole batch (fewer than one batch) differ between them.
        var firstChunk = 0, chunkRows = 0
        let s2 = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options()) { e in
            if case let .chunkReady(0, rows, batches) = e { firstChunk = batches; chunkRows = rows }
        }
        _ = try s2.nextBatch()
        #expect(s2.dIn == 64 && firstChunk >= 3)
        func rows(_ batches: [[UInt32]]) -> [[UInt32]: Int] {
            var counts: [[UInt32]: Int] = [:]
            for b in batches.prefix(firstChunk) { for r in stride(from: 0, to: b.count, by: 64) { counts[Array(b[r..<(r + 64)]), default: 0] += 1 } }
            return counts
        }
        let (ra, rc) = (rows(a), rows(c))
        let common = ra.reduce(0) { $0 + min($1.value, rc[$1.key] ?? 0) }
        let leftover = chunkRows - firstChunk * 64
        #expect(leftover < 64)
        #expect(common >= firstChunk * 64 - leftover, "\(common) rows in common of \(firstChunk * 64)")
    }

    @Test("seeking to a saved cursor continues exactly like a straight read")
    func resumeInTheMiddle() throws {
        let straight = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options())
        var cursors: [ActivationCursor] = []
        var batches: [[UInt32]] = []
        for _ in 0..<14 { cursors.append(straight.cursor); batches.append(bits(try straight.nextBatch())) }
        for start in [5, 9] {
            let resumed = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options())
            resumed.seek(to: cursors[start])
            #expect(try read(resumed, 14 - start) == Array(batches[start...]), "resumed at batch \(start), cursor \(cursors[start])")
        }
        #expect(cursors[13].chunk >= 2, "the read crossed chunk boundaries")
    }

    @Test("rows are the hook values at non-special positions of the training contexts, nothing else")
    func specialTokensExcluded() throws {
        let source = TrainerFixture.source()
        let options = TrainerFixture.options()
        var chunkRows: [Int: Int] = [:]
        let store = try ActivationStore(source: source, options: options) { e in
            if case let .chunkReady(k, rows, _) = e { chunkRows[k] = rows }
        }
        var seen: [[UInt32]] = []
        var batchesOfChunk0 = 0
        while store.cursor.chunk == 0 {
            let b = bits(try store.nextBatch())
            batchesOfChunk0 += 1
            for r in 0..<64 { seen.append(Array(b[(r * 64)..<((r + 1) * 64)])) }
        }
        // Independent reconstruction: pack, take chunk 0's contexts, run the model in the store's groups.
        let packer = ContextPacker(contextSize: 32, prependBOS: true, bosTokenID: source.bosTokenID)
        let contexts = try packer.pack(source.dataset, tokenizer: source.tokenizer, maxTokens: 64 * 32)
        let chunk = Array(contexts[4..<(4 + store.chunkContexts)])
        let specials = source.specialTokens
        #expect(specials == [999])
        let expectedRows = chunk.reduce(0) { $0 + $1.filter { !specials.contains($0) }.count }
        #expect(chunkRows[0] == expectedRows)
        #expect(chunk.flatMap { $0 }.filter { $0 == 999 }.count > store.chunkContexts, "separator BOS tokens occur inside contexts")
        // Rows can repeat (contexts sharing a prefix), so kept rows are counted as a multiset.
        var allowed: [[UInt32]: Int] = [:], forbidden = Set<[UInt32]>()
        for g in stride(from: 4, to: 4 + store.chunkContexts, by: 4) {   // groups of 4 aligned as in the store (shards of 8)
            let group = Array(contexts[g..<min(g + 4, contexts.count)])
            let v = try TrainerFixture.tinyA.forward(TokenBatch(ids: group), options: ForwardOptions(
                hooks: HookSet(capture: [.residPost(0)]), logits: .none, stopAfterLayer: 0)).captured[.residPost(0)]!
            let flat = bits(v)
            for (c, row) in group.enumerated() { for (p, id) in row.enumerated() {
                let r = Array(flat[((c * 32 + p) * 64)..<((c * 32 + p + 1) * 64)])
                if g + c < 4 + store.chunkContexts { if specials.contains(id) { forbidden.insert(r) } else { allowed[r, default: 0] += 1 } }
            } }
        }
        var remaining = allowed
        var unexpected = 0
        for r in seen { if let n = remaining[r], n > 0 { remaining[r] = n - 1 } else { unexpected += 1 } }
        #expect(unexpected == 0, "\(unexpected) served rows are not hook values of kept positions (or are served too often)")
        #expect(!seen.contains { forbidden.contains($0) && allowed[$0] == nil }, "a special-token row was served")
        #expect(expectedRows - batchesOfChunk0 * 64 < 64, "only the rows after the last whole batch are dropped")
    }

    @Test("a cached run reads the shards back and gives the same batches bit for bit")
    func cacheReuse() throws {
        let dir = try TrainerFixture.temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fresh = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options()), 12)
        var computed = 0, loaded = 0
        let first = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options(cache: dir)) { e in
            if case .shardComputed = e { computed += 1 }
        }, 12)
        let second = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options(cache: dir, policy: .requireReuse)) { e in
            if case .shardComputed = e { computed += 100 }
            if case .shardLoaded = e { loaded += 1 }
        }, 12)
        #expect(computed > 0 && computed < 100, "the second run computed nothing")
        #expect(loaded > 0)
        #expect(first == fresh)
        #expect(second == fresh)
        // Another seed (another SAE run) reuses the same shards.
        var recomputed = 0
        _ = try read(ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options(seed: 99, cache: dir, policy: .requireReuse)) { e in
            if case .shardComputed = e { recomputed += 1 }
        }, 4)
        #expect(recomputed == 0)
    }

    @Test("a mismatching manifest is refused under requireReuse and rebuilt otherwise; other weights are caught by the probe digest")
    func manifestMismatch() throws {
        let dir = try TrainerFixture.temporaryFolder("mismatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options(cache: dir)).nextBatch()
        let other = TrainerFixture.source(contextSize: 24)
        let e1 = #expect(throws: ActivationStoreError.self) {
            try ActivationStore(source: other, options: TrainerFixture.options(cache: dir, policy: .requireReuse, source: other))
        }
        #expect(e1 == .cacheMismatch(dir.path, field: "contextSize", cached: "32", current: "24"))
        #expect(e1.map { !$0.description.contains("\n") && $0.description.contains("contextSize") } == true)
        let centered = TrainerFixture.source(model: TrainerFixture.tinyA.centeringWritingWeights())
        let e2 = #expect(throws: ActivationStoreError.self) {
            try ActivationStore(source: centered, options: TrainerFixture.options(cache: dir, policy: .requireReuse))
        }
        if case let .cacheMismatch(_, field, _, _)? = e2 { #expect(field == "probeDigest") } else { Issue.record("expected a cache mismatch, got \(String(describing: e2))") }
        var cleared: String? = nil
        let rebuilt = try ActivationStore(source: other, options: TrainerFixture.options(cache: dir, source: other)) { e in
            if case let .cacheCleared(_, field) = e { cleared = field }
        }
        #expect(cleared == "contextSize")
        let fresh = try ActivationStore(source: other, options: TrainerFixture.options(source: other))
        #expect(try read(rebuilt, 3) == read(fresh, 3))
    }

    @Test("norm scaling factor: √d_in / mean‖x‖ over the first batches, cursor untouched")
    func normEstimate() throws {
        let store = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options())
        _ = try store.nextBatch()
        let cursor = store.cursor
        let s = try store.estimateNormScalingFactor(batches: 5)
        #expect(store.cursor == cursor)
        let other = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options())
        let rows = try (0..<5).flatMap { _ in try other.nextBatch().scalars }
        let reference = SparseAutoencoder.estimateNormScalingFactor(Tensor(shape: [5 * 64, 64], scalars: rows), dIn: 64)
        #expect(s == reference)   // same rows, same Double summation order
        #expect(s > 0 && s.isFinite)
    }
}
