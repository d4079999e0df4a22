import Foundation
import IsaerftCore
import IsaerftTestSupport
import IsaerftTokenizers
@testable import IsaerftTuning
import Testing

/// The GPT-2 tokenizer from ../shared/data (BOS = EOS = 50256, adds no BOS), or nil with a message.
func gpt2Tokenizer() throws -> (any TextTokenizer)? {
    guard let url = SharedData.url("gpt2-tokenizer/tokenizer.json") else {
        print(SharedData.missingMessage("gpt2-tokenizer/tokenizer.json")); return nil
    }
    return try Tokenizers.load(directory: url.deletingLastPathComponent())
}

/// A tokenizer with one id per character (scalar value + 3), BOS 1, EOS 2, adding BOS like Gemma.
struct CharTokenizer: TextTokenizer {
    var vocabularySize: Int { 0x110000 + 3 }
    var bosTokenID: Int? { 1 }
    var eosTokenID: Int? { 2 }
    var addsBOS: Bool { true }
    func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        var ids: [Int] = addSpecialTokens ? [1] : []
        var rest = Substring(text)
        while let c = rest.unicodeScalars.first {
            if parseSpecial && rest.hasPrefix("<bos>") { ids.append(1); rest = rest.dropFirst(5); continue }
            if parseSpecial && rest.hasPrefix("<eos>") { ids.append(2); rest = rest.dropFirst(5); continue }
            ids.append(Int(c.value) + 3)
            rest = Substring(rest.unicodeScalars.dropFirst())
        }
        return ids
    }
    func decode(_ ids: [Int], skipSpecial: Bool) throws -> String { ids.map { $0 == 1 ? "<bos>" : $0 == 2 ? "<eos>" : String(Unicode.Scalar($0 - 3)!) }.joined() }
    func tokenBytes(_ id: Int) throws -> [UInt8] { Array((try decode([id], skipSpecial: false)).utf8) }
}

@Suite("Preference and SFT data")
struct DataTests {
    static let fixture = SharedData.fixturesRoot.appendingPathComponent("tuning/trl_tokenization.json")

    func rows(_ objects: [[String: Any]]) throws -> Data {
        Data(try objects.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.joined(separator: "\n").utf8)
    }

    @Test("TRL 1.16 DPO tokenisation of standard, implicit and conversational rows, GPT-2 tokenizer: identical ids")
    func matchesTRL() throws {
        guard let tok = try gpt2Tokenizer() else { return }
        #expect(tok.eosTokenID == 50256 && !tok.addsBOS)
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as! [String: Any]
        var compared = 0
        for case let c as [String: Any] in fixture["cases"] as! [Any] {
            let name = c["name"] as! String
            let data = try JSONSerialization.data(withJSONObject: c["rows"]!)
            let pairs = try PreferenceDataset(data: data, file: name, format: name == "implicit" ? .implicit : .auto).pairs
            for bos in [BOSPolicy.trl, .tokenizer] {
                var s = TokenizationSettings()
                s.bos = bos
                if let t = c["template"] as? String { s.template = ChatTemplate(rawValue: t)! }
                let (examples, dropped) = try PairTokenizer(tokenizer: tok, settings: s).tokenize(pairs)
                #expect(dropped.isEmpty)
                for (k, item) in (c["expected"] as! [Any]).enumerated() {
                    let want = item as! [String: [Int]]
                    let e = examples[k]
                    #expect(e.promptIDs == want["prompt_ids"]!, "\(name) row \(k) prompt (\(bos))")
                    #expect(e.chosenIDs == want["chosen_ids"]!, "\(name) row \(k) chosen (\(bos))")
                    #expect(e.rejectedIDs == want["rejected_ids"]!, "\(name) row \(k) rejected (\(bos))")
                    compared += 1
                }
            }
        }
        #expect(compared == 2 * 16)
    }

