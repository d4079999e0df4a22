import Foundation
import IsaerftFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hub settings read from the environment exactly as `huggingface_hub/constants.py` (2.4.0) does.
///
/// - cache root: `HF_HUB_CACHE`, else the legacy `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`;
///   `HF_HOME` defaults to `$XDG_CACHE_HOME/huggingface`, and that to `~/.cache/huggingface`;
///   `~` and `$VAR` / `${VAR}` are expanded (`os.path.expanduser`, `os.path.expandvars`).
/// - endpoint: `HF_ENDPOINT` (default `https://huggingface.co`), trailing `/` removed.
/// - token: `HF_TOKEN`, else the legacy `HUGGING_FACE_HUB_TOKEN`, else the file `HF_TOKEN_PATH`
///   (default `$HF_HOME/token`); newlines removed, surrounding spaces trimmed, empty = none.
/// - offline: `HF_HUB_OFFLINE`, else `TRANSFORMERS_OFFLINE`, true when `1`, `ON`, `YES` or `TRUE`
///   (any case).
/// One deliberate difference: a variable set to the empty string counts as unset.
public struct HubSettings: Sendable, Equatable {
    public var cacheRoot: URL
    public var endpoint: String
    public var token: String?
    public var offline: Bool

    public init(cacheRoot: URL, endpoint: String = "https://huggingface.co", token: String? = nil,
                offline: Bool = false) {
        self.cacheRoot = cacheRoot
        self.endpoint = Self.trimmingSlashes(endpoint)
        self.token = token
        self.offline = offline
    }

    /// Settings from `environment` (pass a dictionary in tests; the process environment by default).
    /// `HOME` in `environment` (else the user's home folder) expands `~`.
    public init(environment env: [String: String] = ProcessInfo.processInfo.environment) {
        func value(_ key: String) -> String? { env[key].flatMap { $0.isEmpty ? nil : $0 } }
        let home = value("HOME") ?? NSHomeDirectory()
        func expand(_ path: String) -> String { Self.expandVariables(Self.expandUser(path, home: home), env) }
        let hfHome = expand(value("HF_HOME")
            ?? ((value("XDG_CACHE_HOME") ?? home + "/.cache") as NSString).appendingPathComponent("huggingface"))
        let cache = expand(value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE")
            ?? (hfHome as NSString).appendingPathComponent("hub"))
        let tokenPath = expand(value("HF_TOKEN_PATH") ?? (hfHome as NSString).appendingPathComponent("token"))
        let token = Self.cleanToken(value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN"))
            ?? Self.cleanToken(try? String(contentsOfFile: tokenPath, encoding: .utf8))
        let offlineFlag = (value("HF_HUB_OFFLINE") ?? value("TRANSFORMERS_OFFLINE"))?.uppercased()
        self.init(cacheRoot: URL(fileURLWithPath: cache, isDirectory: true),
                  endpoint: value("HF_ENDPOINT") ?? "https://huggingface.co", token: token,
                  offline: ["1", "ON", "YES", "TRUE"].contains(offlineFlag ?? ""))
    }

    static func expandUser(_ path: String, home: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return home + path.dropFirst() }
        return path
    }

    /// `$NAME` and `${NAME}` replaced when NAME is set; anything else left as written.
    static func expandVariables(_ path: String, _ env: [String: String]) -> String {
        guard path.contains("$") else { return path }
        var out = "", i = path.startIndex
        let nameChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
        while i < path.endIndex {
            guard path[i] == "$" else { out.append(path[i]); i = path.index(after: i); continue }
            let start = path.index(after: i)
            var nameStart = start, nameEnd = start, after = start
            if start < path.endIndex, path[start] == "{", let close = path[start...].firstIndex(of: "}") {
                nameStart = path.index(after: start); nameEnd = close; after = path.index(after: close)
            } else {
                while nameEnd < path.endIndex, nameChars.contains(path[nameEnd]) { nameEnd = path.index(after: nameEnd) }
                after = nameEnd
            }
            if nameStart < nameEnd, let v = env[String(path[nameStart..<nameEnd])] {
                out += v
            } else {
                out += path[i..<after]
                if after == i { out.append("$") }
            }
            i = after == i ? path.index(after: i) : after
        }
        return out
    }

    static func cleanToken(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let t = raw.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
            .trimmingCharacters(in: .whitespaces)
        return t.isEmpty ? nil : t
    }

    static func trimmingSlashes(_ s: String) -> String {
        var s = s
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }
}

/// The kind of hub repository: decides the cache folder prefix and the URL prefix.
public enum HubRepoKind: String, Sendable {
    case model, dataset, space
    /// `models`, `datasets`, `spaces` (cache folder `{prefix}--{org}--{name}`).
    var folderPrefix: String { rawValue + "s" }
    /// URL path prefix before the repo id (`""` for models, `datasets/`, `spaces/`).
    var urlPrefix: String { self == .model ? "" : folderPrefix + "/" }
}

