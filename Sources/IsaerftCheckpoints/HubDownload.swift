import AsyncHTTPClient
import Foundation
import IsaerftFiles

/// Download progress: the file (path in the repo), bytes written so far (a resumed download starts
/// at the bytes already on disk), and the total when known. Called from the downloading task.
public typealias HubProgress = @Sendable (_ file: String, _ bytesDone: Int64, _ bytesTotal: Int64?) -> Void

/// The snapshot folder holding `files` (required) and whichever of `optionalFiles` exist, taken
/// from the Hugging Face cache when present and downloaded from the hub otherwise. Settings come
/// from `environment` (see `HubSettings`). Throws `HubError`.
public func snapshotFiles(repo: String, revision: String = "main", files: [String], optionalFiles: [String] = [],
                          allowDownload: Bool = true,
                          environment: [String: String] = ProcessInfo.processInfo.environment,
                          progress: HubProgress? = nil) async throws -> URL {
    try await HubDownloader(settings: HubSettings(environment: environment))
        .snapshotFiles(repo: repo, revision: revision, files: files, optionalFiles: optionalFiles,
                       allowDownload: allowDownload, progress: progress)
}

/// Fills the `huggingface_hub` cache layout from `{endpoint}/{repo}/resolve/{revision}/{file}`,
/// following `hf_hub_download` → `_hf_hub_download_to_cache_dir` (`file_download.py`, 2.4.0):
///
/// 1. HEAD the resolve URL (`Accept-Encoding: identity`, bearer token), following redirects that
///    stay on the same host and stopping at one that leaves it (CDN); from the answer take
///    `X-Repo-Commit`, the etag (`X-Linked-Etag` else `ETag`, without `W/` and quotes), the size
///    (`X-Linked-Size` else `Content-Length` of a non-redirect) and the download location.
/// 2. Write `refs/{revision}` = commit when the revision is not the commit itself.
/// 3. Unless `blobs/{etag}` exists: GET the location into `blobs/{etag}.incomplete`, resuming
///    with `Range: bytes=N-` when it already holds N bytes (append on 206, restart on 200);
///    follow redirects (relative ones too); check the size; rename to `blobs/{etag}`.
/// 4. Link `snapshots/{commit}/{file}` → `../../blobs/{etag}` (one more `../` per sub-folder).
/// A 404 writes `.no_exist/{commit}/{file}` (when the commit is known) and fails for required
/// files only. The token is sent only to the endpoint's origin, never to a CDN. Steps 3–4 hold
/// `flock(2)` on `.locks/models--{org}--{name}/{etag}.lock`, the lock Python's `filelock` takes,
/// so this and `huggingface_hub` never write the same blob at once; `CACHEDIR.TAG` marks the root.
/// Left out: Xet storage, retries with back-off, `force_download`.
public struct HubDownloader: Sendable {
    public let settings: HubSettings
    public var cache: HubCache { HubCache(root: settings.cacheRoot) }
    public static let maxRedirects = 10

    public init(settings: HubSettings = HubSettings()) { self.settings = settings }

