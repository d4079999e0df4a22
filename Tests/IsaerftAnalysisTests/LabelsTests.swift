import Foundation
import IsaerftAnalysis
import IsaerftTestSupport
import Testing

@Suite("Labels and Neuronpedia")
struct LabelsTests {
    let explanations = AnalysisFixture.root.appendingPathComponent("explanations")

    @Test("a folder of Neuronpedia exports (.jsonl.gz and .jsonl) is read in name order, filtered by source")
    func exportFolder() throws {
        let all = try LatentLabels.load(explanations)
        #expect(all.explanations(for: 7).map(\.description) == [" numbers & <tags>", "another source", "second explanation of 7"])
        let labels = try LatentLabels.load(explanations, source: "0-res-test")
        #expect(labels.count == 3)
        #expect(labels.label(for: 7) == " numbers & <tags>")
        #expect(labels.explanations(for: 7).map(\.description) == [" numbers & <tags>", "second explanation of 7"])
        let e42 = try #require(labels.explanations(for: 42).first)
        #expect(e42.description == "the word \"café\"")   // numeric index, \u escape
        #expect(e42.typeName == "np_acts-logits-general")
        #expect(e42.explanationModelName == "gemini-2.5-flash-lite")
        #expect(e42.modelID == "isaerft-tiny-a" && e42.sourceID == "0-res-test")
        #expect(labels.explanations(for: 7)[1].explanationModelName == nil)   // JSON null
        #expect(labels.label(for: 1) == nil)
    }

