import Foundation
import Testing
@testable import IsaerftCheckpoints

/// Finding files in a cache laid out as huggingface_hub lays it out (built here by hand).
@Suite("Hub cache look-up")
struct HubCacheTests {
    static let commit = "0123456789abcdef0123456789abcdef01234567"

    /// models--org--tiny with refs/main → commit, snapshots/commit/{config.json, sub/vocab.txt}
    /// symlinked into blobs/, and .no_exist/commit/tokenizer.json.
    static func makeCache(_ root: URL) throws {
        let repo = root.appendingPathComponent("models--org--tiny")
        let fm = FileManager.default
        for d in ["blobs", "refs", "snapshots/\(commit)/sub", ".no_exist/\(commit)"] {
            try fm.createDirectory(at: repo.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        try Data("{\"n\": 1}".utf8).write(to: repo.appendingPathComponent("blobs/e1"))
        try Data("a\nb\n".utf8).write(to: repo.appendingPathComponent("blobs/e2"))
        try Data(commit.utf8).write(to: repo.appendingPathComponent("refs/main"))
        try fm.createSymbolicLink(atPath: repo.appendingPathComponent("snapshots/\(commit)/config.json").path,
                                  withDestinationPath: "../../blobs/e1")
        try fm.createSymbolicLink(atPath: repo.appendingPathComponent("snapshots/\(commit)/sub/vocab.txt").path,
                                  withDestinationPath: "../../../blobs/e2")
        try fm.createSymbolicLink(atPath: repo.appendingPathComponent("snapshots/\(commit)/dangling.bin").path,
                                  withDestinationPath: "../../blobs/missing")
        try Data().write(to: repo.appendingPathComponent(".no_exist/\(commit)/tokenizer.json"))
    }

    @Test("refs/main → snapshots/<commit>; files read through the blob symlinks")
    func lookUp() async throws {
        try await withTemporaryCache { root in
            try Self.makeCache(root)
            let cache = HubCache(root: root)
            #expect(cache.commit(repo: "org/tiny", revision: "main") == Self.commit)
            #expect(cache.commit(repo: "org/tiny", revision: Self.commit) == Self.commit, "a commit maps to itself")
            #expect(cache.commit(repo: "org/tiny", revision: "dev") == nil)
            #expect(cache.commit(repo: "org/other", revision: "main") == nil)
            let config = try #require(cache.cachedFile(repo: "org/tiny", revision: "main", file: "config.json"))
            #expect(try String(contentsOf: config, encoding: .utf8) == "{\"n\": 1}")
            #expect(cache.cachedFile(repo: "org/tiny", revision: Self.commit, file: "sub/vocab.txt") != nil)
            #expect(cache.cachedFile(repo: "org/tiny", revision: "main", file: "dangling.bin") == nil, "broken link")
            #expect(cache.isKnownMissing(repo: "org/tiny", commit: Self.commit, file: "tokenizer.json"))
            let snapshot = cache.snapshot(repo: "org/tiny", revision: "main", files: ["config.json", "sub/vocab.txt"],
                                          optionalFiles: ["tokenizer.json"])
            #expect(snapshot?.path == root.appendingPathComponent("models--org--tiny/snapshots/\(Self.commit)").path)
            #expect(cache.snapshot(repo: "org/tiny", revision: "main", files: ["model.safetensors"]) == nil)
            #expect(cache.snapshot(repo: "org/tiny", revision: "main", files: [], optionalFiles: ["merges.txt"]) == nil)
        }
    }

    @Test("snapshotFiles serves a complete cache without any network request")
    func noNetworkWhenCached() async throws {
        try await withTemporaryCache { root in
            try Self.makeCache(root)
            // Port 9 (discard) on loopback: any request would fail, so success proves none was made.
            let env = ["HOME": "/nonexistent", "HF_HUB_CACHE": root.path, "HF_ENDPOINT": "http://127.0.0.1:9"]
            let folder = try await snapshotFiles(repo: "org/tiny", files: ["config.json"],
                                                 optionalFiles: ["tokenizer.json", "sub/vocab.txt"], environment: env)
            #expect(folder.lastPathComponent == Self.commit)
            let viaCommit = try await snapshotFiles(repo: "org/tiny", revision: Self.commit, files: ["config.json"],
                                                    allowDownload: false, environment: env)
            #expect(viaCommit == folder)
        }
    }

    @Test("offline mode and disabled downloads name the missing files")
    func offlineErrors() async throws {
        try await withTemporaryCache { root in
            try Self.makeCache(root)
            let env = ["HOME": "/nonexistent", "HF_HUB_CACHE": root.path, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"]
            let offline = await expectHubError {
                _ = try await snapshotFiles(repo: "org/tiny", files: ["config.json", "model.safetensors"], environment: env)
            }
            #expect(offline == .offline(repo: "org/tiny", revision: "main", missing: ["model.safetensors"], cache: root.path))
            #expect(offline?.description.contains("file model.safetensors of org/tiny at revision main is not in the cache") == true)
            #expect(offline?.description.contains("HF_HUB_OFFLINE=1") == true)
            let empty = await expectHubError {
                _ = try await snapshotFiles(repo: "org/none", files: ["config.json"], environment: env)
            }
            #expect(empty?.description.contains("file config.json of org/none") == true)
            var online = env
            online["HF_HUB_OFFLINE"] = "0"
            let disabled = await expectHubError {
                _ = try await snapshotFiles(repo: "org/tiny", files: ["weights.bin"], allowDownload: false, environment: online)
            }
            #expect(disabled?.description.contains("downloads are disabled") == true)
        }
    }
}