    /// See the free function `snapshotFiles(repo:revision:files:optionalFiles:allowDownload:environment:progress:)`.
    /// When the cache already satisfies the request no network request is made; otherwise the
    /// revision is resolved once and every wanted file is ensured in that commit's snapshot.
    public func snapshotFiles(repo: String, kind: HubRepoKind = .model, revision: String = "main",
                              files: [String], optionalFiles: [String] = [], allowDownload: Bool = true,
                              progress: HubProgress? = nil) async throws -> URL {
        try Names.check(repo: repo, revision: revision, files: files + optionalFiles)
        let cache = self.cache
        let cachedCommit = cache.commit(repo: repo, kind: kind, revision: revision)
        let missing = cache.missingFiles(repo: repo, kind: kind, commit: cachedCommit, files: files,
                                         optionalFiles: optionalFiles)
        if missing.isEmpty, let cachedCommit {
            return cache.snapshotFolder(repo: repo, kind: kind, commit: cachedCommit)
        }
        // Without the network, optional files that are not cached count as absent (as
        // `hf_hub_download` with `local_files_only` treats each file on its own).
        let missingRequired = missing.filter { files.contains($0) }
        let cachedSnapshot = missingRequired.isEmpty ? cachedCommit.map { cache.snapshotFolder(repo: repo, kind: kind, commit: $0) } : nil
        if settings.offline {
            if let cachedSnapshot { return cachedSnapshot }
            throw HubError.offline(repo: repo, revision: revision, missing: missingRequired.isEmpty ? missing : missingRequired,
                                   cache: settings.cacheRoot.path)
        }
        guard allowDownload else {
            if let cachedSnapshot { return cachedSnapshot }
            throw HubError.downloadsDisabled(repo: repo, revision: revision, missing: missingRequired.isEmpty ? missing : missingRequired,
                                             cache: settings.cacheRoot.path)
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration)
        do {
            let folder = try await fetch(client: client, repo: repo, kind: kind, revision: revision,
                                         wanted: files.map { ($0, true) } + optionalFiles.map { ($0, false) },
                                         fallbackCommit: cachedCommit, progress: progress)
            try await client.shutdown()
            return folder
        } catch {
            try? await client.shutdown()
            // Hub unreachable but the required files are cached: use the cache (huggingface_hub does the same).
            if let cachedSnapshot, let e = error as? HubError, case .network = e { return cachedSnapshot }
            throw error
        }
    }

    private static var clientConfiguration: HTTPClient.Configuration {
        var c = HTTPClient.Configuration()
        c.redirectConfiguration = .disallow   // redirects are followed by hand (headers, auth, relative)
        c.timeout = .init(connect: .seconds(10), read: .seconds(60))
        return c
    }

    // MARK: - Orchestration

    private func fetch(client: HTTPClient, repo: String, kind: HubRepoKind, revision: String,
                       wanted: [(file: String, required: Bool)], fallbackCommit: String?,
                       progress: HubProgress?) async throws -> URL {
        let cache = self.cache
        let repoFolder = cache.repoFolder(repo, kind: kind)
        var pinned: String? = Names.isCommitHash(revision) ? revision : nil
        for (file, required) in wanted {
            if let c = pinned {
                let pointer = cache.snapshotFolder(repo: repo, kind: kind, commit: c).appendingPathComponent(file)
                if cache.isFile(pointer) || (!required && cache.isKnownMissing(repo: repo, kind: kind, commit: c, file: file)) {
                    continue
                }
            }
            let url = resolveURL(repo: repo, kind: kind, revision: pinned ?? revision, file: file)
            switch try await headMetadata(client: client, url: url, repo: repo, revision: revision, file: file) {
            case .notFound(let commit):
                if let c = commit ?? pinned {
                    try Names.checkComponent(c, kind: "commit from the server")
                    try Disk.touch(repoFolder.appendingPathComponent(".no_exist").appendingPathComponent(c)
                        .appendingPathComponent(file))
                }
                if required { throw HubError.fileNotFound(file: file, repo: repo, revision: revision) }
                if pinned == nil, let commit { try pin(commit, revision: revision, repoFolder: repoFolder, pinned: &pinned) }
            case .found(let meta):
                if pinned == nil { try pin(meta.commit, revision: revision, repoFolder: repoFolder, pinned: &pinned) }
                guard meta.commit == pinned else {
                    throw HubError.badResponse(url: url.absoluteString,
                        reason: "commit \(meta.commit) for a request pinned to commit \(pinned ?? "?")")
                }
                let pointer = cache.snapshotFolder(repo: repo, kind: kind, commit: meta.commit).appendingPathComponent(file)
                let blob = repoFolder.appendingPathComponent("blobs").appendingPathComponent(meta.etag)
                if cache.isFile(pointer) { continue }
                try Disk.tagCacheFolder(cache.root)
                let lock = cache.root.appendingPathComponent(".locks").appendingPathComponent(repoFolder.lastPathComponent)
                    .appendingPathComponent("\(meta.etag).lock")
                try await Disk.withLock(lock) {
                    if !cache.isFile(blob) {
                        try await download(client: client, meta: meta, file: file, to: blob, progress: progress)
                    }
                    if !cache.isFile(pointer) {
                        try Disk.link(pointer: pointer, blob: meta.etag, depth: file.split(separator: "/").count)
                    }
                }
            }
        }
        guard let commit = pinned ?? fallbackCommit else {
            throw HubError.badResponse(url: settings.endpoint, reason: "could not resolve revision \(revision) of \(repo)")
        }
        let folder = cache.snapshotFolder(repo: repo, kind: kind, commit: commit)
        try Disk.makeFolder(folder)
        return folder
    }

