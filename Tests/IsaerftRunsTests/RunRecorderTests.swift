import Foundation
import IsaerftRuns
import Testing

@Suite("RunRecorder")
struct RunRecorderTests {
    @Test("records round-trip; integral values are written as integers, NaN as null")
    func roundTrip() throws {
        let dir = try temporaryFolder("rec")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("records.jsonl")
        let r = try RunRecorder(url: url, flushEvery: 2)
        try r.record(step: 1, kind: "train", ["losses/mse_loss": 0.1 + 0.2, "details/n_training_samples": 4096])
        try r.record(step: 1, kind: "eval", ["x": .nan])
        try r.record(step: 2, kind: "train", ["losses/mse_loss": 1e-30])
        try r.close()
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasPrefix("{\"step\":1,\"kind\":\"train\",\"details/n_training_samples\":4096,\"losses/mse_loss\":0.30000000000000004}\n"))
        let back = try RunRecorder.read(url: url)
        #expect(back.count == 3)
        #expect(back[0].values["losses/mse_loss"] == 0.1 + 0.2)
        #expect(back[1].values["x"]!.isNaN)
        #expect(back[2].values["losses/mse_loss"] == 1e-30)
    }

    @Test("resuming keeps only records up to the checkpoint step and drops a torn last line")
    func resumeTruncates() throws {
        let dir = try temporaryFolder("resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("records.jsonl")
        let r = try RunRecorder(url: url, flushEvery: 1)
        for s in 1...6 { try r.record(step: s, kind: "train", ["v": Double(s)]) }
        try r.close()
        // A crash mid-write leaves a partial line.
        let h = try FileHandle(forWritingTo: url); try h.seekToEnd(); try h.write(contentsOf: Data("{\"step\":7,\"ki".utf8)); try h.close()
        let resumed = try RunRecorder(url: url, resumingAfter: 4)
        try resumed.record(step: 5, kind: "train", ["v": 50])
        try resumed.close()
        #expect(try RunRecorder.read(url: url).map(\.step) == [1, 2, 3, 4, 5])
        #expect(try RunRecorder.read(url: url).last!.values["v"] == 50)
    }

    @Test("a new recorder (not resuming) starts an empty file")
    func freshReplaces() throws {
        let dir = try temporaryFolder("fresh")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("records.jsonl")
        try Data("{\"step\":1,\"kind\":\"train\"}\n".utf8).write(to: url)
        let r = try RunRecorder(url: url)
        try r.close()
        #expect(try RunRecorder.read(url: url).isEmpty)
    }
}
