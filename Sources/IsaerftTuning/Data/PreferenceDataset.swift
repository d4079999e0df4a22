import Foundation
import IsaerftData

/// Preference pairs read from a file (`.jsonl`, `.json` array, either gzip-compressed), every row
/// turned into an explicit-prompt `PreferencePair` (`training-objectives.md` §5, `data.md` §4–§5).
///
/// ```swift
/// let data = try PreferenceDataset(url: url)                       // format detected per row
/// let (train, eval) = data.split(evalFraction: 0.1, seed: 42)
/// ```
public struct PreferenceDataset: Sendable {
    public var pairs: [PreferencePair]
    public var source: String

    public init(pairs: [PreferencePair], source: String = "memory") { self.pairs = pairs; self.source = source }

    /// Reads `url`; a malformed row (missing field, wrong type, empty text, no shared prompt) is an
    /// error naming the file and line (JSONL) or row (JSON array).
    public init(url: URL, format: PreferenceFormat = .auto) throws {
        let rows = try JSONRows(url: url)
        pairs = try rows.rows.map { location, object in
            try Self.pair(RowReader(file: rows.file, location: location, object: object), format: format)
        }
        source = rows.file
    }

    /// Parses rows from memory (`file` names them in errors).
    public init(data: Data, file: String, format: PreferenceFormat = .auto) throws {
        let rows = try JSONRows(data: data, file: file)
        pairs = try rows.rows.map { location, object in
            try Self.pair(RowReader(file: rows.file, location: location, object: object), format: format)
        }
        source = file
    }

    /// The format `auto` picks for a row.
    static func detect(_ row: RowReader) -> PreferenceFormat {
        if row.has("conversations") { return .shareGPT }
        if row.has("prompt") { return .standard }
        if let c = row.object["chosen"] as? String, let r = row.object["rejected"] as? String,
           c.hasPrefix("\n\nHuman:"), r.hasPrefix("\n\nHuman:") { return .hhRLHF }
        return .implicit
    }

    static func pair(_ row: RowReader, format: PreferenceFormat) throws -> PreferencePair {
        let where_ = "\(row.file): \(row.location)"
        switch format == .auto ? detect(row) : format {
        case .auto, .standard:
            let prompt = try row.content("prompt"), chosen = try row.content("chosen"), rejected = try row.content("rejected")
            guard prompt.isConversational == chosen.isConversational, chosen.isConversational == rejected.isConversational else {
                throw row.fail("prompt, chosen and rejected must all be strings or all be message lists")
            }
            return PreferencePair(prompt: prompt, chosen: chosen, rejected: rejected, source: where_)
        case .implicit:
            let chosen = try row.content("chosen"), rejected = try row.content("rejected")
            switch (chosen, rejected) {
            case let (.text(c), .text(r)):
                guard let (p, cc, rr) = Preferences.extractPrompt(chosen: c, rejected: r) else { throw row.fail("chosen or rejected is empty") }
                if cc.isEmpty || rr.isEmpty { throw row.fail("chosen and rejected are the same text or one is the start of the other") }
                return PreferencePair(prompt: .text(p), chosen: .text(cc), rejected: .text(rr), source: where_)
            case let (.messages(c), .messages(r)):
                guard let (p, cc, rr) = Preferences.extractPrompt(chosen: c, rejected: r, space: nil), !p.isEmpty else {
                    throw row.fail("chosen and rejected conversations share no first message (no prompt)")
                }
                if cc.isEmpty || rr.isEmpty { throw row.fail("chosen and rejected conversations are the same") }
                return PreferencePair(prompt: .messages(p), chosen: .messages(cc), rejected: .messages(rr), source: where_)
            default:
                throw row.fail("chosen and rejected must both be strings or both be message lists")
            }
        case .hhRLHF:
            let c = try row.string("chosen"), r = try row.string("rejected")
            guard let (p, cc, rr) = Preferences.splitHHRLHF(chosen: c, rejected: r) else {
                throw row.fail("chosen and rejected share no prefix ending in \"\\n\\nAssistant:\"")
            }
            return PreferencePair(prompt: .text(p), chosen: .text(cc), rejected: .text(rr), source: where_)
        case .shareGPT:
            guard let list = row.object["conversations"] as? [Any] else { throw row.fail("field \"conversations\" is missing or not a list") }
            if list.isEmpty { throw row.fail("field \"conversations\" is an empty list") }
            let prompt = try list.enumerated().map { k, m in try row.shareGPTMessage(m, field: "conversations[\(k)]") }
            guard let chosenObject = row.object["chosen"] else { throw row.fail("missing field \"chosen\"") }
            guard let rejectedObject = row.object["rejected"] else { throw row.fail("missing field \"rejected\"") }
            let chosen = try row.shareGPTMessage(chosenObject, field: "chosen"), rejected = try row.shareGPTMessage(rejectedObject, field: "rejected")
            return PreferencePair(prompt: .messages(prompt), chosen: .messages([chosen]), rejected: .messages([rejected]), source: where_)
        }
    }

