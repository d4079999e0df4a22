import Foundation

/// Errors reading or tokenising preference and SFT data; each `description` is one line naming the
/// file and the line (JSONL) or row (JSON array) where it happened.
public enum TuningDataError: Error, CustomStringConvertible, Equatable, Sendable {
    case unreadable(file: String, reason: String)
    /// `location` is "line 12" (JSONL) or "row 12" (JSON array), 1-based.
    case malformedRow(file: String, location: String, reason: String)
    case noRows(file: String)
    case invalidSetting(String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): "\(file): \(reason)"
        case let .malformedRow(file, location, reason): "\(file): \(location): \(reason)"
        case let .noRows(file): "\(file): no rows"
        case let .invalidSetting(why): why
        }
    }
}
