import Foundation
import Testing
import IsaerftTestSupport

/// A committed fixture under `fixtures/safetensors/` (made by scripts/make_safetensors_fixtures.py).
func safetensorsFixture(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
    try #require(SharedData.fixture("safetensors/\(name)"),
                 "fixtures/safetensors/\(name) is missing: run scripts/make_safetensors_fixtures.py",
                 sourceLocation: sourceLocation)
}

/// A fresh folder under the system temporary directory, removed when `body` returns.
func withTemporaryFolder<R>(_ body: (URL) throws -> R) throws -> R {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("isaerft-files-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

/// A hand-made safetensors image: the u64 length (or `lengthField`), the header text, `dataBytes`
/// bytes of data (value = index mod 251).
func rawSafeTensors(header: String, dataBytes: Int, lengthField: UInt64? = nil) -> Data {
    var out = Data()
    let headerData = Data(header.utf8)
    withUnsafeBytes(of: (lengthField ?? UInt64(headerData.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(headerData)
    out.append(contentsOf: (0..<dataBytes).map { UInt8($0 % 251) })
    return out
}

/// The description of the error `body` throws (fails the test when nothing is thrown).
func thrownDescription(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected an error, nothing was thrown", sourceLocation: sourceLocation)
        return ""
    } catch {
        return String(describing: error)
    }
}

/// Expected values of the fixture ramps: `i * scale + offset` in fp32.
func ramp(_ n: Int, _ scale: Float = 0.25, _ offset: Float = -1) -> [Float] {
    (0..<n).map { Float($0) * scale + offset }
}
