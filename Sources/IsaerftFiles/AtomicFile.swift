import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic replacement of files (style rule 14): write `<name>.partial` beside the destination, then
/// `rename(2)` it over the destination, so an interrupted job never leaves a half-written file
/// under the final name. `FileManager.replaceItemAt` is deliberately not used: on Linux with Swift
/// 6.3.1 it was measured to fail and delete the destination.
public enum AtomicFile {
    /// `<url>.partial`, in the same folder (rename(2) is only atomic within one file system).
    public static func partialURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".partial")
    }

    /// Renames `partial` to `destination`, replacing it atomically if it exists.
    public static func commit(_ partial: URL, to destination: URL) throws {
        guard rename(partial.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            throw FileFormatError.writeFailed(file: destination.path,
                                              reason: "rename from \(partial.lastPathComponent): \(reason)")
        }
    }

    /// Writes `data` to `<url>.partial`, flushes it, and renames it to `url`.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { handle in try handle.write(contentsOf: data) }
    }

    /// Creates (truncating) `<url>.partial`, lets `body` write through the handle, flushes and
    /// closes it, then renames it to `url`. On any error the partial file is removed.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let partial = partialURL(for: url)
        guard FileManager.default.createFile(atPath: partial.path, contents: nil) else {
            throw FileFormatError.writeFailed(file: url.path, reason: "cannot create \(partial.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: partial)
            do {
                try body(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            try commit(partial, to: url)
        } catch let error as FileFormatError {
            try? FileManager.default.removeItem(at: partial)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw FileFormatError.writeFailed(file: url.path, reason: (error as NSError).localizedDescription)
        }
    }
}
