import Foundation
import IsaerftTokenizers

/// Tokenises preference and SFT pairs by `TokenizationSettings` (see there and `TokenizationMode` for
/// the rules and the TRL versions they follow).
///
/// ```swift
/// let tok = PairTokenizer(tokenizer: tokenizer, settings: settings)
/// let (examples, dropped) = try tok.tokenize(dataset.pairs)
/// ```
public struct PairTokenizer: Sendable {
    public let tokenizer: any TextTokenizer
    public let settings: TokenizationSettings

    public init(tokenizer: any TextTokenizer, settings: TokenizationSettings = TokenizationSettings()) {
        self.tokenizer = tokenizer; self.settings = settings
    }

    /// All pairs; `dropped` lists the sources of pairs removed by `maxLength` with `keep_start`.
    public func tokenize(_ pairs: [PreferencePair]) throws -> (examples: [PreferenceExample], dropped: [String]) {
        try settings.validate()
        var out: [PreferenceExample] = [], dropped: [String] = []
        for p in pairs { if let e = try tokenize(p) { out.append(e) } else { dropped.append(p.source) } }
        return (out, dropped)
    }

    public func tokenize(_ pairs: [SFTPair]) throws -> (examples: [SFTExample], dropped: [String]) {
        try settings.validate()
        var out: [SFTExample] = [], dropped: [String] = []
        for p in pairs { if let e = try tokenize(p) { out.append(e) } else { dropped.append(p.source) } }
        return (out, dropped)
    }

    /// One pair, or nil when `maxLength` with `keep_start` leaves no completion token.
    public func tokenize(_ pair: PreferencePair) throws -> PreferenceExample? {
        try settings.validate()
        let (prompt, completions) = try ids(prompt: pair.prompt, completions: [pair.chosen, pair.rejected], source: pair.source)
        guard let (p, c) = truncate(prompt: prompt, completions: completions) else { return nil }
        return PreferenceExample(promptIDs: p, chosenIDs: c[0], rejectedIDs: c[1], source: pair.source)
    }

    public func tokenize(_ pair: SFTPair) throws -> SFTExample? {
        try settings.validate()
        let (prompt, completions) = try ids(prompt: pair.prompt, completions: [pair.completion], source: pair.source)
        guard let (p, c) = truncate(prompt: prompt, completions: completions) else { return nil }
        return SFTExample(promptIDs: p, completionIDs: c[0], source: pair.source)
    }

    // MARK: - Ids

