import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback HTTP server (127.0.0.1, port chosen by the OS) that answers like the hub's resolve
/// URLs, for `HubDownloader` tests:
///
/// - `HEAD|GET /{repo}/resolve/{rev}/{file}` with `rev` = `main` or the commit: 200 with
///   `X-Repo-Commit`, `ETag` (quoted) and `Content-Length`; for LFS files with a redirect style,
///   302 to `/cdn/{sha}` (relative) or to another server's `/cdn/{sha}` (absolute, other origin)
///   with `X-Linked-Etag` and `X-Linked-Size`, as the hub does for large files.
/// - `Range: bytes=N-` answered with 206 (unless `ignoreRange`).
/// - unknown file → 404 `EntryNotFound` with `X-Repo-Commit`; unknown repo → 401 `RepoNotFound`;
///   unknown revision → 404; a required token missing → 401, wrong → 403.
final class FakeHub: Sendable {
    enum Redirect: Sendable { case none, relative, absolute }

    struct Config: Sendable {
        var repo = "org/tiny"
        var commit = String(repeating: "ab", count: 20)
        var files: [String: [UInt8]] = [:]
        /// Files stored in LFS: etag = fake sha256, served through the CDN when `redirect` ≠ .none.
        var lfs: Set<String> = []
        var redirect = Redirect.none
        var requiredToken: String? = nil
        var ignoreRange = false
    }

