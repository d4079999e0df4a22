import Foundation

/// A fresh temporary folder for one test.
func temporaryFolder(_ label: String) throws -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-runs-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}