/// The `huggingface_hub` cache layout under a root folder (read side; `HubDownloader` writes it):
///
/// ```
/// {root}/models--{org}--{name}/refs/{revision}        text file: the 40-hex commit
///                              snapshots/{commit}/{path}   symlinks to ../../blobs/{etag}
///                              blobs/{etag}                file contents
///                              .no_exist/{commit}/{path}   empty: file known to be absent
/// ```
/// Look-up follows `try_to_load_from_cache` (`file_download.py`): a revision is first read
/// through `refs/{revision}`; if there is no such ref it is used as the snapshot name directly,
/// which is how a commit hash resolves.
public struct HubCache: Sendable, Equatable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// `{root}/models--{org}--{name}` (`repo_folder_name`: "/" becomes "--").
    public func repoFolder(_ repo: String, kind: HubRepoKind = .model) -> URL {
        root.appendingPathComponent(([kind.folderPrefix] + repo.split(separator: "/").map(String.init))
            .joined(separator: "--"), isDirectory: true)
    }

    /// The commit `revision` names in the cache: the contents of `refs/{revision}` when that file
    /// exists, else `revision` itself when `snapshots/{revision}` exists, else nil.
    public func commit(repo: String, kind: HubRepoKind = .model, revision: String) -> String? {
        let folder = repoFolder(repo, kind: kind)
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        if let text = try? String(contentsOf: ref, encoding: .utf8) {
            let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !commit.isEmpty { return commit }
        }
        return isDirectory(folder.appendingPathComponent("snapshots").appendingPathComponent(revision))
            ? revision : nil
    }

    /// `snapshots/{commit}` of a commit hash (whether or not it exists).
    public func snapshotFolder(repo: String, kind: HubRepoKind = .model, commit: String) -> URL {
        repoFolder(repo, kind: kind).appendingPathComponent("snapshots").appendingPathComponent(commit, isDirectory: true)
    }

    /// The cached `file` at `revision`, or nil. Symlinks into `blobs/` must resolve to a file.
    public func cachedFile(repo: String, kind: HubRepoKind = .model, revision: String, file: String) -> URL? {
        guard let commit = commit(repo: repo, kind: kind, revision: revision) else { return nil }
        let url = snapshotFolder(repo: repo, kind: kind, commit: commit).appendingPathComponent(file)
        return isFile(url) ? url : nil
    }

    /// Whether `.no_exist/{commit}/{file}` records that `file` is absent at `commit`.
    public func isKnownMissing(repo: String, kind: HubRepoKind = .model, commit: String, file: String) -> Bool {
        isFile(repoFolder(repo, kind: kind).appendingPathComponent(".no_exist")
            .appendingPathComponent(commit).appendingPathComponent(file))
    }

    /// The snapshot folder at `revision` when it holds every file in `files` and each of
    /// `optionalFiles` is either present or recorded in `.no_exist`; nil otherwise.
    public func snapshot(repo: String, kind: HubRepoKind = .model, revision: String, files: [String],
                         optionalFiles: [String] = []) -> URL? {
        guard let commit = commit(repo: repo, kind: kind, revision: revision) else { return nil }
        return missingFiles(repo: repo, kind: kind, commit: commit, files: files, optionalFiles: optionalFiles).isEmpty
            ? snapshotFolder(repo: repo, kind: kind, commit: commit) : nil
    }

    /// The files of `files` + `optionalFiles` that `snapshot` would miss at `commit`.
    func missingFiles(repo: String, kind: HubRepoKind, commit: String?, files: [String],
                      optionalFiles: [String]) -> [String] {
        guard let commit else { return files + optionalFiles }
        let folder = snapshotFolder(repo: repo, kind: kind, commit: commit)
        return files.filter { !isFile(folder.appendingPathComponent($0)) }
            + optionalFiles.filter {
                !isFile(folder.appendingPathComponent($0))
                    && !isKnownMissing(repo: repo, kind: kind, commit: commit, file: $0)
            }
    }

    func isFile(_ url: URL) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &dir) && !dir.boolValue
    }

    func isDirectory(_ url: URL) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &dir) && dir.boolValue
    }
}

// MARK: - Names that become paths, and the URLs they come from

