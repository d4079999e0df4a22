import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import Testing

/// The built `isaerft` binary (beside this test bundle), or nil when it was not built.
private let binary: URL? = {
    let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    let candidate = dir.appendingPathComponent("isaerft")
    return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
}()

/// `isaerft sae encode` against the library: the same kernels on the same rows (and the same OpenBLAS
/// kernel family), so bitwise equal.
@Suite("sae encode CLI vs library", .enabled(if: binary != nil, "the isaerft binary is not built"))
struct EvalEncodeCLITests {
    @Test("feature_acts and sae_out equal SparseAutoencoder.encode / decode of the hook value",
          arguments: ["standard", "jumprelu", "hook_z", "gated", "layer_norm"])
    func matchesLibrary(name: String) throws {
        let modelDir = SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a")
        let saeDir = SharedData.fixturesRoot.appendingPathComponent("sae/\(name)")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-encode-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let ids = [999, 5, 17, 3, 88, 41, 2, 60, 9, 999, 33, 70]
        let p = Process()
        p.executableURL = binary!
        p.arguments = ["sae", "encode", "--model", modelDir.path, "--sae", saeDir.path,
                       "--ids", ids.map(String.init).joined(separator: ","), "--output", out.path]
        // Same OpenBLAS kernel family as this process (the binary otherwise re-executes itself with
        // OPENBLAS_CORETYPE chosen, and another sgemm kernel sums in another order).
        var env = ProcessInfo.processInfo.environment
        env["ISAERFT_NO_REEXEC"] = "1"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "\(stderr)")

        let sae = try SparseAutoencoder.load(folder: saeDir)
        let model = try GPT2Model.load(folder: modelDir)
        let point = try sae.hookPoint()
        let captured = try model.forward(TokenBatch(ids), options: ForwardOptions(hooks: HookSet(capture: [point]), logits: .none))
            .captured[point]!
        let rows = captured.reshaped([ids.count, sae.dIn])
        let (f, stats) = try sae.encodeWithStatistics(rows)
        let y = sae.decode(f, statistics: stats)
        let file = try SafeTensorsFile(url: out)
        #expect(try file.tensor("sae_in").scalars == rows.scalars)
        #expect(try file.tensor("feature_acts") == f)
        #expect(try file.tensor("sae_out") == y)
        #expect(try file.int64s("input_ids").values == ids.map(Int64.init))
    }
}
