import Foundation
import Testing
@testable import IsaerftCheckpoints

/// A fresh cache folder under the temporary directory, removed when `body` returns.
func withTemporaryCache<R>(_ body: (URL) async throws -> R) async throws -> R {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-hub-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    do {
        let r = try await body(folder)
        try? FileManager.default.removeItem(at: folder)
        return r
    } catch {
        try? FileManager.default.removeItem(at: folder)
        throw error
    }
}

/// The `HubError` `body` throws (records an issue when it throws nothing or something else).
func expectHubError(sourceLocation: SourceLocation = #_sourceLocation,
                    _ body: () async throws -> Void) async -> HubError? {
    do {
        try await body()
        Issue.record("expected a HubError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as HubError {
        return error
    } catch {
        Issue.record("expected a HubError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Collects progress callbacks from the downloading task.
final class ProgressLog: @unchecked Sendable {   // `events` behind `lock`
    private let lock = NSLock()
    private var log: [(file: String, done: Int64, total: Int64?)] = []
    var events: [(file: String, done: Int64, total: Int64?)] { lock.withLock { log } }
    var callback: HubProgress { { file, done, total in self.lock.withLock { self.log.append((file, done, total)) } } }
}

/// Deterministic bytes of a given length.
func bytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    var x = UInt32(seed) &* 2_654_435_761
    return (0..<count).map { _ in x = x &* 1_103_515_245 &+ 12_345; return UInt8(truncatingIfNeeded: x >> 16) }
}

/// The destination string of a symlink, or nil when `url` is not one.
func symlinkDestination(_ url: URL) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)
}

/// Files under `folder`, relative, sorted (links listed, not followed).
func listing(_ folder: URL) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: folder.path) else { return [] }
    var out: [String] = []
    while let p = e.nextObject() as? String { out.append(p) }
    return out.sorted()
}
