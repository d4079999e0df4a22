import Foundation
import IsaerftData
import IsaerftTokenizers
import IsaerftTuning

/// Token rows to audit on (each row BOS-first where the tokenizer adds BOS), with a description.
public struct AuditData: Sendable {
    public var rows: [[Int]]
    public var description: String

    public init(rows: [[Int]], description: String) { self.rows = rows; self.description = description }

    /// Preference pairs as two rows each: prompt + chosen and prompt + rejected (`PairTokenizer`).
    public static func preferences(_ pairs: [PreferencePair], tokenizer: any TextTokenizer,
                                   settings: TokenizationSettings = TokenizationSettings(), description: String) throws -> AuditData {
        let (examples, _) = try PairTokenizer(tokenizer: tokenizer, settings: settings).tokenize(pairs)
        return AuditData(rows: examples.flatMap { [$0.promptIDs + $0.chosenIDs, $0.promptIDs + $0.rejectedIDs] }, description: description)
    }

    /// SFT rows as prompt + completion.
    public static func sft(_ pairs: [SFTPair], tokenizer: any TextTokenizer,
                           settings: TokenizationSettings = TokenizationSettings(), description: String) throws -> AuditData {
        let (examples, _) = try PairTokenizer(tokenizer: tokenizer, settings: settings).tokenize(pairs)
        return AuditData(rows: examples.map { $0.promptIDs + $0.completionIDs }, description: description)
    }

    /// A data file: preference rows (any `PreferenceFormat`) when it parses as one, else SFT/text rows.
    /// At most `maxRows` rows are kept (file order).
    public static func load(url: URL, tokenizer: any TextTokenizer, settings: TokenizationSettings = TokenizationSettings(),
                            maxRows: Int = 400) throws -> AuditData {
        var data: AuditData
        do {
            let prefs = try PreferenceDataset(url: url)
            data = try preferences(Array(prefs.pairs.prefix((maxRows + 1) / 2)), tokenizer: tokenizer, settings: settings,
                                   description: "\(url.lastPathComponent): preference pairs, prompt + chosen and prompt + rejected")
        } catch let preferenceError {
            let looksLikePreferences = (FileManager.default.contents(atPath: url.path).map { String(decoding: $0.prefix(4096), as: UTF8.self).contains("\"chosen\"") }) ?? false
            if looksLikePreferences { throw preferenceError }
            let sftData = try SFTDataset(url: url)
            data = try sft(Array(sftData.pairs.prefix(maxRows)), tokenizer: tokenizer, settings: settings,
                           description: "\(url.lastPathComponent): text rows")
        }
        data.rows = Array(data.rows.prefix(maxRows))
        return data
    }
}
