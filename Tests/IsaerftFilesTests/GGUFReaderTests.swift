import Foundation
import Testing
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport

// Fixtures: fixtures/gguf/, written by scripts/make_gguf_fixtures.py (gguf 0.19.0, numpy 2.4.6).

/// A committed fixture under `fixtures/gguf/`.
func ggufFixture(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
    try #require(SharedData.fixture("gguf/\(name)"),
                 "fixtures/gguf/\(name) is missing: run scripts/make_gguf_fixtures.py", sourceLocation: sourceLocation)
}

/// `fixtures/gguf/manifest.json` entry for `file`.
func ggufManifestEntry(_ file: String) throws -> [String: Any] {
    let data = try Data(contentsOf: try ggufFixture("manifest.json"))
    let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let files = try #require(manifest["files"] as? [String: Any])
    return try #require(files[file] as? [String: Any], "manifest.json has no entry for \(file)")
}

/// Exact equality of shapes and fp32 bit patterns; reports the first difference and how many.
func expectBitIdentical(_ got: Tensor, _ want: Tensor, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.shape == want.shape, "\(what): shape \(got.shape), expected \(want.shape)", sourceLocation: sourceLocation)
    guard got.shape == want.shape else { return }
    let diffs = zip(got.scalars, want.scalars).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
    if let first = diffs.first {
        Issue.record("\(what): \(diffs.count)/\(got.count) values differ; first at \(first.offset): got \(first.element.0), want \(first.element.1)",
                     sourceLocation: sourceLocation)
    }
}

/// The description of the error `body` throws (records an issue when nothing is thrown).
func ggufThrown(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected an error, nothing was thrown", sourceLocation: sourceLocation)
        return ""
    } catch {
        return String(describing: error)
    }
}

