import CZlib
import Foundation

/// gzip (and zlib) decompression through the system zlib, for `.gz` datasets.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes 1f 8b.
    public static func isGzip(_ data: Data) -> Bool { data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B }

    /// Inflates a gzip stream (several concatenated members are allowed, as `gzip -d` accepts).
    public static func decompress(_ data: Data, source: String) throws -> Data {
        var output = Data()
        var stream = z_stream()
        // 15 + 32: zlib or gzip header detected automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError.unreadable(source, "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (input: UnsafeRawBufferPointer) in
            guard let base = input.baseAddress else { return }
            stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBytes { out in
                    stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                if status == Z_STREAM_END {
                    if stream.avail_in == 0 { break }
                    // Another gzip member follows.
                    guard inflateReset(&stream) == Z_OK else { throw DatasetError.unreadable(source, "corrupt gzip member") }
                    continue
                }
                guard status == Z_OK else {
                    throw DatasetError.unreadable(source, status == Z_BUF_ERROR ? "truncated gzip data" : "corrupt gzip data (zlib status \(status))")
                }
                if stream.avail_in == 0 && stream.avail_out != 0 { throw DatasetError.unreadable(source, "truncated gzip data") }
            }
        }
        return output
    }
}