    @Test("extract_prompt: TRL's cut (space kept on the completion, prefix quirk) on strings and messages")
    func extractPrompt() throws {
        let a = Preferences.extractPrompt(chosen: "Q: sky? A: blue", rejected: "Q: sky? A: green")!
        #expect(a.prompt == "Q: sky? A:" && a.chosen == " blue" && a.rejected == " green")
        let b = Preferences.extractPrompt(chosen: "abc", rejected: "abcd")!
        #expect(b.prompt == "ab" && b.chosen == "c" && b.rejected == "cd")
        let u = ChatMessage(role: "user", content: "hi")
        let m = Preferences.extractPrompt(chosen: [u, ChatMessage(role: "assistant", content: "hello")],
                                          rejected: [u, ChatMessage(role: "assistant", content: "no")], space: nil)!
        #expect(m.prompt == [u] && m.chosen.count == 1 && m.rejected.count == 1)
        #expect(Preferences.extractPrompt(chosen: "", rejected: "x") == nil)
    }

    @Test("hh-rlhf split: common prefix cut after its last \\n\\nAssistant:, even when a completion contains the marker")
    func hhSplit() throws {
        let p = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help me\n\nAssistant:"
        let s = Preferences.splitHHRLHF(chosen: p + " Sure.\n\nAssistant: more", rejected: p + " No.")!
        #expect(s.prompt == p && s.chosen == " Sure.\n\nAssistant: more" && s.rejected == " No.")
        // Both completions start alike: the prompt still ends at the marker.
        let t = Preferences.splitHHRLHF(chosen: p + " I can", rejected: p + " I cannot")!
        #expect(t.prompt == p && t.chosen == " I can")
        #expect(Preferences.splitHHRLHF(chosen: "\n\nHuman: a", rejected: "\n\nHuman: b") == nil)
    }

    @Test("hh-rlhf harmless-base test file: 2,312 rows, every prompt ends with \\n\\nAssistant:, 4 chosen completions are a single space")
    func hhFile() throws {
        guard let url = SharedData.url("preferences/hh-rlhf-harmless-base-test.jsonl.gz") else {
            print(SharedData.missingMessage("preferences/hh-rlhf-harmless-base-test.jsonl.gz")); return
        }
        let d = try PreferenceDataset(url: url)
        #expect(d.pairs.count == 2312)
        var spaceOnly: [Int] = [], badPrompt = 0
        for (i, p) in d.pairs.enumerated() {
            guard case .text(let prompt) = p.prompt, case .text(let c) = p.chosen, case .text(let r) = p.rejected else { badPrompt += 1; continue }
            if !prompt.hasSuffix("\n\nAssistant:") || !c.hasPrefix(" ") || !r.hasPrefix(" ") { badPrompt += 1 }
            if c == " " { spaceOnly.append(i) }
        }
        #expect(badPrompt == 0)
        #expect(spaceOnly == [86, 516, 925, 1103])   // data.md §4
    }

    @Test("dpo_en_demo.json: 300 ShareGPT rows become conversations ending with a user turn")
    func shareGPT() throws {
        guard let url = SharedData.url("preferences/dpo_en_demo.json") else {
            print(SharedData.missingMessage("preferences/dpo_en_demo.json")); return
        }
        let d = try PreferenceDataset(url: url)
        #expect(d.pairs.count == 300)
        var systems = 0
        for p in d.pairs {
            guard case .messages(let m) = p.prompt, case .messages(let c) = p.chosen else { Issue.record("not conversational"); continue }
            #expect(m.last?.role == "user" && c.count == 1 && c[0].role == "assistant")
            if m.first?.role == "system" { systems += 1 }
        }
        #expect(systems == 80)   // data.md §5: 80 system messages
        // Gemma template on a character tokenizer: BOS once, prompt ends with the generation prompt.
        var s = TokenizationSettings()
        s.template = .gemma
        let (ex, _) = try PairTokenizer(tokenizer: CharTokenizer(), settings: s).tokenize(Array(d.pairs.prefix(20)))
        for e in ex {
            #expect(e.promptIDs.first == 1 && !e.promptIDs.dropFirst().contains(1))
            #expect(try CharTokenizer().decode(e.promptIDs, skipSpecial: false).hasSuffix("<start_of_turn>model\n"))
        }
    }

