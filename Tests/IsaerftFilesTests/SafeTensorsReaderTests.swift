import Foundation
import Testing
import IsaerftCore
@testable import IsaerftFiles

/// Reading files written by the Python `safetensors` library (fixtures/safetensors/).
@Suite("safetensors reader: Python-made fixtures")
struct SafeTensorsReaderTests {
    @Test("F32 file: names, shapes, values, scalar, empty tensor, metadata")
    func f32() throws {
        let file = try SafeTensorsFile(url: try safetensorsFixture("f32.safetensors"))
        #expect(file.names == ["bias", "empty", "scalar", "weight"])
        #expect(file.metadata == ["format": "pt"])
        #expect(file.info("weight") == TensorInfo(name: "weight", dtype: .f32, shape: [3, 4],
                                                  byteRange: file.info("weight")!.byteRange))
        #expect(try file.tensor("weight") == Tensor(shape: [3, 4], scalars: ramp(12)))
        #expect(try file.tensor("bias") == Tensor(shape: [4], scalars: ramp(4, 0.5, 2)))
        #expect(try file.tensor("scalar") == Tensor(shape: [], scalars: [3.5]))
        #expect(try file.tensor("empty") == Tensor(shape: [0, 5], scalars: []))
        #expect(file.info("nope") == nil)
        let message = thrownDescription { _ = try file.tensor("nope") }
        #expect(message.contains("missing tensor nope") && message.contains("f32.safetensors"))
        let asInt = thrownDescription { _ = try file.int64s("weight") }
        #expect(asInt.contains("F32") && asInt.contains("weight"))
    }

    @Test("F16 and BF16 ramps widen to the exact fp32 values")
    func halfRamps() throws {
        let f16 = try SafeTensorsFile(url: try safetensorsFixture("f16.safetensors"))
        #expect(f16.info("ramp")?.dtype == .f16)
        #expect(try f16.tensor("ramp") == Tensor(shape: [2, 3], scalars: ramp(6)))
        let bf16 = try SafeTensorsFile(url: try safetensorsFixture("bf16.safetensors"))
        #expect(bf16.info("ramp")?.dtype == .bf16)
        #expect(try bf16.tensor("ramp") == Tensor(shape: [3, 2], scalars: ramp(6)))
    }

    @Test("integer dtypes, BOOL and F64")
    func integers() throws {
        let file = try SafeTensorsFile(url: try safetensorsFixture("i64.safetensors"))
        let ids = try file.int64s("ids")
        #expect(ids.shape == [2, 3])
        #expect(ids.values == [0, 1, -1, 1 << 62, -(1 << 62), Int64.max])
        #expect(try file.int64s("positions").values == [-2, -1, 0, 1, 2])
        #expect(file.info("positions")?.dtype == .i32)
        #expect(try file.int64s("small").values == [-128, 0, 127])
        #expect(try file.int64s("bytes").values == [0, 1, 255])
        #expect(try file.int64s("shorts").values == [-32768, 7, 32767])
        #expect(try file.int64s("mask").values == [1, 0, 1])
        #expect(try file.tensor("positions").scalars == [-2, -1, 0, 1, 2])
        #expect(try file.tensor("mask").scalars == [1, 0, 1])
        let doubles = try file.tensor("doubles").scalars
        #expect(doubles[0] == Float(0.1 as Double) && doubles[1] == -2.5 && doubles[2] == .infinity)
    }

    @Test("metadata with escaped and non-ASCII strings")
    func metadata() throws {
        let file = try SafeTensorsFile(url: try safetensorsFixture("metadata.safetensors"))
        #expect(file.metadata == [
            "format": "pt", "note": "quote \" backslash \\ newline \n tab \t", "unicode": "é ü 中 🙂", "empty": "",
        ])
        #expect(try file.tensor("x").scalars == ramp(2))
    }

    @Test("reading through a symlink (as in an HF cache snapshot)")
    func symlink() throws {
        try withTemporaryFolder { folder in
            let link = folder.appendingPathComponent("model.safetensors")
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: try safetensorsFixture("f32.safetensors"))
            #expect(try SafeTensorsFile(url: link).tensor("bias").scalars == ramp(4, 0.5, 2))
        }
    }
}
