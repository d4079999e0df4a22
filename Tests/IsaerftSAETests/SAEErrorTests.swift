import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// Bad folders and configs give one typed error that names the file and the field.
@Suite("SAE loading errors")
struct SAEErrorTests {
    /// A copy of the `standard` fixture in a temporary folder, with `edit` applied to its cfg.json.
    func folder(cfg edit: (inout JSONValue) -> Void = { _ in }, rawConfig: String? = nil,
                tensors: ((inout [(String, Tensor)]) -> Void)? = nil) throws -> URL {
        let out = SAEFixture.temporaryFolder("err")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let src = SAEFixture.root.appendingPathComponent("standard")
        var cfg = try JSONValue.parse(Data(contentsOf: src.appendingPathComponent("cfg.json")))
        edit(&cfg)
        try Data((rawConfig ?? cfg.description).utf8).write(to: out.appendingPathComponent("cfg.json"))
        let file = try SafeTensorsFile(url: src.appendingPathComponent("sae_weights.safetensors"))
        var list = try file.names.map { ($0, try file.tensor($0)) }
        tensors?(&list)
        try SafeTensors.write(list, to: out.appendingPathComponent("sae_weights.safetensors"))
        return out
    }

    func loadError(_ url: URL) -> SAEError? {
        defer { try? FileManager.default.removeItem(at: url) }
        do { _ = try SparseAutoencoder.load(folder: url); return nil } catch let e as SAEError { return e } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    @Test("the unmodified copy loads (control)")
    func control() throws {
        #expect(loadError(try folder()) == nil)
    }

    @Test("a missing file is named")
    func missingFile() throws {
        let url = try folder()
        try FileManager.default.removeItem(at: url.appendingPathComponent("sae_weights.safetensors"))
        let e = try #require(loadError(url))
        #expect(e.description.contains("sae_weights.safetensors"))
        let empty = SAEFixture.temporaryFolder("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let e2 = try #require(loadError(empty))
        #expect(e2.description.contains("cfg.json") && e2.description.contains("no such file"))
    }

    @Test("malformed cfg.json: not JSON")
    func notJSON() throws {
        let e = try #require(loadError(try folder(rawConfig: "{\"d_in\": 64, ")))
        guard case .badConfig(let file, let field, _) = e else { Issue.record("got \(e)"); return }
        #expect(file.hasSuffix("cfg.json") && field == "(json)")
    }

    @Test("malformed cfg.json: wrong types and unknown values name the field",
          arguments: [("d_in", JSONValue.string("64")), ("d_sae", .int(-3)), ("apply_b_dec_to_input", .string("yes")),
                      ("normalize_activations", .string("batch_norm")), ("reshape_activations", .string("hook_q"))])
    func badField(field: String, value: JSONValue) throws {
        let e = try #require(loadError(try folder(cfg: { $0.set(field, value) })))
        guard case .badConfig(let file, let f, _) = e else { Issue.record("got \(e)"); return }
        #expect(file.hasSuffix("cfg.json") && f == field, "\(e)")
    }

    @Test("a metadata hook_name that is not a string names metadata.hook_name")
    func badHookName() throws {
        let e = try #require(loadError(try folder(cfg: { c in
            var m = c["metadata"]!
            m.set("hook_name", .int(3))
            c.set("metadata", m)
        })))
        guard case .badConfig(_, let f, _) = e else { Issue.record("got \(e)"); return }
        #expect(f == "metadata.hook_name")
    }

    @Test("missing d_sae and unknown architecture")
    func missingAndUnknown() throws {
        let e = try #require(loadError(try folder(cfg: { c in c = .object(c.objectPairs!.filter { $0.0 != "d_sae" }) })))
        #expect(e.description.contains("'d_sae' is missing"))
        let a = try #require(loadError(try folder(cfg: { $0.set("architecture", .string("crosscoder")) })))
        #expect(a == .unknownArchitecture(file: a.fileForTest, "crosscoder"))
    }

    @Test("strict tensors: missing, unexpected, wrong shape")
    func tensors() throws {
        let m = try #require(loadError(try folder(tensors: { $0.removeAll { $0.0 == "b_enc" } })))
        #expect(m.description.contains("missing tensors b_enc"))
        let u = try #require(loadError(try folder(tensors: { $0.append(("threshold", Tensor(shape: [128]))) })))
        #expect(u.description.contains("unexpected tensors threshold"))
        let s = try #require(loadError(try folder(tensors: { list in
            list = list.map { $0.0 == "W_dec" ? ($0.0, Tensor(shape: [64, 128])) : $0 }
        })))
        #expect(s.description.contains("W_dec") && s.description.contains("[128, 64]"))
        let d = try #require(loadError(try folder(cfg: { $0.set("d_sae", .int(100)) })))
        #expect(d.description.contains("expected [64, 100]") || d.description.contains("expected [100"))
    }

    @Test("topk k outside 1...d_sae")
    func badK() throws {
        let e = try #require(loadError(try folder(cfg: { $0.set("architecture", .string("topk")); $0.set("k", .int(1000)) })))
        guard case .badConfig(_, let f, _) = e else { Issue.record("got \(e)"); return }
        #expect(f == "k")
    }

    @Test("encode refuses inputs of the wrong width")
    func inputWidth() throws {
        let sae = try SAEFixture.load("standard")
        #expect(throws: SAEError.inputShape(expectedWidth: 64, found: [3, 32])) { try sae.encode(Tensor(shape: [3, 32])) }
    }
}

extension SAEError {
    /// The file an error names (tests only).
    var fileForTest: String {
        switch self {
        case let .unknownArchitecture(f, _), let .badConfig(f, _, _), let .missingTensors(f, _): f
        default: ""
        }
    }
}