    @Test("one gzip export file; a source that is absent is an error naming the sources found")
    func gzipFile() throws {
        let file = explanations.appendingPathComponent("batch-0.jsonl.gz")
        #expect(try LatentLabels.load(file).count == 2)
        #expect(throws: AnalysisError.unreadable(file.path, reason: "no explanations for source 5-res-jb (the file has: 0-res-test, 1-res-test)")) {
            try LatentLabels.load(file, source: "5-res-jb")
        }
    }

    @Test("malformed export lines are reported with their line number")
    func badExportLines() throws {
        let cases: [(String, Int, String)] = [
            ("{\"index\": 1, \"description\": \"a\"}\n[1]\n", 2, "not a JSON object"),
            ("\n{\"index\": \"x\", \"description\": \"a\"}\n", 2, "no integer field \"index\""),
            ("{\"index\": 3}\n", 1, "no string field \"description\""),
            ("{\"index\": -3, \"description\": \"a\"}\n", 1, "negative index -3"),
        ]
        for (text, line, reason) in cases {
            #expect(throws: AnalysisError.badLabels(file: "t.jsonl", line: line, reason: reason)) {
                try LatentLabels.parseNeuronpediaJSONL(Data(text.utf8), file: "t.jsonl")
            }
        }
        #expect(throws: AnalysisError.self) { try LatentLabels.parseNeuronpediaJSONL(Data("{\"index\": 1,\n".utf8), file: "t.jsonl") }
    }

    @Test("CSV: header, quoted fields with commas, doubled quotes and newlines")
    func csv() throws {
        let labels = try LatentLabels.load(AnalysisFixture.root.appendingPathComponent("labels.csv"))
        #expect(labels.count == 4)
        #expect(labels.label(for: 0) == "plain label")
        #expect(labels.label(for: 7) == "quoted, with comma")
        #expect(labels.label(for: 42) == "a \"quote\" inside")
        #expect(labels.label(for: 127) == "two\nlines")
        #expect(labels.explanations(for: 0).first?.typeName == "csv")
        // CRLF, blank lines, spaces around unquoted fields, no header.
        let crlf = try LatentLabels.parseCSV("3, spaced \r\n\r\n4,\"q\"  \r\n", file: "x.csv")
        #expect(crlf.map(\.index) == [3, 4] && crlf.map(\.description) == ["spaced", "q"])
    }

    @Test("CSV errors name the line")
    func csvErrors() throws {
        #expect(throws: AnalysisError.badLabels(file: "x.csv", line: 2, reason: "expected 2 fields (index,label), found 3; quote labels that contain commas")) {
            try LatentLabels.parseCSV("1,a\n2,b,c\n", file: "x.csv")
        }
        #expect(throws: AnalysisError.badLabels(file: "x.csv", line: 3, reason: "index 'x' is not a non-negative integer")) {
            try LatentLabels.parseCSV("1,a\n2,b\nx,c\n", file: "x.csv")
        }
        #expect(throws: AnalysisError.badLabels(file: "x.csv", line: 2, reason: "unterminated quoted field")) {
            try LatentLabels.parseCSV("1,a\n2,\"b\n", file: "x.csv")
        }
        #expect(throws: AnalysisError.badLabels(file: "x.csv", line: 1, reason: "text after a closing quote")) {
            try LatentLabels.parseCSV("1,\"a\"b\n", file: "x.csv")
        }
    }

    @Test("labels export in Neuronpedia's line format and read back")
    func exportRoundTrip() throws {
        let labels = try LatentLabels.load(explanations, source: "0-res-test")
        let text = labels.neuronpediaJSONL(modelID: "isaerft-tiny-a", sourceID: "0-res-test")
        #expect(text.split(separator: "\n").count == 4)
        #expect(text.hasPrefix("{\"modelId\":\"isaerft-tiny-a\",\"layer\":\"0-res-test\",\"index\":\"0\",\"description\":\"start of text\""))
        let back = try LatentLabels.parseNeuronpediaJSONL(Data(text.utf8), file: "roundtrip")
        #expect(back.map(\.description) == [0, 7, 42].flatMap { labels.explanations(for: $0) }.map(\.description))
        #expect(back.map(\.index) == [0, 7, 7, 42])
        #expect(back.map(\.typeName) == [0, 7, 42].flatMap { labels.explanations(for: $0) }.map(\.typeName))
    }

    @Test("listed latents carry their label and Neuronpedia page")
    func annotate() throws {
        let labels = try LatentLabels.load(AnalysisFixture.root.appendingPathComponent("labels.csv"))
        let np = try NeuronpediaID("gpt2-small/8-res-jb")
        let got = labels.annotate([LatentActivation(latent: 7, activation: 2.5), LatentActivation(latent: 9, activation: 1)], neuronpedia: np)
        #expect(got.map(\.label) == ["quoted, with comma", nil])
        #expect(got.map(\.url) == ["https://www.neuronpedia.org/gpt2-small/8-res-jb/7", "https://www.neuronpedia.org/gpt2-small/8-res-jb/9"])
        #expect(labels.annotate([LatentActivation(latent: 0, activation: 1)], neuronpedia: nil).first?.url == nil)
    }

    @Test("Neuronpedia ids and URLs")
    func neuronpedia() throws {
        let id = try NeuronpediaID("gpt2-small/0-res-jb")
        #expect(id.modelID == "gpt2-small" && id.sourceID == "0-res-jb")
        #expect(id.featureURL(123) == "https://www.neuronpedia.org/gpt2-small/0-res-jb/123")
        #expect(try NeuronpediaID("gemma-2-2b/20-gemmascope-res-16k").featureURL(0) == "https://www.neuronpedia.org/gemma-2-2b/20-gemmascope-res-16k/0")
        #expect(id.quickListURL(name: "my list", indices: [1, 2]) ==
                "https://neuronpedia.org/quick-list/?name=my%20list&features=%5B%7B%22modelId%22%3A%22gpt2-small%22%2C%22layer%22%3A%220-res-jb%22%2C%22index%22%3A%221%22%7D%2C%7B%22modelId%22%3A%22gpt2-small%22%2C%22layer%22%3A%220-res-jb%22%2C%22index%22%3A%222%22%7D%5D")
        for bad in ["gpt2-small", "/0-res-jb", "gpt2-small/", "a b/c"] {
            #expect(throws: AnalysisError.badNeuronpediaID(bad)) { try NeuronpediaID(bad) }
        }
    }
}
