import Foundation
import IsaerftAnalysis
import IsaerftCore
import IsaerftFiles
import IsaerftModels
import IsaerftSAE
import IsaerftTestSupport
import IsaerftTokenizers

/// `fixtures/analysis` (scripts/make_analysis_fixtures.py: TransformerLens 3.9.0, torch 2.13.0 fp32) and
/// the models and SAEs it was made from.
enum AnalysisFixture {
    static let root = SharedData.fixturesRoot.appendingPathComponent("analysis")
    /// `fixtures/gpt2/tiny_a`: GPT-2, d_model 64, 2 blocks, V = 1000, tied head, no tokenizer.
    static let tinyA: GPT2Model = try! GPT2Model.load(folder: SharedData.fixturesRoot.appendingPathComponent("gpt2/tiny_a"))
    /// `fixtures/sae/standard`: d_in 64, d_sae 128, `blocks.0.hook_resid_post`.
    static let standardSAE: SparseAutoencoder = try! SparseAutoencoder.load(folder: SharedData.fixturesRoot.appendingPathComponent("sae/standard"))

    static func sae(_ name: String) throws -> SparseAutoencoder {
        try SparseAutoencoder.load(folder: SharedData.fixturesRoot.appendingPathComponent("sae/\(name)"))
    }

    static func manifest() throws -> JSONValue { try JSONValue.parse(Data(contentsOf: root.appendingPathComponent("manifest.json"))) }

    static func reference() throws -> SafeTensorsFile { try SafeTensorsFile(url: root.appendingPathComponent("reference.safetensors")) }

    static func temporaryFolder(_ label: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-analysis-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// A word-level tokenizer over `V` ids for tests: id i is `words[i % words.count] + suffix`; some ids
/// carry HTML-special characters and whitespace so rendering is exercised. BOS = EOS = V − 1.
struct WordTokenizer: TextTokenizer {
    let vocabularySize: Int
    var bosTokenID: Int? { vocabularySize - 1 }
    var eosTokenID: Int? { vocabularySize - 1 }
    var addsBOS: Bool { false }
    static let words = [" the", " cat", " sat", " on", " a", " <b>mat</b>", " &", " \"quoted\"", "\n", " it's", " café", "\t", " x", " 42", " dog", " ran"]

    init(vocabularySize: Int = 1000) { self.vocabularySize = vocabularySize }

    func text(_ id: Int) -> String {
        if id == vocabularySize - 1 { return "<|endoftext|>" }
        return Self.words[id % Self.words.count] + (id < Self.words.count ? "" : "\(id / Self.words.count)")
    }

    func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        // Deterministic (FNV-1a of the word's bytes), never BOS.
        text.split(separator: " ").map { w in
            Int(w.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 } % UInt64(vocabularySize - 1))
        }
    }

    func decode(_ ids: [Int], skipSpecial: Bool) throws -> String { ids.map(text).joined() }

    func tokenBytes(_ id: Int) throws -> [UInt8] {
        guard id >= 0 && id < vocabularySize else { throw TokenizerError.idOutOfRange(id: id, vocabularySize: vocabularySize) }
        return Array(text(id).utf8)
    }
}
