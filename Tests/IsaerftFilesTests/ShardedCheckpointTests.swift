import Foundation
import Testing
import IsaerftCore
@testable import IsaerftFiles

@Suite("sharded checkpoints")
struct ShardedCheckpointTests {
    @Test("2-shard checkpoint written by huggingface_hub.save_torch_state_dict")
    func pythonShards() throws {
        let folder = try safetensorsFixture("sharded")
        let checkpoint = try ShardedCheckpoint(folder: folder)
        #expect(checkpoint.files.map(\.url.lastPathComponent)
            == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        #expect(checkpoint.names == ["embed.weight", "h.0.weight", "h.1.weight", "ln_f.bias"])
        #expect(checkpoint.file(containing: "h.1.weight")?.url.lastPathComponent == "model-00002-of-00002.safetensors")
        #expect(try checkpoint.tensor("embed.weight") == Tensor(shape: [8, 4], scalars: ramp(32)))
        #expect(try checkpoint.tensor("h.0.weight") == Tensor(shape: [4, 4], scalars: ramp(16, 0.5, 0)))
        #expect(try checkpoint.tensor("h.1.weight") == Tensor(shape: [4, 4], scalars: ramp(16, -0.5, 3)))
        #expect(try checkpoint.tensor("ln_f.bias") == Tensor(shape: [4], scalars: ramp(4, 1, 10)))
        #expect(thrownDescription { _ = try checkpoint.tensor("lm_head.weight") }.contains("missing tensor lm_head.weight"))
    }

    @Test("single model.safetensors wins; sub-folders are never searched")
    func singleAndNoRecursion() throws {
        try withTemporaryFolder { folder in
            try SafeTensors.write([("a", Tensor(shape: [1], scalars: [1]))], to: folder.appendingPathComponent("model.safetensors"))
            let sub = folder.appendingPathComponent("sub")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            try SafeTensors.write([("b", Tensor(shape: [1], scalars: [2]))], to: sub.appendingPathComponent("model-2.safetensors"))
            #expect(try ShardedCheckpoint(folder: folder).names == ["a"])
            // Only a sub-folder with weights: nothing found.
            try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
            let message = thrownDescription { _ = try ShardedCheckpoint(folder: folder) }
            #expect(message.hasPrefix("\(folder.path): no safetensors weights"))
        }
    }

    @Test("model*.safetensors without an index; a tensor in two shards is an error")
    func globAndDuplicates() throws {
        try withTemporaryFolder { folder in
            try SafeTensors.write([("a", Tensor(shape: [1], scalars: [1]))], to: folder.appendingPathComponent("model-1.safetensors"))
            try SafeTensors.write([("b", Tensor(shape: [1], scalars: [2]))], to: folder.appendingPathComponent("model-2.safetensors"))
            try SafeTensors.write([("c", Tensor(shape: [1], scalars: [3]))], to: folder.appendingPathComponent("other.safetensors"))
            let checkpoint = try ShardedCheckpoint(folder: folder)
            #expect(checkpoint.names == ["a", "b"])
            #expect(try checkpoint.tensor("b").scalars == [2])
            try SafeTensors.write([("a", Tensor(shape: [1], scalars: [9]))], to: folder.appendingPathComponent("model-3.safetensors"))
            let message = thrownDescription { _ = try ShardedCheckpoint(folder: folder) }
            #expect(message.hasPrefix("tensor a appears in more than one shard"))
            #expect(message.contains("model-1.safetensors") && message.contains("model-3.safetensors"))
        }
    }

    @Test("an index that disagrees with its shards")
    func badIndex() throws {
        try withTemporaryFolder { folder in
            try SafeTensors.write([("a", Tensor(shape: [1], scalars: [1])), ("x", Tensor(shape: [1], scalars: [0]))],
                                  to: folder.appendingPathComponent("model-1.safetensors"))
            let index = folder.appendingPathComponent("model.safetensors.index.json")
            try Data(#"{"metadata":{},"weight_map":{"a":"model-1.safetensors","b":"model-1.safetensors"}}"#.utf8).write(to: index)
            #expect(thrownDescription { _ = try ShardedCheckpoint(folder: folder) }.contains("model-1.safetensors: missing tensor b"))
            try Data(#"{"weight_map":{"a":"model-1.safetensors"}}"#.utf8).write(to: index)
            #expect(thrownDescription { _ = try ShardedCheckpoint(folder: folder) }
                .contains("bad shard index: tensor x in model-1.safetensors is not in weight_map"))
            try Data(#"{"weight_map":{"a":"../model-1.safetensors"}}"#.utf8).write(to: index)
            #expect(thrownDescription { _ = try ShardedCheckpoint(folder: folder) }.contains("is not a file name in this folder"))
            try Data(#"{"weights":{}}"#.utf8).write(to: index)
            #expect(thrownDescription { _ = try ShardedCheckpoint(folder: folder) }.contains("bad shard index"))
        }
    }
}
