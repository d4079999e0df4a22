import Foundation
import IsaerftRuns
import Testing

@Suite("ConfigFile")
struct ConfigFileTests {
    static let yaml = """
    # a training run
    model: gpt2
    hook: "blocks.6.hook_resid_post"   # quoted, with a comment
    d_sae: 24_576
    lr: 3e-4
    resume: true
    prepend_bos: false
    json: no
    text_field: 'it''s'
    sae:
      architecture: topk
      k: 32
      tags: [a, "b, c"]
    datasets:
      - one.txt
      - two.txt
    seed: ~
    """

    static let valid: Set<String> = ["model", "hook", "d-sae", "lr", "resume", "prepend-bos", "no-prepend-bos", "json", "text-field",
                                     "architecture", "k", "tags", "datasets", "seed"]

    @Test("YAML subset: scalars, quotes, comments, one nesting level, lists, booleans, null")
    func parsesYAML() throws {
        let f = try ConfigFile(text: Self.yaml, path: "run.yaml")
        let byKey = Dictionary(uniqueKeysWithValues: f.entries.map { ($0.key, $0.value) })
        #expect(byKey["model"] == .string("gpt2"))
        #expect(byKey["hook"] == .string("blocks.6.hook_resid_post"))
        #expect(byKey["d_sae"] == .number("24576"))
        #expect(byKey["lr"] == .number("3e-4"))
        #expect(byKey["resume"] == .bool(true))
        #expect(byKey["json"] == .bool(false))
        #expect(byKey["text_field"] == .string("it's"))
        #expect(byKey["architecture"] == .string("topk"))
        #expect(byKey["tags"] == .list([.string("a"), .string("b, c")]))
        #expect(byKey["datasets"] == .list([.string("one.txt"), .string("two.txt")]))
        #expect(byKey["seed"] == .null)
    }

    @Test("arguments: dashes, flags, negations, repeated list options; the command line wins")
    func arguments() throws {
        let f = try ConfigFile(text: Self.yaml, path: "run.yaml")
        let args = try f.arguments(validOptions: Self.valid, overriddenBy: ["--lr", "1e-3", "--k=8"])
        #expect(args == ["--model", "gpt2", "--hook", "blocks.6.hook_resid_post", "--d-sae", "24576", "--resume",
                         "--no-prepend-bos", "--text-field", "it's", "--architecture", "topk",
                         "--tags", "a", "--tags", "b, c", "--datasets", "one.txt", "--datasets", "two.txt"])
    }

    @Test("unknown key: one line naming it")
    func unknownKey() throws {
        let f = try ConfigFile(text: "model: gpt2\nlearning_rate: 1\n", path: "run.yaml")
        #expect(throws: RunsError.unknownConfigKey("learning_rate", file: "run.yaml")) {
            try f.arguments(validOptions: ["model", "lr"])
        }
        let message = RunsError.unknownConfigKey("learning_rate", file: "run.yaml").description
        #expect(message.contains("learning_rate") && !message.contains("\n"))
    }

    @Test("JSON config: booleans stay booleans, integers stay integers, one nesting level")
    func parsesJSON() throws {
        let f = try ConfigFile(text: #"{"model": "gpt2", "resume": true, "batch_size": 4096, "lr": 0.0003, "sae": {"k": 1}, "tags": ["x", 2]}"#,
                               path: "run.json")
        let args = try f.arguments(validOptions: ["model", "resume", "batch-size", "lr", "k", "tags"])
        // Top-level keys sorted (JSON objects have no order); a section's keys in place of the section.
        #expect(args == ["--batch-size", "4096", "--lr", "0.0003", "--model", "gpt2", "--resume", "--k", "1", "--tags", "x", "--tags", "2"])
    }

    @Test("malformed files name the line")
    func errors() {
        #expect(throws: RunsError.badConfig("c.yaml", line: 2, "expected 'key: value', found 'oops'")) {
            try ConfigFile(text: "a: 1\noops\n", path: "c.yaml")
        }
        #expect(throws: RunsError.badConfig("c.yaml", line: 3, "key 'a' appears twice (first at line 1)")) {
            try ConfigFile(text: "a: 1\ns:\n  a: 2\n", path: "c.yaml")
        }
        #expect(throws: RunsError.badConfig("c.yaml", line: 3, "nesting deeper than one level (under 'b')")) {
            try ConfigFile(text: "s:\n  b:\n    c: 1\n", path: "c.yaml")
        }
    }
}