    private func pin(_ commit: String, revision: String, repoFolder: URL, pinned: inout String?) throws {
        try Names.checkComponent(commit, kind: "commit from the server")
        pinned = commit
        if revision != commit {
            let ref = repoFolder.appendingPathComponent("refs").appendingPathComponent(revision)
            if (try? String(contentsOf: ref, encoding: .utf8)) != commit {
                try Disk.makeFolder(ref.deletingLastPathComponent())
                try Disk.write(Data(commit.utf8), to: ref)
            }
        }
    }

    /// `{endpoint}/{prefix}{repo}/resolve/{quote(revision, safe="")}/{quote(file)}` (`hf_hub_url`).
    func resolveURL(repo: String, kind: HubRepoKind, revision: String, file: String) -> URL {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let rev = revision.addingPercentEncoding(withAllowedCharacters: unreserved) ?? revision
        let path = file.addingPercentEncoding(withAllowedCharacters: unreserved.union(CharacterSet(charactersIn: "/"))) ?? file
        return URL(string: "\(settings.endpoint)/\(kind.urlPrefix)\(repo)/resolve/\(rev)/\(path)")!
    }

    // MARK: - HTTP

    struct FileMetadata: Sendable { var commit: String, etag: String, size: Int64?, location: URL }
    enum HeadResult: Sendable { case found(FileMetadata), notFound(commit: String?) }

    private func headMetadata(client: HTTPClient, url: URL, repo: String, revision: String,
                              file: String) async throws -> HeadResult {
        var current = url
        var commit: String?, etag: String?, size: Int64?
        for _ in 0...Self.maxRedirects {
            let response = try await send(client: client, head: true, url: current, headers: [])
            _ = try? await response.body.collect(upTo: 1 << 20)
            let status = Int(response.status.code)
            let headers = response.headers
            if let c = headers.first(name: "X-Repo-Commit") {
                commit = c
                etag = Names.normaliseETag(headers.first(name: "X-Linked-Etag") ?? headers.first(name: "ETag"))
                size = (headers.first(name: "X-Linked-Size") ?? ((300..<400).contains(status) ? nil
                    : headers.first(name: "Content-Length"))).flatMap { Int64($0) }
            }
            if status == 404 { return .notFound(commit: commit) }
            try checkStatus(status, url: current, repo: repo, revision: revision, file: file)
            if (300..<400).contains(status), let location = headers.first(name: "Location") {
                guard let target = URL(string: location, relativeTo: current)?.absoluteURL else {
                    throw HubError.badResponse(url: current.absoluteString, reason: "bad Location \(location)")
                }
                if Names.sameOrigin(target, current) { current = target; continue }
                return .found(try metadata(commit, etag, size, location: target, url: url))
            }
            guard (200..<300).contains(status) else { throw HubError.httpStatus(url: current.absoluteString, status: status) }
            if size == nil { size = headers.first(name: "Content-Length").flatMap { Int64($0) } }
            return .found(try metadata(commit, etag, size, location: current, url: url))
        }
        throw HubError.tooManyRedirects(url: url.absoluteString)
    }

