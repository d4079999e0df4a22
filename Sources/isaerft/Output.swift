import ArgumentParser
import Foundation
import IsaerftCheckpoints
#if canImport(Glibc)
import Glibc
#endif

/// Printing for the CLI: one clear error line on failure, JSON when asked, progress only on a terminal.
enum Output {
    static var stderrIsTerminal: Bool { isatty(2) != 0 }
    static var stdoutIsTerminal: Bool { isatty(1) != 0 }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("isaerft: error: \(message)\n".utf8))
    }

    static func status(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// A transient progress line on a terminal's stderr; nothing in pipes.
    static func progress(_ message: String) {
        guard stderrIsTerminal else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + message).utf8))
    }

    static func endProgress() {
        guard stderrIsTerminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func json(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    static func line(_ s: String) { print(s) }

    /// The message of any error: our typed errors describe themselves in one line.
    static func describe(_ error: any Error) -> String {
        let text: String
        switch error {
        case let e as CocoaError: text = e.localizedDescription
        case let e as DecodingError:
            switch e {
            case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
                let path = c.codingPath.map(\.stringValue).joined(separator: ".")
                text = "malformed JSON\(path.isEmpty ? "" : " at \(path)"): \(c.debugDescription)"
            @unknown default: text = "malformed JSON"
            }
        case let e as any CustomStringConvertible: text = e.description
        default: text = error.localizedDescription
        }
        return text.replacingOccurrences(of: "\n", with: " ")
    }
}

extension FileHandle {
    func write(_ s: String) { write(Data(s.utf8)) }
}

/// Runs a command body, turning any error into one line on stderr and exit status 1.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as ExitCode {
        throw e
    } catch let e as CleanExit {
        throw e
    } catch {
        Output.endProgress()
        Output.error(Output.describe(error))
        throw ExitCode(1)
    }
}

/// Progress reporter for downloads (terminal only).
let downloadProgress: HubProgress = { file, done, total in
    if let total, total > 0 {
        Output.progress("downloading \(file): \(done * 100 / total)% of \(total / 1_000_000) MB")
    } else {
        Output.progress("downloading \(file): \(done / 1_000_000) MB")
    }
}
