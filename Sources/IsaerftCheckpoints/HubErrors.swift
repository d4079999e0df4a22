import Foundation

/// Failures of the Hugging Face cache look-up and hub downloads, one clear line each.
public enum HubError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE=1`) and the files are not in the cache.
    case offline(repo: String, revision: String, missing: [String], cache: String)
    /// The caller disallowed downloads and the files are not in the cache.
    case downloadsDisabled(repo: String, revision: String, missing: [String], cache: String)
    /// The hub answered 404 for a file (`EntryNotFound`).
    case fileNotFound(file: String, repo: String, revision: String)
    /// The hub answered 401 or 403: gated, private, or missing repo.
    case unauthorized(file: String, repo: String, status: Int, tokenSent: Bool)
    /// Any other HTTP error status.
    case httpStatus(url: String, status: Int)
    /// The server's answer lacks what the cache layout needs (commit, etag) or is inconsistent.
    case badResponse(url: String, reason: String)
    /// The downloaded blob has the wrong size.
    case sizeMismatch(file: String, expected: Int64, got: Int64)
    /// More than `HubDownloader.maxRedirects` redirects.
    case tooManyRedirects(url: String)
    /// A repo id, revision, file name, commit or etag that cannot name a path in the cache.
    case invalidName(kind: String, value: String)
    /// A file-system operation in the cache failed.
    case io(path: String, reason: String)
    /// The request failed below HTTP (connection refused, timeout, TLS).
    case network(url: String, reason: String)

    public var description: String {
        switch self {
        case let .offline(repo, revision, missing, cache):
            "\(list(missing)) of \(repo) at revision \(revision) \(verb(missing)) not in the cache (\(cache)) "
                + "and HF_HUB_OFFLINE=1 disables downloads"
        case let .downloadsDisabled(repo, revision, missing, cache):
            "\(list(missing)) of \(repo) at revision \(revision) \(verb(missing)) not in the cache (\(cache)) "
                + "and downloads are disabled"
        case let .fileNotFound(file, repo, revision):
            "file \(file) not found in repo \(repo) at revision \(revision)"
        case let .unauthorized(file, repo, status, tokenSent):
            "HTTP \(status) for \(file) in \(repo): the repo is gated, private or does not exist; "
                + (tokenSent ? "the token in HF_TOKEN (or the HF token file) was refused"
                             : "set HF_TOKEN to a token with access (none was sent)")
        case let .httpStatus(url, status):
            "HTTP \(status) from \(url)"
        case let .badResponse(url, reason):
            "unexpected answer from \(url): \(reason)"
        case let .sizeMismatch(file, expected, got):
            "download of \(file) is \(got) bytes, the hub announced \(expected)"
        case let .tooManyRedirects(url):
            "too many redirects starting at \(url)"
        case let .invalidName(kind, value):
            "invalid \(kind) \"\(value)\""
        case let .io(path, reason):
            "\(path): \(reason)"
        case let .network(url, reason):
            "request to \(url) failed: \(reason)"
        }
    }

    private func list(_ files: [String]) -> String {
        files.count == 1 ? "file \(files[0])" : "files \(files.joined(separator: ", "))"
    }

    private func verb(_ files: [String]) -> String { files.count == 1 ? "is" : "are" }
}
