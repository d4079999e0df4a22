import Foundation
import IsaerftCore
import IsaerftRuns
import Testing

private struct LoopState: Codable, Equatable {
    var step: Int
    var counters: [Int]
    var rate: Double
}

@Suite("CheckpointStore")
struct CheckpointStoreTests {
    @Test("save then latest returns the same tensors (bitwise) and state")
    func roundTrip() throws {
        let dir = try temporaryFolder("ckpt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = CheckpointStore(directory: dir, keep: 2)
        #expect(try store.latest(as: LoopState.self) == nil)
        let w = Tensor.randomNormal([3, 5], seed: 1)
        let b = Tensor(shape: [2], scalars: [.leastNonzeroMagnitude, -0.0])
        let state = LoopState(step: 7, counters: [0, 3, 9], rate: 0.1 + 0.2)
        try store.save(step: 7, tensors: ["w": w, "b": b], state: state)
        let c = try #require(try store.latest(as: LoopState.self))
        #expect(c.step == 7)
        #expect(c.state == state)
        #expect(c.tensors["w"]!.scalars.map(\.bitPattern) == w.scalars.map(\.bitPattern))
        #expect(c.tensors["b"]!.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern))
        #expect(c.tensors["w"]!.shape == [3, 5])
    }

    @Test("keeps only the newest `keep` checkpoints; latest ignores temporary and incomplete folders")
    func pruneAndIgnoreIncomplete() throws {
        let dir = try temporaryFolder("prune")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = CheckpointStore(directory: dir, keep: 2)
        for s in [10, 20, 30] { try store.save(step: s, tensors: ["x": Tensor(shape: [1], scalars: [Float(s)])], state: LoopState(step: s, counters: [], rate: 0)) }
        #expect(store.steps() == [20, 30])
        // A crash mid-save leaves a temporary folder; a folder missing state.json is incomplete.
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent(".checkpoint-40.partial"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("checkpoint-50"), withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent("checkpoint-50/tensors.safetensors"))
        let c = try #require(try store.latest(as: LoopState.self))
        #expect(c.step == 30)
        #expect(c.tensors["x"]!.scalars == [30])
    }

    @Test("a damaged newest checkpoint falls back to the previous one")
    func damagedNewest() throws {
        let dir = try temporaryFolder("damaged")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = CheckpointStore(directory: dir, keep: 3)
        try store.save(step: 1, tensors: ["x": Tensor(shape: [1], scalars: [1])], state: LoopState(step: 1, counters: [], rate: 0))
        try store.save(step: 2, tensors: ["x": Tensor(shape: [1], scalars: [2])], state: LoopState(step: 2, counters: [], rate: 0))
        try Data("{not json".utf8).write(to: store.url(step: 2).appendingPathComponent(CheckpointStore.stateFile))
        #expect(try store.latest(as: LoopState.self)?.step == 1)
    }

    @Test("saving the same step again replaces it")
    func replaceSameStep() throws {
        let dir = try temporaryFolder("replace")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = CheckpointStore(directory: dir, keep: 2)
        try store.save(step: 5, tensors: ["x": Tensor(shape: [1], scalars: [1])], state: LoopState(step: 5, counters: [1], rate: 0))
        try store.save(step: 5, tensors: ["x": Tensor(shape: [1], scalars: [2])], state: LoopState(step: 5, counters: [2], rate: 0))
        let c = try #require(try store.latest(as: LoopState.self))
        #expect(c.tensors["x"]!.scalars == [2])
        #expect(c.state.counters == [2])
        #expect(store.steps() == [5])
    }
}
