import Foundation
import Testing
import IsaerftCore
@testable import IsaerftFiles

@Suite("safetensors writer")
struct SafeTensorsWriterTests {
    @Test("round trip: F32, I64, scalar, empty, metadata; header 8-byte aligned; no .partial left")
    func roundTrip() throws {
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("out.safetensors")
            let weight = Tensor(shape: [2, 3], scalars: [1, -2, 3.5, .infinity, -0.0, Float(bitPattern: 1)])
            try SafeTensors.write([("w", weight), ("s", Tensor(shape: [], scalars: [7])),
                                   ("e", Tensor(shape: [4, 0], scalars: []))],
                                  int64: [("ids", shape: [3], values: [1, -2, .max])],
                                  metadata: ["format": "pt", "b": "x\"y"], to: url)
            let file = try SafeTensorsFile(url: url)
            #expect(file.names == ["e", "ids", "s", "w"])
            #expect(try file.tensor("w").scalars.map(\.bitPattern) == weight.scalars.map(\.bitPattern))
            #expect(try file.tensor("s") == Tensor(shape: [], scalars: [7]))
            #expect(try file.tensor("e").shape == [4, 0])
            #expect(try file.int64s("ids").values == [1, -2, .max])
            #expect(file.metadata == ["format": "pt", "b": "x\"y"])
            let bytes = try Data(contentsOf: url)
            let headerLength = bytes.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            #expect(headerLength % 8 == 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["out.safetensors"])
        }
    }

    @Test("bytes identical to the Python library's output (F32 + I64 + one metadata key)")
    func matchesPythonF32() throws {
        let reference = try Data(contentsOf: try safetensorsFixture("writer_reference.safetensors"))
        let ours = try SafeTensors.serialize(
            [("b.weight", Tensor(shape: [2, 3], scalars: ramp(6))), ("a.bias", Tensor(shape: [3], scalars: ramp(3, 1, 0)))],
            int64: [("tokens", shape: [3], values: [5, -6, 7])], metadata: ["format": "pt"])
        #expect(ours == reference, "ours: \(String(decoding: ours.prefix(200), as: UTF8.self))")
    }

    @Test("F16 and BF16 outputs: identical to the Python library's file when written separately")
    func matchesPythonHalf() throws {
        // The reference file mixes dtypes; check ours per dtype through the reader, and bytes of the
        // data section, which follow the reference's dtype order (F32, BF16, F16).
        let reference = try SafeTensorsFile(url: try safetensorsFixture("writer_reference_half.safetensors"))
        #expect(reference.infos.map(\.name) == ["f", "g", "h"])
        let h = try SafeTensors.serialize([("h", Tensor(shape: [5], scalars: ramp(5)))], floatDType: .f16)
        let g = try SafeTensors.serialize([("g", Tensor(shape: [3], scalars: ramp(3, 2, 1)))], floatDType: .bf16)
        try reference.withRawBytes("h") { want in #expect(Array(h.suffix(10)) == Array(want)) }
        try reference.withRawBytes("g") { want in #expect(Array(g.suffix(6)) == Array(want)) }
        let back = try SafeTensorsFile(data: h, url: URL(fileURLWithPath: "h"))
        #expect(back.info("h")?.dtype == .f16)
        #expect(try back.tensor("h").scalars == ramp(5))
    }

    @Test("writing replaces an existing file atomically and cleans up after a refused write")
    func atomicReplace() throws {
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("w.safetensors")
            try SafeTensors.write([("a", Tensor(shape: [1], scalars: [1]))], to: url)
            try SafeTensors.write([("a", Tensor(shape: [1], scalars: [2]))], to: url)
            #expect(try SafeTensorsFile(url: url).tensor("a").scalars == [2])
            let duplicate = thrownDescription {
                try SafeTensors.write([("a", Tensor(shape: [1], scalars: [3])), ("a", Tensor(shape: [1], scalars: [4]))], to: url)
            }
            #expect(duplicate.contains("tensor a is given twice"))
            let badCount = thrownDescription {
                try SafeTensors.write([], int64: [("i", shape: [2], values: [1])], to: url)
            }
            #expect(badCount.contains("shape [2] does not hold 1 values"))
            #expect(thrownDescription { try SafeTensors.write([], floatDType: .i32, to: url) }.contains("F32, F16 or BF16"))
            #expect(try SafeTensorsFile(url: url).tensor("a").scalars == [2], "earlier file untouched")
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["w.safetensors"])
        }
    }

    @Test("JSON escaping follows serde_json")
    func escaping() {
        #expect(SafeTensors.jsonString("a\"b\\c\nd\u{01}é/") == "\"a\\\"b\\\\c\\nd\\u0001é/\"")
    }
}
