import Foundation
import IsaerftTokenizers

/// A tokenised preference pair: the model sees `promptIDs + chosenIDs` and `promptIDs + rejectedIDs`;
/// log-probabilities are summed over the completion tokens (EOS included when appended).
public struct PreferenceExample: Sendable, Equatable {
    public var promptIDs: [Int]
    public var chosenIDs: [Int]
    public var rejectedIDs: [Int]
    /// "file: line N" of the row it came from.
    public var source: String

    public init(promptIDs: [Int], chosenIDs: [Int], rejectedIDs: [Int], source: String = "memory") {
        self.promptIDs = promptIDs; self.chosenIDs = chosenIDs; self.rejectedIDs = rejectedIDs; self.source = source
    }
}

/// A tokenised SFT row: the loss is on `completionIDs` only.
public struct SFTExample: Sendable, Equatable {
    public var promptIDs: [Int]
    public var completionIDs: [Int]
    public var source: String

    public init(promptIDs: [Int], completionIDs: [Int], source: String = "memory") {
        self.promptIDs = promptIDs; self.completionIDs = completionIDs; self.source = source
    }
}

/// Whether the first token is BOS.
public enum BOSPolicy: String, Sendable, Codable, CaseIterable {
    /// BOS first exactly when the tokenizer adds it (`addsBOS`: Gemma, Llama 3, llama2.c; not GPT-2),
    /// also for conversational rows rendered with a template that has no BOS (`plain`, `chatml`) — the
    /// fix for the prototype's missing `<bos>` (`isaerft-method.md` §10.1). Never doubled.
    case tokenizer
    /// BOS first whenever the tokenizer has one (also GPT-2's `<|endoftext|>`). Never doubled.
    case always
    /// Exactly what TRL 1.16 does: string rows get the tokenizer's special tokens, template rows get
    /// whatever the template writes.
    case trl
}

/// How prompt and completion become ids.
public enum TokenizationMode: String, Sendable, Codable, CaseIterable {
    /// TRL 1.16 (`DPOTrainer._prepare_dataset`, `SFTTrainer`): tokenise the prompt and prompt+completion
    /// as whole texts; the completion starts where the two id lists first differ (`common_prefix_length`,
    /// minimum over chosen and rejected), so a token merged across the boundary is not split.
    case joint
    /// TRL ≤ 0.2x `DPOTrainer.tokenize_row` (what the prototype ran, TRL 0.16.1): prompt and each
    /// completion tokenised separately without special tokens, BOS then added to the prompt by
    /// `bos`, the EOS **id** appended to each completion.
    case separate
}

/// Which end of an over-long sequence survives `maxLength`.
public enum TruncationMode: String, Sendable, Codable, CaseIterable {
    /// TRL 1.16 default: keep the start; each completion is cut to `maxLength − prompt`, and a pair whose
    /// prompt alone has `maxLength` tokens or more is dropped (TRL's filter).
    case keepStart = "keep_start"
    /// Keep the end: the prompt loses tokens from its start (BOS kept) until the longer completion fits;
    /// TRL cuts each sequence separately, here both share the prompt, so the cut is the one the longer
    /// completion needs (the shorter sequence may keep fewer prompt tokens than TRL would give it). A
    /// completion longer than `maxLength − 1 − BOS` is cut at its end.
    case keepEnd = "keep_end"
}

/// Settings for turning `PreferencePair`/`SFTPair` into ids (recorded in the adapter's `data` section).
///
/// Truncation order: `maxPromptLength` (keep the prompt's **end**, BOS kept first: TRL ≤ 0.2x
/// `prompt[-max_prompt_length:]`, which dropped BOS), then `maxCompletionLength` (keep each completion's
/// start), then `maxLength` on prompt + completion by `truncation`.
public struct TokenizationSettings: Sendable, Equatable, Codable {
    /// Template for conversational rows (TRL uses the tokenizer's own; base models have none: `plain`).
    public var template: ChatTemplate = .plain
    public var bos: BOSPolicy = .tokenizer
    public var mode: TokenizationMode = .joint
    /// Append EOS to string completions (TRL: `chosen + eos_token` unless it already ends with it;
    /// conversational rows end their turn through the template instead, as in TRL).
    public var appendEOS = true
    public var maxPromptLength: Int?
    public var maxCompletionLength: Int?
    public var maxLength: Int?
    public var truncation: TruncationMode = .keepStart

    public init() {}

    enum CodingKeys: String, CodingKey {
        case template = "chat_template", bos, mode, appendEOS = "append_eos", maxPromptLength = "max_prompt_length"
        case maxCompletionLength = "max_completion_length", maxLength = "max_length", truncation = "truncation_mode"
    }

    func validate() throws {
        for (name, v) in [("max_prompt_length", maxPromptLength), ("max_completion_length", maxCompletionLength), ("max_length", maxLength)] {
            if let v, v < 1 { throw TuningDataError.invalidSetting("\(name) must be at least 1, got \(v)") }
        }
    }
}
