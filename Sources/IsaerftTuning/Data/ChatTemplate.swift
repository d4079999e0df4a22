import Foundation

/// One chat message (`{"role", "content"}`); roles are `system`, `user`, `assistant`.
public struct ChatMessage: Sendable, Equatable, Hashable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// Built-in chat templates, written out in Swift rather than interpreted from Jinja. Each renders what
/// the named Hugging Face template renders (`tokenizers.md` §5); `bos` is the tokenizer's BOS text
/// (templates that emit BOS put it first, so the rendered text is tokenised **without** adding
/// special tokens).
///
/// | template | message | generation prompt | BOS |
/// |---|---|---|---|
/// | `gemma` (Gemma 2/3 `tokenizer_config.json`) | `<start_of_turn>{user\|model}\n{content.trim}<end_of_turn>\n`; a system message is prefixed to the first user turn followed by `\n\n` (Gemma 3) | `<start_of_turn>model\n` | yes |
/// | `llama3` (Llama 3 / 3.0 instruct) | `<\|start_header_id\|>{role}<\|end_header_id\|>\n\n{content.trim}<\|eot_id\|>` | `<\|start_header_id\|>assistant<\|end_header_id\|>\n\n` | yes |
/// | `chatml` (Qwen2 / ChatML) | `<\|im_start\|>{role}\n{content}<\|im_end\|>\n` | `<\|im_start\|>assistant\n` | no |
/// | `plain` (TRL `SIMPLE_CHAT_TEMPLATE`, for base models) | `{Role}: {content}\n\n` (role capitalised) | `Assistant:` | no |
public enum ChatTemplate: String, Sendable, CaseIterable, Codable {
    case gemma, llama3, chatml, plain

    /// Whether the template writes BOS itself.
    public var emitsBOS: Bool { self == .gemma || self == .llama3 }

    /// Renders `messages`; throws for an unknown role (or, for Gemma, a system message that is not first).
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bos: String) throws -> String {
        var out = ""
        switch self {
        case .gemma:
            out = bos
            var list = messages
            var firstUserPrefix = ""
            if let first = list.first, first.role == "system" {
                firstUserPrefix = first.content + "\n\n"
                list.removeFirst()
            }
            for (k, m) in list.enumerated() {
                let role: String
                switch m.role {
                case "user": role = "user"
                case "assistant", "model": role = "model"
                case "system": throw TuningDataError.invalidSetting("chat template gemma: a system message must come first")
                default: throw TuningDataError.invalidSetting("chat template gemma: unknown role \(m.role)")
                }
                out += "<start_of_turn>" + role + "\n" + (k == 0 ? firstUserPrefix : "") + Self.trim(m.content) + "<end_of_turn>\n"
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }
        case .llama3:
            for (k, m) in messages.enumerated() {
                try Self.checkRole(m.role, template: self)
                out += (k == 0 ? bos : "") + "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + Self.trim(m.content) + "<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .chatml:
            for m in messages {
                try Self.checkRole(m.role, template: self)
                out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n"
            }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .plain:
            for m in messages {
                try Self.checkRole(m.role, template: self)
                out += Self.capitalized(m.role) + ": " + m.content + "\n\n"
            }
            if addGenerationPrompt { out += "Assistant:" }
        }
        return out
    }

    static func checkRole(_ role: String, template: ChatTemplate) throws {
        guard ["system", "user", "assistant"].contains(role) else {
            throw TuningDataError.invalidSetting("chat template \(template.rawValue): unknown role \(role) (system, user or assistant)")
        }
    }

    /// Jinja `trim`: Python `str.strip()` (whitespace at both ends).
    static func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Python `str.capitalize()` for ASCII role names: first letter upper-case, the rest lower-case.
    static func capitalized(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst().lowercased() }
}
