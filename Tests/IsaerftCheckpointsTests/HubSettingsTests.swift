import Foundation
import Testing
@testable import IsaerftCheckpoints

/// Environment → settings, as huggingface_hub/constants.py resolves them. Environments are passed
/// as dictionaries, so these tests never touch the process environment.
@Suite("Hub settings from the environment")
struct HubSettingsTests {
    private func root(_ env: [String: String]) -> String { HubSettings(environment: env).cacheRoot.path }

    @Test("cache root precedence: HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub")
    func cacheRoot() {
        let all = ["HOME": "/home/u", "XDG_CACHE_HOME": "/xdg", "HF_HOME": "/hfhome", "HF_HUB_CACHE": "/hubcache"]
        #expect(root(all) == "/hubcache")
        #expect(root(all.filter { $0.key != "HF_HUB_CACHE" }) == "/hfhome/hub")
        #expect(root(["HOME": "/home/u", "XDG_CACHE_HOME": "/xdg"]) == "/xdg/huggingface/hub")
        #expect(root(["HOME": "/home/u"]) == "/home/u/.cache/huggingface/hub")
        #expect(root(["HOME": "/home/u", "HUGGINGFACE_HUB_CACHE": "/legacy"]) == "/legacy")
        #expect(root(["HOME": "/home/u", "HF_HUB_CACHE": "", "HF_HOME": "/h"]) == "/h/hub", "empty counts as unset")
    }

    @Test("~ and $VAR expansion")
    func expansion() {
        #expect(root(["HOME": "/home/u", "HF_HUB_CACHE": "~/models"]) == "/home/u/models")
        #expect(root(["HOME": "/home/u", "HF_HOME": "~"]) == "/home/u/hub")
        #expect(root(["HOME": "/home/u", "SCRATCH": "/scratch", "HF_HOME": "$SCRATCH/hf"]) == "/scratch/hf/hub")
        #expect(root(["HOME": "/home/u", "SCRATCH": "/scratch", "HF_HUB_CACHE": "${SCRATCH}/c"]) == "/scratch/c")
        #expect(root(["HOME": "/home/u", "HF_HUB_CACHE": "/a/$UNSET/b"]) == "/a/$UNSET/b")
        #expect(HubSettings.expandVariables("$", [:]) == "$")
        #expect(HubSettings.expandVariables("a$", [:]) == "a$")
    }

    @Test("endpoint, offline flag and token")
    func endpointOfflineToken() throws {
        let s = HubSettings(environment: ["HOME": "/nonexistent", "HF_ENDPOINT": "http://127.0.0.1:9/"])
        #expect(s.endpoint == "http://127.0.0.1:9")
        #expect(HubSettings(environment: ["HOME": "/nonexistent"]).endpoint == "https://huggingface.co")
        for (value, want) in [("1", true), ("true", true), ("YES", true), ("On", true), ("0", false), ("no", false), ("", false)] {
            #expect(HubSettings(environment: ["HOME": "/nonexistent", "HF_HUB_OFFLINE": value]).offline == want, "\(value)")
        }
        #expect(HubSettings(environment: ["HOME": "/nonexistent", "TRANSFORMERS_OFFLINE": "1"]).offline)
        #expect(HubSettings(environment: ["HOME": "/nonexistent", "HF_TOKEN": " hf_abc\n"]).token == "hf_abc")
        #expect(HubSettings(environment: ["HOME": "/nonexistent", "HUGGING_FACE_HUB_TOKEN": "old"]).token == "old")
        #expect(HubSettings(environment: ["HOME": "/nonexistent"]).token == nil)
        // Token file at $HF_HOME/token, and HF_TOKEN_PATH.
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-hfhome-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        try "hf_fromfile\n".write(to: home.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try "hf_other".write(to: home.appendingPathComponent("other"), atomically: true, encoding: .utf8)
        #expect(HubSettings(environment: ["HOME": "/nonexistent", "HF_HOME": home.path]).token == "hf_fromfile")
        #expect(HubSettings(environment: ["HOME": "/nonexistent", "HF_HOME": home.path, "HF_TOKEN": "env"]).token == "env")
        #expect(HubSettings(environment: ["HOME": "/nonexistent", "HF_TOKEN_PATH": home.appendingPathComponent("other").path]).token == "hf_other")
    }

    @Test("repo folder names and resolve URLs")
    func namesAndURLs() throws {
        let cache = HubCache(root: URL(fileURLWithPath: "/c"))
        #expect(cache.repoFolder("gpt2").path == "/c/models--gpt2")
        #expect(cache.repoFolder("openai-community/gpt2").path == "/c/models--openai-community--gpt2")
        #expect(cache.repoFolder("org/data", kind: .dataset).path == "/c/datasets--org--data")
        let d = HubDownloader(settings: HubSettings(cacheRoot: URL(fileURLWithPath: "/c"), endpoint: "https://hub.example/"))
        #expect(d.resolveURL(repo: "org/m", kind: .model, revision: "refs/pr/1", file: "sub dir/a+b.json").absoluteString
            == "https://hub.example/org/m/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.json")
        #expect(d.resolveURL(repo: "gpt2", kind: .dataset, revision: "main", file: "x").absoluteString
            == "https://hub.example/datasets/gpt2/resolve/main/x")
        #expect(Names.normaliseETag("W/\"abc\"") == "abc" && Names.normaliseETag("\"sha\"") == "sha")
        for bad in ["", "a/b/c", "../x", "a--b", "a/..", "a b"] {
            #expect(throws: HubError.self, "\(bad)") { try Names.check(repo: bad, revision: "main", files: []) }
        }
        #expect(throws: HubError.self) { try Names.check(repo: "a/b", revision: "../../etc", files: []) }
        #expect(throws: HubError.self) { try Names.check(repo: "a/b", revision: "main", files: ["/etc/passwd"]) }
        #expect(throws: HubError.self) { try Names.check(repo: "a/b", revision: "main", files: ["a/../../x"]) }
        try Names.check(repo: "org/m.v-2_x", revision: "refs/pr/1", files: ["config.json", "sub/model.safetensors"])
    }
}
