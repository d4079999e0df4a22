import Foundation

/// Locates the project's files for tests: `../shared/data` beside the repository root, and the
/// committed `fixtures/` folder. Tests that need a shared file call `SharedData.url(_:)` and skip
/// (with the returned message) when it is absent.
public enum SharedData {
    /// The repository root, found from this source file's location (`Sources/IsaerftTestSupport/…`).
    public static let repositoryRoot: URL = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }()

    /// `../shared/data` (override with `ISAERFT_SHARED_DATA`).
    public static let dataRoot: URL = {
        if let env = ProcessInfo.processInfo.environment["ISAERFT_SHARED_DATA"] {
            return URL(fileURLWithPath: env)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    /// The committed fixtures folder (`fixtures/` at the repository root).
    public static let fixturesRoot: URL = repositoryRoot.appendingPathComponent("fixtures")

    /// The URL of `relative` under `../shared/data`, or nil when the file is absent.
    public static func url(_ relative: String) -> URL? {
        let u = dataRoot.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    /// The message a test prints when it skips for lack of a shared file.
    public static func missingMessage(_ relative: String) -> String {
        "skipped: \(dataRoot.appendingPathComponent(relative).path) is absent (../shared/data is not beside the repository)"
    }

    /// A committed fixture file, or nil when absent.
    public static func fixture(_ relative: String) -> URL? {
        let u = fixturesRoot.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }
}
