import Foundation
import Testing
@testable import IsaerftCheckpoints
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Downloads from the loopback fake hub into temporary caches. Each test starts its own servers
/// and shuts them down at the end; all traffic stays on 127.0.0.1.
@Suite("Hub downloads (loopback server)")
struct HubDownloadTests {
    static let config = bytes(300, seed: 1)
    static let weights = bytes(70_000, seed: 2)
    static let vocab = bytes(1_000, seed: 3)

    static func tinyRepo(redirect: FakeHub.Redirect = .absolute) -> FakeHub.Config {
        var c = FakeHub.Config()
        c.files = ["config.json": config, "model.safetensors": weights, "sub/vocab.txt": vocab]
        c.lfs = ["model.safetensors"]
        c.redirect = redirect
        return c
    }

    private func downloader(_ root: URL, _ hub: FakeHub, token: String? = nil, offline: Bool = false) -> HubDownloader {
        HubDownloader(settings: HubSettings(cacheRoot: root, endpoint: hub.endpoint, token: token, offline: offline))
    }

    @Test("empty cache: blobs, relative snapshot symlinks, refs/main and .no_exist as huggingface_hub writes them")
    func freshDownload() async throws {
        try await withTemporaryCache { root in
            try await withFakeHub(Self.tinyRepo()) { hub, cdn in
                let progress = ProgressLog()
                let env = ["HOME": "/nonexistent", "HF_HUB_CACHE": root.path, "HF_ENDPOINT": hub.endpoint]
                let folder = try await snapshotFiles(
                    repo: "org/tiny", files: ["config.json", "model.safetensors", "sub/vocab.txt"],
                    optionalFiles: ["tokenizer.json"], environment: env, progress: progress.callback)
                let commit = hub.state.config.commit
                let repo = root.appendingPathComponent("models--org--tiny")
                #expect(folder.path == repo.appendingPathComponent("snapshots/\(commit)").path)
                let e1 = FakeHub.etag(Self.config, lfs: false), e2 = FakeHub.etag(Self.weights, lfs: true)
                let e3 = FakeHub.etag(Self.vocab, lfs: false)
                #expect(listing(repo) == [
                    ".no_exist", ".no_exist/\(commit)", ".no_exist/\(commit)/tokenizer.json",
                    "blobs", "blobs/\(e1)", "blobs/\(e2)", "blobs/\(e3)", "refs", "refs/main",
                    "snapshots", "snapshots/\(commit)", "snapshots/\(commit)/config.json",
                    "snapshots/\(commit)/model.safetensors", "snapshots/\(commit)/sub", "snapshots/\(commit)/sub/vocab.txt",
                ].sorted())
                #expect(try String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8) == commit)
                #expect(listing(root.appendingPathComponent(".locks")) == ["models--org--tiny"]
                    + [e1, e2, e3].map { "models--org--tiny/\($0).lock" }.sorted())
                #expect(try String(contentsOf: root.appendingPathComponent("CACHEDIR.TAG"), encoding: .utf8)
                    .hasPrefix("Signature: 8a477f597d28d172789f06886806bc55\n"))
                #expect(symlinkDestination(folder.appendingPathComponent("config.json")) == "../../blobs/\(e1)")
                #expect(symlinkDestination(folder.appendingPathComponent("model.safetensors")) == "../../blobs/\(e2)")
                #expect(symlinkDestination(folder.appendingPathComponent("sub/vocab.txt")) == "../../../blobs/\(e3)")
                #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == Data(Self.weights))
                #expect(try Data(contentsOf: folder.appendingPathComponent("sub/vocab.txt")) == Data(Self.vocab))
                // The LFS file went through the other-origin CDN, which never saw the hub's token headers.
                #expect(cdn?.requests.map(\.method) == ["GET"])
                #expect(cdn?.requests.first?.path == "/cdn/\(e2)")
                // Progress ends at the full size of each downloaded file.
                let last = Dictionary(progress.events.map { ($0.file, ($0.done, $0.total)) }, uniquingKeysWith: { $1 })
                #expect(last["model.safetensors"]! == (Int64(Self.weights.count), Int64(Self.weights.count)))
                #expect(last["config.json"]! == (300, 300))
                // A second call is served from the cache: no new requests.
                let before = hub.requests.count
                let again = try await snapshotFiles(repo: "org/tiny", files: ["config.json", "model.safetensors"],
                                                    optionalFiles: ["tokenizer.json"], environment: env)
                #expect(again == folder && hub.requests.count == before)
            }
        }
    }

    @Test("resume from a partial blobs/<etag>.incomplete with a Range request")
    func resume() async throws {
        try await withTemporaryCache { root in
            try await withFakeHub(Self.tinyRepo()) { hub, cdn in
                let etag = FakeHub.etag(Self.weights, lfs: true)
                let blobs = root.appendingPathComponent("models--org--tiny/blobs")
                try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
                try Data(Self.weights.prefix(12_345)).write(to: blobs.appendingPathComponent("\(etag).incomplete"))
                let progress = ProgressLog()
                let folder = try await downloader(root, hub).snapshotFiles(
                    repo: "org/tiny", files: ["model.safetensors"], progress: progress.callback)
                #expect(cdn?.requests.map(\.range) == ["bytes=12345-"])
                #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == Data(Self.weights))
                #expect(try Data(contentsOf: blobs.appendingPathComponent(etag)) == Data(Self.weights))
                #expect(!FileManager.default.fileExists(atPath: blobs.appendingPathComponent("\(etag).incomplete").path))
                #expect(progress.events.first.map { $0.done } == 12_345)
            }
        }
    }

    @Test("resume restarts when the server ignores Range (200)")
    func resumeIgnored() async throws {
        var config = Self.tinyRepo(redirect: .none)
        config.ignoreRange = true
        try await withTemporaryCache { root in
            try await withFakeHub(config) { hub, _ in
                let etag = FakeHub.etag(Self.weights, lfs: true)
                let blobs = root.appendingPathComponent("models--org--tiny/blobs")
                try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
                try Data(repeating: 0xEE, count: 5_000).write(to: blobs.appendingPathComponent("\(etag).incomplete"))
                let folder = try await downloader(root, hub).snapshotFiles(repo: "org/tiny", files: ["model.safetensors"])
                #expect(hub.requests.filter { $0.method == "GET" }.map(\.range) == ["bytes=5000-"])
                #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == Data(Self.weights))
            }
        }
    }

    @Test("a blob locked by another process (flock on .locks/…/<etag>.lock) is fetched only after release")
    func waitsForLock() async throws {
        try await withTemporaryCache { root in
            try await withFakeHub(Self.tinyRepo(redirect: .none)) { hub, _ in
                let etag = FakeHub.etag(Self.config, lfs: false)
                let lockFolder = root.appendingPathComponent(".locks/models--org--tiny")
                try FileManager.default.createDirectory(at: lockFolder, withIntermediateDirectories: true)
                let fd = open(lockFolder.appendingPathComponent("\(etag).lock").path, O_RDWR | O_CREAT, 0o664)
                try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
                let d = downloader(root, hub)
                let task = Task { try await d.snapshotFiles(repo: "org/tiny", files: ["config.json"]) }
                try await Task.sleep(for: .milliseconds(400))
                #expect(hub.requests.map(\.method) == ["HEAD"], "no GET while the lock is held")
                _ = flock(fd, LOCK_UN)
                close(fd)
                let folder = try await task.value
                #expect(try Data(contentsOf: folder.appendingPathComponent("config.json")) == Data(Self.config))
                #expect(hub.requests.map(\.method) == ["HEAD", "GET"])
            }
        }
    }

    @Test("relative 302 redirect to /cdn/ on the same host")
    func relativeRedirect() async throws {
        try await withTemporaryCache { root in
            try await withFakeHub(Self.tinyRepo(redirect: .relative)) { hub, _ in
                let folder = try await downloader(root, hub).snapshotFiles(repo: "org/tiny", files: ["model.safetensors"])
                let etag = FakeHub.etag(Self.weights, lfs: true)
                #expect(symlinkDestination(folder.appendingPathComponent("model.safetensors")) == "../../blobs/\(etag)")
                #expect(try Data(contentsOf: folder.appendingPathComponent("model.safetensors")) == Data(Self.weights))
                #expect(hub.requests.map { "\($0.method) \($0.path)" } == [
                    "HEAD /org/tiny/resolve/main/model.safetensors", "HEAD /cdn/\(etag)", "GET /cdn/\(etag)",
                ])
            }
        }
    }

    @Test("404 for a required file; optional 404s are recorded in .no_exist")
    func notFound() async throws {
        try await withTemporaryCache { root in
            try await withFakeHub(Self.tinyRepo()) { hub, _ in
                let error = await expectHubError {
                    _ = try await downloader(root, hub).snapshotFiles(repo: "org/tiny", files: ["config.json", "nope.bin"])
                }
                #expect(error?.description == "file nope.bin not found in repo org/tiny at revision main")
                let commit = hub.state.config.commit
                #expect(HubCache(root: root).isKnownMissing(repo: "org/tiny", commit: commit, file: "nope.bin"))
                let unknownRevision = await expectHubError {
                    _ = try await downloader(root, hub).snapshotFiles(repo: "org/tiny", revision: "v9", files: ["config.json"])
                }
                #expect(unknownRevision?.description == "file config.json not found in repo org/tiny at revision v9")
            }
        }
    }

    @Test("401 without a token, 403 with a wrong one, success with the right one")
    func authentication() async throws {
        var config = Self.tinyRepo()
        config.requiredToken = "hf_secret"
        try await withTemporaryCache { root in
            try await withFakeHub(config) { hub, cdn in
                let missing = await expectHubError {
                    _ = try await downloader(root, hub).snapshotFiles(repo: "org/tiny", files: ["config.json"])
                }
                #expect(missing == .unauthorized(file: "config.json", repo: "org/tiny", status: 401, tokenSent: false))
                #expect(missing?.description.contains("set HF_TOKEN") == true)
                let wrong = await expectHubError {
                    _ = try await downloader(root, hub, token: "hf_wrong").snapshotFiles(repo: "org/tiny", files: ["config.json"])
                }
                #expect(wrong?.description.contains("HTTP 403") == true && wrong?.description.contains("HF_TOKEN") == true)
                let folder = try await downloader(root, hub, token: "hf_secret")
                    .snapshotFiles(repo: "org/tiny", files: ["config.json", "model.safetensors"])
                #expect(try Data(contentsOf: folder.appendingPathComponent("config.json")) == Data(Self.config))
                #expect(hub.requests.last?.authorization == "Bearer hf_secret")
                #expect(cdn?.requests.allSatisfy { $0.authorization == nil } == true, "token never leaves the hub's origin")
                let unknownRepo = await expectHubError {
                    _ = try await downloader(root, hub).snapshotFiles(repo: "org/private", files: ["config.json"])
                }
                #expect(unknownRepo?.description.contains("HTTP 401 for config.json in org/private") == true)
            }
        }
    }

    @Test("a commit-hash revision needs no ref; a moved main gets a new complete snapshot")
    func commitsAndMovedMain() async throws {
        try await withTemporaryCache { root in
            try await withFakeHub(Self.tinyRepo()) { hub, _ in
                let commit = hub.state.config.commit
                let d = downloader(root, hub)
                let repo = root.appendingPathComponent("models--org--tiny")
                // Pinned to the commit: no refs/ folder is written.
                let pinned = try await d.snapshotFiles(repo: "org/tiny", revision: commit, files: ["config.json"])
                #expect(pinned.lastPathComponent == commit)
                #expect(!FileManager.default.fileExists(atPath: repo.appendingPathComponent("refs").path))
                #expect(hub.requests.first?.path == "/org/tiny/resolve/\(commit)/config.json")
                // An older snapshot for main with config.json only; the hub's main is now `commit`.
                let old = String(repeating: "cd", count: 20)
                let oldFolder = repo.appendingPathComponent("snapshots/\(old)")
                try FileManager.default.createDirectory(at: oldFolder, withIntermediateDirectories: true)
                try Data("old".utf8).write(to: oldFolder.appendingPathComponent("config.json"))
                try FileManager.default.createDirectory(at: repo.appendingPathComponent("refs"), withIntermediateDirectories: true)
                try Data(old.utf8).write(to: repo.appendingPathComponent("refs/main"))
                let folder = try await d.snapshotFiles(repo: "org/tiny", files: ["config.json", "sub/vocab.txt"])
                #expect(folder.lastPathComponent == commit)
                #expect(try String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8) == commit)
                #expect(try Data(contentsOf: folder.appendingPathComponent("config.json")) == Data(Self.config))
                #expect(try Data(contentsOf: folder.appendingPathComponent("sub/vocab.txt")) == Data(Self.vocab))
                // config.json's blob was already there: only a HEAD for it, no second GET.
                #expect(hub.requests.filter { $0.method == "GET" && $0.path.hasSuffix("config.json") }.count == 1)
            }
        }
    }
}