/// Checks on everything that becomes a path in the cache, so that no repo id, revision, file name
/// or server-supplied commit/etag can point outside the repository folder.
enum Names {
    /// `REGEX_COMMIT_HASH` of `huggingface_hub/constants.py`: 40 lowercase hex digits.
    static func isCommitHash(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Repo ids as `validate_repo_id` accepts them: `name` or `org/name` of `[A-Za-z0-9_.-]`,
    /// no `--` or `..`, at most 96 characters. Revisions and file names: relative paths without
    /// empty, `.` or `..` components.
    static func check(repo: String, revision: String, files: [String]) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), repo.count <= 96, !repo.contains("--"), !repo.contains(".."),
              parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(allowed.contains) })
        else { throw HubError.invalidName(kind: "repo id", value: repo) }
        guard isRelativePath(revision) else { throw HubError.invalidName(kind: "revision", value: revision) }
        for file in files where !isRelativePath(file) {
            throw HubError.invalidName(kind: "file name", value: file)
        }
    }

    static func isRelativePath(_ s: String) -> Bool {
        !s.isEmpty && !s.contains("\0") && !s.contains("\\")
            && s.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != "" && $0 != "." && $0 != ".." }
    }

    /// A single path component (server-supplied commit or etag).
    static func checkComponent(_ s: String, kind: String) throws {
        guard isRelativePath(s), !s.contains("/") else { throw HubError.invalidName(kind: kind, value: s) }
    }

    /// `_normalize_etag`: drop a weak `W/` prefix and the quotes.
    static func normaliseETag(_ etag: String?) -> String? {
        guard var e = etag?.trimmingCharacters(in: .whitespaces) else { return nil }
        if e.hasPrefix("W/") { e.removeFirst(2) }
        return e.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }

    /// Same scheme, host and port (default ports filled in).
    static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func port(_ u: URL) -> Int? { u.port ?? (u.scheme?.lowercased() == "https" ? 443 : u.scheme?.lowercased() == "http" ? 80 : nil) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
            && port(a) == port(b)
    }
}

/// File-system steps of the cache writer; failures become `HubError.io` naming the path.
enum Disk {
    static func makeFolder(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw HubError.io(path: url.path, reason: "cannot create folder: \((error as NSError).localizedDescription)")
        }
    }

    /// Creates an empty file (and its folders) unless it exists.
    static func touch(_ url: URL) throws {
        try makeFolder(url.deletingLastPathComponent())
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: Data()) else {
                throw HubError.io(path: url.path, reason: "cannot create file")
            }
        }
    }

    /// Atomic small write (`<name>.partial` + rename(2)).
    static func write(_ data: Data, to url: URL) throws {
        do { try AtomicFile.write(data, to: url) } catch { throw HubError.io(path: url.path, reason: "\(error)") }
    }

    static func size(_ url: URL) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value
    }

    /// A handle positioned for writing: at 0 of an emptied file, or at the end to append.
    static func openForWriting(_ url: URL, truncate: Bool) throws -> FileHandle {
        do {
            if !FileManager.default.fileExists(atPath: url.path) {
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw HubError.io(path: url.path, reason: "cannot create file")
                }
            }
            let handle = try FileHandle(forWritingTo: url)
            if truncate { try handle.truncate(atOffset: 0) } else { try handle.seekToEnd() }
            return handle
        } catch let error as HubError { throw error } catch {
            throw HubError.io(path: url.path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Runs `body` holding an exclusive `flock(2)` on `url` (created with mode 0664, as
    /// huggingface_hub's `WeakFileLock` does), polling every 100 ms for at most `timeout`.
    static func withLock<R>(_ url: URL, timeout: Duration = .seconds(1800),
                            _ body: () async throws -> R) async throws -> R {
        try makeFolder(url.deletingLastPathComponent())
        let fd = open(url.path, O_RDWR | O_CREAT, 0o664)
        guard fd >= 0 else { throw HubError.io(path: url.path, reason: "cannot open lock file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }   // closing the descriptor also releases the lock
        _ = fchmod(fd, 0o664)  // group-writable despite the umask, so users sharing a cache can wait
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, clock.now < deadline else {
                throw HubError.io(path: url.path, reason: "still locked by another download after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try await body()
    }

    /// `CACHEDIR.TAG` in the cache root (Cache Directory Tagging Standard), as huggingface_hub
    /// writes it, so backup tools skip the cache. Best effort, like the reference.
    static func tagCacheFolder(_ root: URL) throws {
        let tag = root.appendingPathComponent("CACHEDIR.TAG")
        guard !FileManager.default.fileExists(atPath: tag.path) else { return }
        try makeFolder(root)
        try? Data(("Signature: 8a477f597d28d172789f06886806bc55\n"
            + "# This file is a cache directory tag created by huggingface_hub.\n"
            + "# For information about cache directory tags, see:\n"
            + "#\thttps://bford.info/cachedir/\n").utf8).write(to: tag, options: .atomic)
    }

    /// `snapshots/{commit}/{file}` → `../../blobs/{etag}` (plus one `../` per sub-folder of the
    /// file), as `_create_symlink` makes it with `os.path.relpath`. Created under a temporary name
    /// and renamed into place, so a stale or dangling link is replaced atomically.
    static func link(pointer: URL, blob etag: String, depth: Int) throws {
        try makeFolder(pointer.deletingLastPathComponent())
        let target = String(repeating: "../", count: depth + 1) + "blobs/" + etag
        let temporary = pointer.deletingLastPathComponent()
            .appendingPathComponent(".\(pointer.lastPathComponent).\(UUID().uuidString.prefix(8)).link")
        do {
            try FileManager.default.createSymbolicLink(atPath: temporary.path, withDestinationPath: target)
            try AtomicFile.commit(temporary, to: pointer)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw HubError.io(path: pointer.path, reason: "cannot link to \(target): \(error)")
        }
    }
}
