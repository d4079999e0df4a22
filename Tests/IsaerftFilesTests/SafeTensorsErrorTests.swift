import Foundation
import Testing
@testable import IsaerftFiles

/// Malformed files throw `FileFormatError`s whose one-line description names the file and the problem.
@Suite("safetensors reader: malformed files")
struct SafeTensorsErrorTests {
    private let name = URL(fileURLWithPath: "/tmp/bad.safetensors")

    private func open(_ data: Data) -> String {
        thrownDescription { _ = try SafeTensorsFile(data: data, url: name) }
    }

    @Test("files shorter than the length prefix or the header")
    func truncated() throws {
        #expect(open(Data([1, 2, 3])) == "/tmp/bad.safetensors: truncated: needs 8 bytes, file has 3")
        let full = rawSafeTensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8)
        let cut = full.prefix(30)
        #expect(open(cut) == "/tmp/bad.safetensors: truncated: needs \(full.count - 8) bytes, file has 30")
        // Data section cut short: the tensor now ends past it.
        let shortData = full.prefix(full.count - 4)
        #expect(open(shortData).contains("tensor a ends at data byte 8, past the data section of 4 bytes"))
        // A real file, truncated on disk.
        try withTemporaryFolder { folder in
            let url = folder.appendingPathComponent("cut.safetensors")
            let bytes = try Data(contentsOf: try safetensorsFixture("f32.safetensors"))
            try bytes.prefix(bytes.count - 1).write(to: url)
            let message = thrownDescription { _ = try SafeTensorsFile(url: url) }
            #expect(message.hasPrefix(url.path + ": ") && message.contains("past the data section"))
            try Data().write(to: url)
            #expect(thrownDescription { _ = try SafeTensorsFile(url: url) } == "\(url.path): truncated: needs 8 bytes, file has 0")
        }
    }

    @Test("corrupt header length field")
    func corruptLength() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let huge = open(rawSafeTensors(header: header, dataBytes: 4, lengthField: 0xFFFF_FFFF_FFFF_0000))
        #expect(huge.contains("bad header: header length 18446744073709486080 exceeds"))
        let tooLong = open(rawSafeTensors(header: header, dataBytes: 4, lengthField: 1000))
        #expect(tooLong.contains("truncated: needs 1008 bytes"))
        let tooShort = open(rawSafeTensors(header: header, dataBytes: 4, lengthField: 10))
        #expect(tooShort.contains("bad header: header is not valid JSON"))
    }

    @Test("header that is not UTF-8, not JSON, not an object, or badly shaped")
    func badHeaders() {
        var notUTF8 = rawSafeTensors(header: "{\"a\":1}", dataBytes: 0)
        notUTF8[10] = 0xFF
        #expect(open(notUTF8).contains("header is not valid UTF-8"))
        #expect(open(rawSafeTensors(header: " {}", dataBytes: 0)).contains("does not start with '{'"))
        #expect(open(rawSafeTensors(header: "{\"w\":[1]}", dataBytes: 0)).contains("tensor w: entry is not a JSON object"))
        #expect(open(rawSafeTensors(header: "{\"a\":", dataBytes: 0)).contains("not valid JSON"))
        #expect(open(rawSafeTensors(header: #"{"__metadata__":{"k":1}}"#, dataBytes: 0))
            .contains("__metadata__ must be a JSON object of strings"))
        #expect(open(rawSafeTensors(header: #"{"__metadata__":[]}"#, dataBytes: 0)).contains("__metadata__ must be a JSON object of strings"))
        #expect(open(rawSafeTensors(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4))
            .contains("tensor w: missing or non-string \"dtype\""))
        #expect(open(rawSafeTensors(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, dataBytes: 4))
            .contains("tensor w: \"shape\" must be an array of non-negative integers"))
        #expect(open(rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4))
            .contains("\"shape\" must be an array of non-negative integers"))
        #expect(open(rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, dataBytes: 4))
            .contains("\"shape\" must be an array of non-negative integers"))
        #expect(open(rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, dataBytes: 4))
            .contains("\"data_offsets\" must be two non-negative integers"))
        #expect(open(rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}"#, dataBytes: 4))
            .contains("\"data_offsets\" must be two non-negative integers"))
        #expect(open(rawSafeTensors(header: #"{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4))
            == "/tmp/bad.safetensors: tensor w has unknown dtype \"Q4\"")
    }

    @Test("data_offsets that do not match the shape")
    func offsetMismatch() {
        let message = open(rawSafeTensors(header: #"{"w":{"dtype":"F16","shape":[2,3],"data_offsets":[0,8]}}"#, dataBytes: 12))
        #expect(message == "/tmp/bad.safetensors: offset mismatch for tensor w: F16 [2, 3] needs 12 bytes, data_offsets [0, 8] hold 8")
        let reversed = open(rawSafeTensors(header: #"{"w":{"dtype":"U8","shape":[2],"data_offsets":[4,2]}}"#, dataBytes: 8))
        #expect(reversed.contains("offset mismatch for tensor w"))
        let overflow = open(rawSafeTensors(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,4]}}"#, dataBytes: 8))
        #expect(overflow.contains("offset mismatch for tensor w"))
    }

    @Test("overlapping byte ranges")
    func overlapping() {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        #expect(open(rawSafeTensors(header: header, dataBytes: 16)) == "/tmp/bad.safetensors: byte ranges of tensors a and b overlap")
        // Contained range after a later-starting one: still found.
        let nested = #"{"a":{"dtype":"U8","shape":[10],"data_offsets":[0,10]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"c":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}"#
        #expect(open(rawSafeTensors(header: nested, dataBytes: 10)).contains("tensors a and b overlap"))
        // Empty tensors share offsets with anything; touching ranges are fine; gaps are tolerated.
        let fine = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"e":{"dtype":"F32","shape":[0],"data_offsets":[1,1]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"c":{"dtype":"U8","shape":[1],"data_offsets":[6,7]}}"#
        let file = try? SafeTensorsFile(data: rawSafeTensors(header: fine, dataBytes: 8), url: name)
        #expect(file?.names == ["a", "b", "c", "e"])
        #expect((try? file?.int64s("b").values) == [2, 3])
    }

    @Test("F8 tensors open but do not convert; U64 above Int64.max is refused")
    func unsupportedConversions() throws {
        let header = #"{"f8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},"u":{"dtype":"U64","shape":[1],"data_offsets":[8,16]}}"#
        var data = rawSafeTensors(header: header, dataBytes: 16)
        for i in (data.count - 8)..<data.count { data[i] = 0xFF }
        let file = try SafeTensorsFile(data: data, url: name)
        #expect(thrownDescription { _ = try file.tensor("f8") }.contains("tensor f8 is F8_E4M3, which cannot be read as F32"))
        #expect(thrownDescription { _ = try file.int64s("u") }.contains("U64 element 0 is above Int64.max"))
        #expect(try file.tensor("u").scalars == [Float(UInt64.max)])
    }

    @Test("a missing file names its path")
    func missingFile() {
        let message = thrownDescription { _ = try SafeTensorsFile(url: URL(fileURLWithPath: "/nonexistent/x.safetensors")) }
        #expect(message.hasPrefix("/nonexistent/x.safetensors: cannot read"))
    }
}
