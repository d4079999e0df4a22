import Foundation

/// A prompt or completion: plain text (standard format) or a list of chat messages (conversational).
public enum TextOrMessages: Sendable, Equatable {
    case text(String)
    case messages([ChatMessage])

    public var isConversational: Bool { if case .messages = self { true } else { false } }
}

/// One preference pair before tokenisation, always with an explicit prompt (TRL "preference,
/// explicit prompt"): `chosen`/`rejected` are completions only. Prompt and completions are both text
/// or both messages. `source` is "file: line N" (or "row N"), for messages about this pair.
public struct PreferencePair: Sendable, Equatable {
    public var prompt: TextOrMessages
    public var chosen: TextOrMessages
    public var rejected: TextOrMessages
    public var source: String

    public init(prompt: TextOrMessages, chosen: TextOrMessages, rejected: TextOrMessages, source: String = "memory") {
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected; self.source = source
    }

    public init(prompt: String, chosen: String, rejected: String, source: String = "memory") {
        self.init(prompt: .text(prompt), chosen: .text(chosen), rejected: .text(rejected), source: source)
    }
}

/// One SFT row before tokenisation: a prompt (empty for language-modelling rows `{"text"}`, whose
/// whole text is the completion) and a completion.
public struct SFTPair: Sendable, Equatable {
    public var prompt: TextOrMessages
    public var completion: TextOrMessages
    public var source: String

    public init(prompt: TextOrMessages, completion: TextOrMessages, source: String = "memory") {
        self.prompt = prompt; self.completion = completion; self.source = source
    }
}

/// How the rows of a preference file are laid out (`training-objectives.md` §5).
public enum PreferenceFormat: String, Sendable, CaseIterable, Codable {
    /// Per row: `conversations` → `sharegpt`; `prompt` → `standard`; `chosen`/`rejected` strings that
    /// start with `"\n\nHuman:"` → `hh-rlhf`; otherwise `implicit`.
    case auto
    /// `{"prompt", "chosen", "rejected"}`: strings, or message lists (conversational).
    case standard
    /// `{"chosen", "rejected"}` full texts or conversations; the prompt is the shared start, cut as TRL's
    /// `extract_prompt` cuts it (`Preferences.extractPrompt`).
    case implicit
    /// Anthropic HH-RLHF transcripts: the prompt is the longest common prefix cut back to end right
    /// after its last `"\n\nAssistant:"` (`data.md` §4).
    case hhRLHF = "hh-rlhf"
    /// LLaMA-Factory ShareGPT preference rows (`dpo_en_demo.json`): `conversations` `[{from, value}]`,
    /// `chosen`/`rejected` `{from: "gpt", value}`; `human → user`, `gpt → assistant`, `system → system`.
    case shareGPT = "sharegpt"
}