    private func metadata(_ commit: String?, _ etag: String?, _ size: Int64?, location: URL, url: URL) throws -> FileMetadata {
        guard let commit, !commit.isEmpty else {
            throw HubError.badResponse(url: url.absoluteString, reason: "no X-Repo-Commit header (is HF_ENDPOINT a Hugging Face hub?)")
        }
        guard let etag, !etag.isEmpty else { throw HubError.badResponse(url: url.absoluteString, reason: "no ETag header") }
        try Names.checkComponent(etag, kind: "etag from the server")
        return FileMetadata(commit: commit, etag: etag, size: size, location: location)
    }

    /// GETs `meta.location` into `blob.incomplete` (resuming), checks the size, renames to `blob`.
    private func download(client: HTTPClient, meta: FileMetadata, file: String, to blob: URL,
                          progress: HubProgress?) async throws {
        try Disk.makeFolder(blob.deletingLastPathComponent())
        let incomplete = blob.deletingLastPathComponent().appendingPathComponent(blob.lastPathComponent + ".incomplete")
        var resume = Disk.size(incomplete) ?? 0
        if let expected = meta.size, resume > expected { resume = 0 }
        if meta.size == nil || resume != meta.size! {
            var current = meta.location, redirects = 0
            while true {
                let range: [(String, String)] = resume > 0 ? [("Range", "bytes=\(resume)-")] : []
                let response = try await send(client: client, head: false, url: current, headers: range)
                let status = Int(response.status.code)
                if (300..<400).contains(status), let location = response.headers.first(name: "Location") {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    redirects += 1
                    guard redirects <= Self.maxRedirects, let target = URL(string: location, relativeTo: current)?.absoluteURL else {
                        throw HubError.tooManyRedirects(url: meta.location.absoluteString)
                    }
                    current = target
                    continue
                }
                guard status == 200 || status == 206 else {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    if status == 416 && resume > 0 { resume = 0; continue }     // stale partial: start over
                    throw HubError.httpStatus(url: current.absoluteString, status: status)
                }
                let append = status == 206 && resume > 0
                let length = response.headers.first(name: "Content-Length").flatMap { Int64($0) }
                let total = meta.size ?? length.map { (append ? resume : 0) + $0 }
                let handle = try Disk.openForWriting(incomplete, truncate: !append)
                var done = append ? resume : 0
                do {
                    progress?(file, done, total)
                    for try await chunk in response.body {
                        try handle.write(contentsOf: Data(chunk.readableBytesView))
                        done += Int64(chunk.readableBytes)
                        progress?(file, done, total)
                    }
                    try handle.close()
                } catch {
                    try? handle.close()
                    throw (error as? HubError) ?? HubError.network(url: current.absoluteString, reason: "\(error)")
                }
                break
            }
        }
        let got = Disk.size(incomplete) ?? 0
        if let expected = meta.size, got != expected {
            throw HubError.sizeMismatch(file: file, expected: expected, got: got)
        }
        do { try AtomicFile.commit(incomplete, to: blob) } catch {
            throw HubError.io(path: blob.path, reason: "\(error)")
        }
    }

    /// One request (HEAD or GET) with the hub's headers; the bearer token only for the endpoint's origin.
    private func send(client: HTTPClient, head: Bool, url: URL,
                      headers: [(String, String)]) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = head ? .HEAD : .GET
        request.headers.add(name: "User-Agent", value: "isaerft/0.1; swift")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let token = settings.token, let endpoint = URL(string: settings.endpoint), Names.sameOrigin(url, endpoint) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        do {
            return try await client.execute(request, timeout: .seconds(60))
        } catch {
            throw HubError.network(url: url.absoluteString, reason: "\(error)")
        }
    }

    private func checkStatus(_ status: Int, url: URL, repo: String, revision: String, file: String) throws {
        if status == 401 || status == 403 {
            let tokenSent = settings.token != nil && URL(string: settings.endpoint).map { Names.sameOrigin(url, $0) } == true
            throw HubError.unauthorized(file: file, repo: repo, status: status, tokenSent: tokenSent)
        }
        if status >= 400 { throw HubError.httpStatus(url: url.absoluteString, status: status) }
    }
}