    var bosText: String {
        guard let b = tokenizer.bosTokenID, let bytes = try? tokenizer.tokenBytes(b) else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    var eosText: String? {
        guard let e = tokenizer.eosTokenID, let bytes = try? tokenizer.tokenBytes(e) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Puts BOS first when the policy asks for it and it is not there already.
    func withBOS(_ ids: [Int]) -> [Int] {
        guard let b = tokenizer.bosTokenID else { return ids }
        let wanted: Bool
        switch settings.bos {
        case .tokenizer: wanted = tokenizer.addsBOS
        case .always: wanted = true
        case .trl: return ids
        }
        if wanted && ids.first != b { return [b] + ids }
        return ids
    }

    func fail(_ source: String, _ why: String) -> TuningDataError {
        .malformedRow(file: source, location: "tokenising", reason: why)
    }

    /// Prompt ids and one id list per completion, before truncation.
    func ids(prompt: TextOrMessages, completions: [TextOrMessages], source: String) throws -> ([Int], [[Int]]) {
        switch settings.mode {
        case .joint: return try jointIDs(prompt: prompt, completions: completions, source: source)
        case .separate: return try separateIDs(prompt: prompt, completions: completions, source: source)
        }
    }

    func jointIDs(prompt: TextOrMessages, completions: [TextOrMessages], source: String) throws -> ([Int], [[Int]]) {
        var promptIDs: [Int]
        var fulls: [[Int]] = []
        switch prompt {
        case .text(let p):
            // HF tokenizer(text) = add_special_tokens=True.
            promptIDs = try tokenizer.encode(p, parseSpecial: true, addSpecialTokens: true)
            for c in completions {
                guard case .text(var t) = c else { throw fail(source, "prompt is text but a completion is a message list") }
                if settings.appendEOS, let eos = eosText, !t.hasSuffix(eos) { t += eos }
                fulls.append(try tokenizer.encode(p + t, parseSpecial: true, addSpecialTokens: true))
            }
            if settings.bos != .trl {
                promptIDs = withBOS(promptIDs)
                fulls = fulls.map { withBOS($0) }
            }
        case .messages(let m):
            // HF apply_chat_template(tokenize=True): rendered text, add_special_tokens=False.
            let text = try settings.template.render(m, addGenerationPrompt: true, bos: bosText)
            promptIDs = withBOS(try tokenizer.encode(text, parseSpecial: true, addSpecialTokens: false))
            for c in completions {
                guard case .messages(let cm) = c else { throw fail(source, "prompt is a message list but a completion is text") }
                let full = try settings.template.render(m + cm, addGenerationPrompt: false, bos: bosText)
                fulls.append(withBOS(try tokenizer.encode(full, parseSpecial: true, addSpecialTokens: false)))
            }
        }
        let split = fulls.map { commonPrefixLength(promptIDs, $0) }.min() ?? promptIDs.count
        return (Array(promptIDs[..<split]), fulls.map { Array($0[split...]) })
    }

    func separateIDs(prompt: TextOrMessages, completions: [TextOrMessages], source: String) throws -> ([Int], [[Int]]) {
        switch prompt {
        case .text(let p):
            let promptIDs = withBOS(try tokenizer.encode(p, parseSpecial: true, addSpecialTokens: false))
            let cs = try completions.map { c -> [Int] in
                guard case .text(let t) = c else { throw fail(source, "prompt is text but a completion is a message list") }
                var ids = try tokenizer.encode(t, parseSpecial: true, addSpecialTokens: false)
                if settings.appendEOS, let eos = tokenizer.eosTokenID { ids.append(eos) }
                return ids
            }
            return (promptIDs, cs)
        case .messages:
            // TRL ≤ 0.2x rendered conversational rows to text first (maybe_apply_chat_template); the joint
            // rule is what keeps template boundaries right, so use it.
            return try jointIDs(prompt: prompt, completions: completions, source: source)
        }
    }

    // MARK: - Truncation

    func truncate(prompt: [Int], completions: [[Int]]) -> ([Int], [[Int]])? {
        let bos = tokenizer.bosTokenID
        let lead = (bos != nil && prompt.first == bos) ? 1 : 0
        var p = prompt, cs = completions
        func keepPromptEnd(_ n: Int) {
            guard p.count > n else { return }
            p = Array(p.prefix(lead)) + Array(p.suffix(max(0, n - lead)))
        }
        if let m = settings.maxPromptLength { keepPromptEnd(max(m, lead)) }
        if let m = settings.maxCompletionLength { cs = cs.map { Array($0.prefix(m)) } }
        if let m = settings.maxLength {
            switch settings.truncation {
            case .keepStart:
                if p.count >= m { return nil }
                cs = cs.map { Array($0.prefix(m - p.count)) }
            case .keepEnd:
                let minPrompt = min(p.count, lead + 1)
                cs = cs.map { Array($0.prefix(max(1, m - minPrompt))) }
                let longest = cs.map(\.count).max() ?? 0
                if p.count + longest > m { keepPromptEnd(max(minPrompt, m - longest)) }
            }
        }
        return (p, cs)
    }
}

/// TRL `common_prefix_length`: the number of leading ids two lists share.
public func commonPrefixLength(_ a: [Int], _ b: [Int]) -> Int {
    var n = 0
    while n < a.count && n < b.count && a[n] == b[n] { n += 1 }
    return n
}
