import Foundation

/// A small self-contained byte-level BPE `tokenizer.json` (256 byte symbols in GPT-2 order, then
/// "ab", "bc", "abc", "Ġa"; merges "a b", "b c", "ab c", "Ġ a"), with each component replaceable so
/// tests can break one field at a time without the shared GPT-2 files.
struct SyntheticTokenizer {
    var addedTokens = #"[{"id":260,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true}]"#
    var normalizer = "null"
    var preTokenizer = #"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true}"#
    var postProcessor = #"{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false}"#
    var decoder = #"{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true}"#
    var modelType = #""type":"BPE","#
    var modelOptions = #""dropout":null,"unk_token":null,"continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false"#
    var extraVocab = ["ab", "bc", "abc", "Ġa", "<|endoftext|>"]
    var merges = #"["a b","b c","ab c","Ġ a"]"#

    /// GPT-2's byte → symbol table (bytes_to_unicode), written independently of the library.
    static let byteSymbols: [String] = {
        let direct = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var next = 256
        return (0..<256).map { b in
            if direct.contains(b) { return String(UnicodeScalar(UInt8(b))) }
            defer { next += 1 }
            return String(UnicodeScalar(UInt32(next))!)
        }
    }()

    var json: String {
        let tokens = Self.byteSymbols + extraVocab
        let vocab = tokens.enumerated().map { i, t in
            "\(String(decoding: JSONPatch.stringLiteral(Array(t.utf8)), as: UTF8.self)):\(i)"
        }.joined(separator: ",")
        return #"{"version":"1.0","truncation":null,"padding":null,"added_tokens":\#(addedTokens),"normalizer":\#(normalizer),"pre_tokenizer":\#(preTokenizer),"post_processor":\#(postProcessor),"decoder":\#(decoder),"model":{\#(modelType)\#(modelOptions),"vocab":{\#(vocab)},"merges":\#(merges)}}"#
    }

    var data: Data { Data(json.utf8) }

    /// Writes the JSON to a fresh temporary folder as `tokenizer.json`; returns the file URL.
    func write() throws -> URL {
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("tokenizer.json")
        try data.write(to: url)
        return url
    }
}

/// A new empty folder under the system temporary directory.
func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
