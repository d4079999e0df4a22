import Foundation
import IsaerftCore
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// Folders written by `SparseAutoencoder.save(folder:)` load in SAELens (issue #4).
///
/// `fixtures/sae-roundtrip/<name>/` holds what our writer produced for the fixture SAE `<name>`;
/// `scripts/make_sae_fixtures.py --roundtrip` loads each with SAELens' `SAE.load_from_disk`, encodes
/// the source fixture's rows and writes the worst differences to `check.json`. To regenerate after
/// a deliberate writer change: `ISAERFT_WRITE_ROUNDTRIP=1 swift test --filter SAERoundTripTests`,
/// then the script with `--roundtrip`.
@Suite("SAE folders we save load in SAELens")
struct SAERoundTripTests {
    /// One fixture per architecture and input handling (folded expected_average and a converted
    /// Gemma Scope SAE are written as plain v6 folders).
    static let names = ["standard", "gated", "topk", "topk_rescale", "abstopk", "jumprelu", "layer_norm", "constant_norm",
                        "hook_z", "expected_average", "batchtopk", "gemma_scope"]
    static let root = SharedData.fixturesRoot.appendingPathComponent("sae-roundtrip")

    static func files(in folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test("our writer still produces the committed folders byte for byte", arguments: names)
    func byteIdentical(name: String) throws {
        let sae = try SAEFixture.load(name)
        let committed = Self.root.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["ISAERFT_WRITE_ROUNDTRIP"] == "1" {
            try? FileManager.default.removeItem(at: committed)
            try sae.save(folder: committed)
        }
        let fresh = SAEFixture.temporaryFolder("roundtrip-\(name)")
        defer { try? FileManager.default.removeItem(at: fresh) }
        try sae.save(folder: fresh)
        let want = try Self.files(in: committed)
        #expect(try Self.files(in: fresh) == want)
        for f in want {
            let a = try Data(contentsOf: fresh.appendingPathComponent(f)), b = try Data(contentsOf: committed.appendingPathComponent(f))
            #expect(a == b, "\(name)/\(f): \(a.count) bytes written, \(b.count) committed")
        }
    }

    /// check.json from SAELens 6.54.12: every folder loaded, and encode/decode of the source rows
    /// matched SAELens' encodings of the source fixture within 1e-5 × max(1, max |reference|).
    @Test("SAELens loaded every committed folder and matched its encodings within 1e-5")
    func saelensCheck() throws {
        let check = try JSONValue.parse(Data(contentsOf: Self.root.appendingPathComponent("check.json")))
        let folders = try #require(check["folders"]?.objectPairs)
        #expect(Set(folders.map(\.0)) == Set(Self.names), "check.json covers \(folders.map(\.0))")
        for (name, entry) in folders {
            #expect(entry["loaded"]?.boolValue == true, "\(name): \(entry["error"]?.stringValue ?? "not loaded")")
            #expect(entry["matched"]?.boolValue == true, "\(name): \(entry)")
            let enc = entry["max_abs_encode_error"]?.doubleValue ?? .infinity
            let dec = entry["max_abs_decode_error"]?.doubleValue ?? .infinity
            let scale = max(1, entry["max_abs_encode"]?.doubleValue ?? 1)
            #expect(enc <= 1e-5 * scale && dec <= 1e-5 * scale, "\(name): encode error \(enc), decode error \(dec)")
        }
    }
}
