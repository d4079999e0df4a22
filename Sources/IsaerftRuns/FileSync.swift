import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durability helpers: `fsync(2)` of a folder makes a `rename(2)` inside it survive a power cut.
enum FileSync {
    /// fsyncs the folder at `url` (its entries: renames, creations, removals). Failures are ignored:
    /// some file systems refuse fsync on folders, and the rename itself already happened.
    static func syncDirectory(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }

    /// `rename(2)`, throwing a one-line error.
    static func rename(_ from: URL, _ to: URL) throws {
        #if canImport(Glibc)
        let rc = Glibc.rename(from.path, to.path)
        #else
        let rc = Darwin.rename(from.path, to.path)
        #endif
        guard rc == 0 else {
            throw RunsError.io(to.path, "rename from \(from.lastPathComponent): \(String(cString: strerror(errno)))")
        }
    }
}