    /// A seeded split (`seededSplit`): `evalFraction` of the pairs for evaluation, the rest for training.
    public func split(evalFraction: Double, seed: UInt64) -> (train: PreferenceDataset, eval: PreferenceDataset) {
        let (t, e) = seededSplit(pairs, evalFraction: evalFraction, seed: seed)
        return (PreferenceDataset(pairs: t, source: source + " (train)"), PreferenceDataset(pairs: e, source: source + " (eval)"))
    }
}

/// SFT rows from a file: JSONL / JSON rows `{"text"}` (language modelling: empty prompt, the text is the
/// completion), `{"prompt", "completion"}` (strings or message lists) or `{"messages"}` (prompt = all
/// but the last message, completion = the last, which must be from the assistant); any other file
/// (plain text, gzip allowed) is one `text` document per blank-line-separated paragraph.
public struct SFTDataset: Sendable {
    public var pairs: [SFTPair]
    public var source: String

    public init(pairs: [SFTPair], source: String = "memory") { self.pairs = pairs; self.source = source }

    public init(url: URL, textField: String = "text") throws {
        let name = url.lastPathComponent.lowercased().replacingOccurrences(of: ".gz", with: "")
        if name.hasSuffix(".jsonl") || name.hasSuffix(".json") || name.hasSuffix(".ndjson") {
            let rows = try JSONRows(url: url)
            pairs = try rows.rows.map { location, object in
                try Self.pair(RowReader(file: rows.file, location: location, object: object), textField: textField)
            }
        } else {
            let docs: TextDataset
            do { docs = try TextDataset(url: url, textField: textField, splitParagraphs: true) } catch {
                throw TuningDataError.unreadable(file: url.path, reason: "\(error)")
            }
            pairs = docs.documents.enumerated().map { SFTPair(prompt: .text(""), completion: .text($1), source: "\(url.path): document \($0 + 1)") }
        }
        source = url.path
    }

    static func pair(_ row: RowReader, textField: String) throws -> SFTPair {
        let where_ = "\(row.file): \(row.location)"
        if row.has("prompt") || row.has("completion") {
            let p = try row.content("prompt"), c = try row.content("completion")
            guard p.isConversational == c.isConversational else { throw row.fail("prompt and completion must both be strings or both be message lists") }
            return SFTPair(prompt: p, completion: c, source: where_)
        }
        if row.has("messages") {
            guard case let .messages(m) = try row.content("messages") else { throw row.fail("field \"messages\" is not a list of messages") }
            guard m.count >= 2, m.last!.role == "assistant" else { throw row.fail("\"messages\" must end with an assistant message after at least one other") }
            return SFTPair(prompt: .messages(Array(m.dropLast())), completion: .messages([m.last!]), source: where_)
        }
        return SFTPair(prompt: .text(""), completion: .text(try row.string(textField)), source: where_)
    }

    public func split(evalFraction: Double, seed: UInt64) -> (train: SFTDataset, eval: SFTDataset) {
        let (t, e) = seededSplit(pairs, evalFraction: evalFraction, seed: seed)
        return (SFTDataset(pairs: t, source: source + " (train)"), SFTDataset(pairs: e, source: source + " (eval)"))
    }
}