    @Test("malformed rows name the file and line: missing field, wrong type, empty text, bad JSON, mixed kinds")
    func malformed() throws {
        func error(_ text: String) -> String {
            do { _ = try PreferenceDataset(data: Data(text.utf8), file: "f.jsonl"); return "no error" } catch { return "\(error)" }
        }
        #expect(error("{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}\n{\"prompt\":\"a\",\"chosen\":\"b\"}") == "f.jsonl: line 2: missing field \"rejected\"")
        #expect(error("{\"prompt\":\"a\",\"chosen\":3,\"rejected\":\"c\"}") == "f.jsonl: line 1: field \"chosen\" is neither a string nor a list of messages")
        #expect(error("\n{\"prompt\":\"\",\"chosen\":\"b\",\"rejected\":\"c\"}") == "f.jsonl: line 2: field \"prompt\" is empty")
        #expect(error("{\"prompt\":\"a\",") == "f.jsonl: line 1: not valid JSON")
        #expect(error("[{\"prompt\":\"a\",\"chosen\":\"b\",\"rejected\":\"c\"}, 4]") == "f.jsonl: row 2: not a JSON object")
        #expect(error("{\"prompt\":[{\"role\":\"user\",\"content\":\"a\"}],\"chosen\":\"b\",\"rejected\":\"c\"}")
                == "f.jsonl: line 1: prompt, chosen and rejected must all be strings or all be message lists")
        #expect(error("{\"chosen\":[{\"role\":\"user\"}],\"rejected\":\"c\"}") == "f.jsonl: line 1: chosen[0] has no string \"content\"")
        #expect(error("") == "f.jsonl: no rows")
    }

    @Test("BOS: added once for a BOS tokenizer with the plain template (the prototype's defect), never doubled; EOS appended once")
    func bosAndEOS() throws {
        let pair = PreferencePair(prompt: .messages([ChatMessage(role: "user", content: "hi")]),
                                  chosen: .messages([ChatMessage(role: "assistant", content: "yo")]),
                                  rejected: .messages([ChatMessage(role: "assistant", content: "no")]))
        var s = TokenizationSettings()
        let withFix = try PairTokenizer(tokenizer: CharTokenizer(), settings: s).tokenize(pair)!
        #expect(withFix.promptIDs.first == 1 && withFix.promptIDs.filter { $0 == 1 }.count == 1)
        s.bos = .trl
        #expect(try PairTokenizer(tokenizer: CharTokenizer(), settings: s).tokenize(pair)!.promptIDs.first != 1)
        s.bos = .tokenizer
        let text = try PairTokenizer(tokenizer: CharTokenizer(), settings: s).tokenize(PreferencePair(prompt: "P", chosen: " a<eos>", rejected: " b"))!
        #expect(text.promptIDs == [1, 80 + 3] && text.chosenIDs == [32 + 3, 97 + 3, 2] && text.rejectedIDs == [35, 98 + 3, 2])
        s.mode = .separate
        let sep = try PairTokenizer(tokenizer: CharTokenizer(), settings: s).tokenize(PreferencePair(prompt: "P", chosen: " a", rejected: " b"))!
        #expect(sep.promptIDs == [1, 83] && sep.chosenIDs == [35, 100, 2])
    }

    @Test("truncation: max_prompt_length keeps BOS + the prompt's end; keep_start drops full prompts; keep_end cuts the prompt start")
    func truncation() throws {
        let tok = CharTokenizer()
        let pair = PreferencePair(prompt: "abcdefgh", chosen: "12345", rejected: "xy")
        func run(_ edit: (inout TokenizationSettings) -> Void) throws -> PreferenceExample? {
            var s = TokenizationSettings(); s.appendEOS = false; edit(&s)
            return try PairTokenizer(tokenizer: tok, settings: s).tokenize(pair)
        }
        let ids = { (t: String) in t.unicodeScalars.map { Int($0.value) + 3 } }
        #expect(try run { $0.maxPromptLength = 4 }!.promptIDs == [1] + ids("fgh"))
        #expect(try run { $0.maxCompletionLength = 3 }!.chosenIDs == ids("123"))
        let ks = try run { $0.maxLength = 12 }!
        #expect(ks.promptIDs.count == 9 && ks.chosenIDs == ids("123") && ks.rejectedIDs == ids("xy"))
        #expect(try run { $0.maxLength = 9 } == nil)   // prompt (9 tokens with BOS) fills max_length: dropped as TRL does
        let ke = try run { $0.maxLength = 10; $0.truncation = .keepEnd }!
        #expect(ke.promptIDs == [1] + ids("efgh") && ke.chosenIDs == ids("12345") && ke.rejectedIDs == ids("xy"))
        let tight = try run { $0.maxLength = 4; $0.truncation = .keepEnd }!
        #expect(tight.promptIDs == [1, ids("h")[0]] && tight.chosenIDs == ids("12"))
        #expect(throws: TuningDataError.self) { try run { $0.maxLength = 0 } }
    }

    @Test("SFT rows: text (whole text is the completion), prompt/completion, messages")
    func sft() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-sft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent("sft.jsonl")
        try rows([["text": "hello"], ["prompt": "Q", "completion": " A"],
                  ["messages": [["role": "user", "content": "u"], ["role": "assistant", "content": "a"]]]]).write(to: url)
        let d = try SFTDataset(url: url)
        let (ex, _) = try PairTokenizer(tokenizer: CharTokenizer()).tokenize(d.pairs)
        #expect(ex[0].promptIDs == [1] && ex[0].completionIDs == "hello".unicodeScalars.map { Int($0.value) + 3 } + [2])
        #expect(ex[1].promptIDs == [1, 84] && ex[1].completionIDs == [35, 68, 2])
        #expect(try CharTokenizer().decode(ex[2].promptIDs, skipSpecial: false) == "<bos>User: u\n\nAssistant:")
        #expect(try CharTokenizer().decode(ex[2].completionIDs, skipSpecial: false) == " a\n\n")
    }

    @Test("seeded split: deterministic, disjoint, complete, sized round(f·n)")
    func split() {
        let items = Array(0..<101)
        let (a, b) = seededSplit(items, evalFraction: 0.1, seed: 7)
        let (c, d) = seededSplit(items, evalFraction: 0.1, seed: 7)
        #expect(a == c && b == d && b.count == 10 && Set(a).union(b) == Set(items) && Set(a).isDisjoint(with: b))
        #expect(seededSplit(items, evalFraction: 0.1, seed: 8).eval != b)
    }

    @Test("the project's dataset: 432 + 48 standard pairs, short texts, User:/Assistant: prompts")
    func projectDataset() throws {
        let root = SharedData.repositoryRoot.appendingPathComponent("data/preferences")
        let train = try PreferenceDataset(url: root.appendingPathComponent("train.jsonl"))
        let eval = try PreferenceDataset(url: root.appendingPathComponent("eval.jsonl"))
        #expect(train.pairs.count == 432 && eval.pairs.count == 48)
        for p in train.pairs + eval.pairs {
            guard case .text(let prompt) = p.prompt, case .text(let c) = p.chosen, case .text(let r) = p.rejected else { Issue.record("not text"); continue }
            #expect(prompt.hasPrefix("User: ") && prompt.hasSuffix("\nAssistant:"))
            #expect(prompt.split(separator: " ").count <= 32 && c.split(separator: " ").count <= 40 && r.split(separator: " ").count <= 40)
            #expect(c != r)
        }
    }
}