/// A temporary copy of a fixture's bytes, changed by `edit`, removed after `body`.
func withEditedGGUF<R>(_ fixture: String, _ edit: (inout Data) -> Void, _ body: (URL) throws -> R) throws -> R {
    var data = try Data(contentsOf: try ggufFixture(fixture))
    edit(&data)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-gguf-\(UUID().uuidString).gguf")
    try data.write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

@Suite("GGUF reader")
struct GGUFReaderTests {
    static let typeTensors = ["f32", "f16", "bf16", "q8_0", "q4_0", "q5_0", "q4_K", "q5_K", "q6_K", "q8_0_3d"]

    @Test("every supported type dequantises bit-identically to gguf.quants.dequantize", arguments: typeTensors)
    func dequantisation(name: String) throws {
        let file = try GGUFFile(url: try ggufFixture("types.gguf"))
        let expected = try SafeTensorsFile(url: try ggufFixture("types_expected.safetensors"))
        expectBitIdentical(try file.tensor(name), try expected.tensor(name), name)
    }

    @Test("tensor infos: ggml dims, types, PyTorch shape (ggml [ne0, ne1] → [ne1, ne0])")
    func tensorInfos() throws {
        let file = try GGUFFile(url: try ggufFixture("types.gguf"))
        let tensors = try #require(try ggufManifestEntry("types.gguf")["tensors"] as? [String: [String: Any]])
        #expect(Set(file.names) == Set(tensors.keys))
        for (name, entry) in tensors {
            let info = try #require(file.info(name))
            #expect(info.dimensions == entry["ggml_dims"] as? [Int], "\(name)")
            #expect(info.type.name == entry["type"] as? String, "\(name)")
            #expect(info.shape == info.dimensions.reversed(), "\(name)")
            #expect(info.offset % 64 == 0, "\(name) offset \(info.offset) respects general.alignment 64")
        }
        #expect(file.alignment == 64)
        #expect(file.dataStart % 64 == 0)
        #expect(file.info("q8_0_3d")?.shape == [2, 2, 32])
        #expect(file.version == 3)
    }

    @Test("rows(_:_:) equals the matching rows of the full tensor, for every type")
    func rowSubsets() throws {
        let file = try GGUFFile(url: try ggufFixture("types.gguf"))
        for name in Self.typeTensors {
            let full = try file.tensor(name)
            let info = try #require(file.info(name))
            let picks = [info.rowCount - 1, 0, info.rowCount - 1]
            let got = try file.rows(name, picks)
            let flat = full.reshaped([info.rowCount, info.rowLength])
            let want = Tensor(shape: [3, info.rowLength], scalars: picks.flatMap { flat.rows($0..<($0 + 1)).scalars })
            expectBitIdentical(got, want, "\(name) rows \(picks)")
        }
        #expect(ggufThrown { _ = try file.rows("q8_0", [3]) }.contains("row 3 is out of range 0..<3"))
    }

    @Test("metadata of every value type round-trips")
    func metadata() throws {
        let file = try GGUFFile(url: try ggufFixture("types.gguf"))
        #expect(file.metadata["test.u8"] == .uint8(200))
        #expect(file.metadata["test.i8"] == .int8(-100))
        #expect(file.metadata["test.u16"] == .uint16(60000))
        #expect(file.metadata["test.i16"] == .int16(-30000))
        #expect(file.metadata["test.u32"] == .uint32(4_000_000_000))
        #expect(file.metadata["test.i32"] == .int32(-2_000_000_000))
        #expect(file.metadata["test.f32"] == .float32(0.1))
        #expect(file.metadata["test.u64"] == .uint64(1 << 40))
        #expect(file.metadata["test.i64"] == .int64(-(1 << 40)))
        #expect(file.metadata["test.f64"] == .float64(0.1))
        #expect(file.int("test.u32") == 4_000_000_000)
        #expect(file.int("test.i64") == -(1 << 40))
        #expect(file.float("test.f32") == 0.1 as Float)
        #expect(file.bool("test.bool") == true)
        #expect(file.string("test.string") == "héllo ▁wörld")
        #expect(file.string("general.architecture") == "test")
        #expect(file.architecture == "test")
        #expect(file.int("general.alignment") == 64)
        #expect(file.strings("test.strings") == ["a", "", "▁b", "<0x0A>"])
        #expect(file.floats("test.floats") == [0.5, -1.25, 3.0e-7])
        #expect(file.int32s("test.int32s") == [1, -2, 2_147_483_647])
        #expect(file.ints("test.u8s") == [1, 2, 255])
        #expect(file.bools("test.bools") == [true, false, true])
        #expect(file.metadata["test.nested"] == .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [.int32(3)])]))
        #expect(file.byteStrings("test.bytes_tokens") == [Array("ok".utf8), [0xFF, 0xFE]])
        // Wrong-type and absent keys read as nil.
        #expect(file.string("test.u8") == nil)
        #expect(file.int("test.string") == nil)
        #expect(file.floats("test.strings") == nil)
        #expect(file.int("absent") == nil)
        #expect(file.metadataKeys.first == "general.architecture")
    }

    @Test("the raw GGUF file is a TensorSource under its GGUF names")
    func tensorSource() throws {
        let source: any TensorSource = try GGUFFile(url: try ggufFixture("types.gguf"))
        #expect(source.names == source.names.sorted())
        #expect(try source.tensor("f32").shape == [3, 8])
    }
}

@Suite("GGUF reader errors")
struct GGUFErrorTests {
    @Test("a truncated file names the tensor and the byte counts")
    func truncated() throws {
        let original = try Data(contentsOf: try ggufFixture("types.gguf"))
        let message = try withEditedGGUF("types.gguf", { $0 = $0.prefix($0.count - 100) }) { url in
            ggufThrown { _ = try GGUFFile(url: url) }
        }
        let last = try GGUFFile(url: try ggufFixture("types.gguf")).tensorInfos.max { $0.offset < $1.offset }!
        #expect(message.contains("truncated: tensor \(last.name) needs bytes up to"), "\(message)")
        #expect(message.contains("file has \(original.count - 100)"), "\(message)")
    }

    @Test("a file cut inside the header reports what it was reading")
    func truncatedHeader() throws {
        let message = try withEditedGGUF("types.gguf", { $0 = $0.prefix(40) }) { url in
            ggufThrown { _ = try GGUFFile(url: url) }
        }
        #expect(message.contains("truncated header"), "\(message)")
        #expect(message.contains("file has 40"), "\(message)")
    }

    @Test("GGUF version 1 is refused with a clear message")
    func version1() throws {
        let message = try withEditedGGUF("types.gguf", { $0[4] = 1 }) { url in ggufThrown { _ = try GGUFFile(url: url) } }
        #expect(message.contains("GGUF version 1 is not supported"), "\(message)")
        let v2 = try withEditedGGUF("types.gguf", { $0[4] = 2 }) { url in try GGUFFile(url: url) }
        #expect(v2.version == 2)
        let v9 = try withEditedGGUF("types.gguf", { $0[4] = 9 }) { url in ggufThrown { _ = try GGUFFile(url: url) } }
        #expect(v9.contains("version 9 is not supported (supported: 2, 3)"), "\(v9)")
    }

    @Test("a file without the GGUF magic is refused")
    func badMagic() throws {
        let message = try withEditedGGUF("types.gguf", { $0[0] = 0x48 }) { url in ggufThrown { _ = try GGUFFile(url: url) } }
        #expect(message.contains("not a GGUF file"), "\(message)")
    }

    @Test("an unsupported ggml type fails on dequantisation, naming the tensor and the type")
    func unsupportedType() throws {
        let file = try GGUFFile(url: try ggufFixture("unsupported.gguf"))
        #expect(file.info("q2_K")?.type == .q2_K)
        #expect(file.info("q2_K")?.byteCount == 84)
        let message = ggufThrown { _ = try file.tensor("q2_K") }
        #expect(message.contains("tensor q2_K has ggml type Q2_K, which cannot be dequantised"), "\(message)")
        #expect(ggufThrown { _ = try file.tensor("iq4_nl") }.contains("ggml type IQ4_NL"))
        #expect(ggufThrown { _ = try file.rows("q2_K", [0]) }.contains("Q2_K"))
        #expect(try file.tensor("f32").scalars == [0, 1, 2, 3])
        #expect(ggufThrown { _ = try file.tensor("nope") }.contains("missing tensor nope"))
    }

    @Test("an unknown ggml type id is refused when opening")
    func unknownTypeID() throws {
        // unsupported.gguf: the first tensor info is q2_K; its type id (10) follows name and dims.
        let message = try withEditedGGUF("unsupported.gguf", { data in
            let needle = Data("q2_K".utf8)
            let at = data.range(of: needle)!.upperBound + 4 + 16   // n_dims, ne0, ne1
            data[at] = 99
        }) { url in ggufThrown { _ = try GGUFFile(url: url) } }
        #expect(message.contains("tensor q2_K: unknown ggml type id 99"), "\(message)")
    }

    @Test("an unknown architecture cannot be converted; the error names it")
    func unknownArchitecture() throws {
        let file = try GGUFFile(url: try ggufFixture("unsupported.gguf"))
        let message = ggufThrown { _ = try file.converted() }
        #expect(message.contains("GGUF architecture 'mamba' is not supported"), "\(message)")
        #expect(message.contains("gemma3"), "\(message)")
    }

    @Test("ggml type names and ids follow gguf/constants.py")
    func typeTable() {
        #expect(GGMLType.q4_K.name == "Q4_K" && GGMLType.q4_K.blockSize == 256 && GGMLType.q4_K.typeSize == 144)
        #expect(GGMLType.q5_K.typeSize == 176 && GGMLType.q6_K.typeSize == 210 && GGMLType.q5_0.typeSize == 22)
        #expect(GGMLType.q4_0.typeSize == 18 && GGMLType.q8_0.typeSize == 34 && GGMLType.bf16.id == 30)
        #expect(GGMLType(id: 20).name == "IQ4_NL" && !GGMLType(id: 20).isDequantizable)
        #expect(GGMLType(id: 4).name == "type 4" && !GGMLType(id: 4).isKnown)
    }
}
