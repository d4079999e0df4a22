/// One training example as token ids: a prompt with a chosen completion, and for preference
/// objectives a rejected one (`nil` for SFT). Prompt and completions are tokenised separately
/// (TRL), so the completion mask is exact: no re-tokenisation of joined text.
public struct TuneExample: Sendable, Equatable {
    public var promptIDs: [Int]
    public var chosenIDs: [Int]
    public var rejectedIDs: [Int]?

    public init(promptIDs: [Int], chosenIDs: [Int], rejectedIDs: [Int]? = nil) {
        self.promptIDs = promptIDs; self.chosenIDs = chosenIDs; self.rejectedIDs = rejectedIDs
    }

    /// The sequences this example contributes: prompt + chosen, then prompt + rejected when present.
    var sequences: [[Int]] { [promptIDs + chosenIDs] + (rejectedIDs.map { [promptIDs + $0] } ?? []) }
    /// Tokens of the longest sequence (for length grouping).
    var longest: Int { promptIDs.count + max(chosenIDs.count, rejectedIDs?.count ?? 0) }
}

extension TuneExample {
    public init(_ e: PreferenceExample) { self.init(promptIDs: e.promptIDs, chosenIDs: e.chosenIDs, rejectedIDs: e.rejectedIDs) }
    public init(_ e: SFTExample) { self.init(promptIDs: e.promptIDs, chosenIDs: e.completionIDs) }
}