    struct Request: Sendable, Equatable {
        var method: String, path: String, range: String?, authorization: String?
    }

    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    let port: Int
    let state: State
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, state: State) {
        self.group = group
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.state = state
    }

    /// Starts a server; `cdn` (absolute redirects) is where LFS files are redirected to.
    static func start(_ config: Config, cdn: FakeHub? = nil) async throws -> FakeHub {
        let state = State(config: config, cdnEndpoint: cdn?.endpoint)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(Handler(state: state))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            return FakeHub(group: group, channel: channel, state: state)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    func shutdown() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    var requests: [Request] { state.requests }

    /// The etag this server gives `file`: a fake git SHA-1 (40 hex) or, for LFS files, a fake
    /// SHA-256 (64 hex); deterministic in the content.
    static func etag(_ content: [UInt8], lfs: Bool) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var out = ""
        for round in 0..<(lfs ? 4 : 3) {
            for b in content + [UInt8(round)] { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            out += String(h, radix: 16).leftPadded(16)
        }
        return String(out.prefix(lfs ? 64 : 40))
    }

    // MARK: - State shared by connections

    final class State: @unchecked Sendable {   // all mutable state behind `lock`
        private let lock = NSLock()
        let config: Config
        let cdnEndpoint: String?
        private var log: [Request] = []

        init(config: Config, cdnEndpoint: String?) { self.config = config; self.cdnEndpoint = cdnEndpoint }

        var requests: [Request] { lock.withLock { log } }

        func record(_ r: Request) { lock.withLock { log.append(r) } }

        struct Reply { var status: HTTPResponseStatus; var headers: [(String, String)] = []; var body: [UInt8] = [] }

        func answer(method: HTTPMethod, uri: String, headers: HTTPHeaders) -> Reply {
            let path = String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
            record(Request(method: method.rawValue, path: path, range: headers.first(name: "Range"),
                           authorization: headers.first(name: "Authorization")))
            if path.hasPrefix("/cdn/") { return cdn(String(path.dropFirst(5)), headers: headers) }
            guard let marker = path.range(of: "/resolve/") else { return Reply(status: .notFound) }
            let repo = String(path[path.index(after: path.startIndex)..<marker.lowerBound])
            let rest = path[marker.upperBound...].split(separator: "/", maxSplits: 1)
            guard repo == config.repo, rest.count == 2 else {
                return Reply(status: .unauthorized, headers: [("X-Error-Code", "RepoNotFound")])
            }
            if let token = config.requiredToken {
                guard let auth = headers.first(name: "Authorization") else { return Reply(status: .unauthorized) }
                guard auth == "Bearer \(token)" else { return Reply(status: .forbidden) }
            }
            let revision = String(rest[0]).removingPercentEncoding ?? String(rest[0])
            guard revision == "main" || revision == config.commit else {
                return Reply(status: .notFound, headers: [("X-Error-Code", "RevisionNotFound")])
            }
            let file = String(rest[1]).removingPercentEncoding ?? String(rest[1])
            var common = [("X-Repo-Commit", config.commit)]
            guard let content = config.files[file] else {
                common.append(("X-Error-Code", "EntryNotFound"))
                return Reply(status: .notFound, headers: common)
            }
            let isLFS = config.lfs.contains(file)
            let etag = FakeHub.etag(content, lfs: isLFS)
            if isLFS && config.redirect != .none {
                let base = config.redirect == .relative ? "" : (cdnEndpoint ?? "")
                return Reply(status: .found, headers: common + [
                    ("Location", "\(base)/cdn/\(etag)"), ("X-Linked-Etag", "\"\(etag)\""),
                    ("X-Linked-Size", "\(content.count)"), ("ETag", "W/\"git-\(etag.prefix(8))\""),
                ])
            }
            return ranged(content, headers: headers, extra: common + [("ETag", "\"\(etag)\"")])
        }

        /// The CDN side: content by LFS etag, no hub headers.
        private func cdn(_ etag: String, headers: HTTPHeaders) -> Reply {
            guard let file = config.lfs.first(where: { FakeHub.etag(config.files[$0] ?? [], lfs: true) == etag }),
                  let content = config.files[file] else { return Reply(status: .notFound) }
            return ranged(content, headers: headers, extra: [("ETag", "\"s3-\(etag.prefix(12))\"")])
        }

        private func ranged(_ content: [UInt8], headers: HTTPHeaders, extra: [(String, String)]) -> Reply {
            if !config.ignoreRange, let range = headers.first(name: "Range"), range.hasPrefix("bytes="),
               range.hasSuffix("-"), let start = Int(range.dropFirst(6).dropLast()) {
                guard start < content.count else {
                    return Reply(status: .rangeNotSatisfiable, headers: extra + [("Content-Range", "bytes */\(content.count)")])
                }
                return Reply(status: .partialContent,
                             headers: extra + [("Content-Range", "bytes \(start)-\(content.count - 1)/\(content.count)")],
                             body: Array(content[start...]))
            }
            return Reply(status: .ok, headers: extra, body: content)
        }
    }

    // MARK: - Channel handler

    private final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private let state: State
        private var head: HTTPRequestHead?

        init(state: State) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body: break
            case .end:
                guard let h = head else { return }
                head = nil
                let reply = state.answer(method: h.method, uri: h.uri, headers: h.headers)
                var headers = HTTPHeaders(reply.headers)
                headers.add(name: "Content-Length", value: "\(reply.body.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: reply.status,
                                                                     headers: headers))), promise: nil)
                if h.method != .HEAD && !reply.body.isEmpty {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// Runs `body` with a started fake hub (and, for absolute redirects, a second server on another
/// port playing the CDN), shutting everything down afterwards whether or not `body` throws.
func withFakeHub<R>(_ config: FakeHub.Config,
                    _ body: (_ hub: FakeHub, _ cdn: FakeHub?) async throws -> R) async throws -> R {
    let cdn = config.redirect == .absolute ? try await FakeHub.start(config) : nil
    let hub: FakeHub
    do { hub = try await FakeHub.start(config, cdn: cdn) } catch { await cdn?.shutdown(); throw error }
    do {
        let result = try await body(hub, cdn)
        await hub.shutdown(); await cdn?.shutdown()
        return result
    } catch {
        await hub.shutdown(); await cdn?.shutdown()
        throw error
    }
}
