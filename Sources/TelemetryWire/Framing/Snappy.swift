internal import CSnappy
public import NIOCore

/// Snappy (raw format) through libsnappy's C binding.
public enum Snappy {
    /// Compresses `input`.
    public static func compress(_ input: ByteBuffer) -> [UInt8] {
        input.withUnsafeReadableBytes { raw in
            var length = snappy_max_compressed_length(raw.count)
            var out = [UInt8](repeating: 0, count: length)
            let status = out.withUnsafeMutableBufferPointer { o in
                o.withMemoryRebound(to: CChar.self) { oc in
                    raw.withMemoryRebound(to: CChar.self) { ic in
                        snappy_compress(ic.baseAddress, ic.count, oc.baseAddress, &length)
                    }
                }
            }
            // > snappy_compress: "returns SNAPPY_OK ... SNAPPY_BUFFER_TOO_SMALL if the buffer is too small";
            // the buffer is snappy_max_compressed_length, so anything else is a broken library.
            precondition(status == SNAPPY_OK, "snappy_compress failed with a max-size buffer")
            out.removeSubrange(length...)
            return out
        }
    }

    /// Decompresses `input`, refusing output larger than `limit` bytes.
    /// - Throws: `FrameError.badCompression` for data that is not snappy,
    ///   `FrameError.decompressedTooLarge` over the limit.
    public static func uncompress(_ input: ByteBuffer, limit: Int, allocator: ByteBufferAllocator) throws(FrameError) -> ByteBuffer {
        try input.withUnsafeReadableBytes { (raw) throws(FrameError) -> ByteBuffer in
            let ic = raw.bindMemory(to: CChar.self)
            var length = 0
            guard snappy_uncompressed_length(ic.baseAddress, ic.count, &length) == SNAPPY_OK else {
                throw FrameError.badCompression("no valid length header")
            }
            guard length <= limit else { throw FrameError.decompressedTooLarge(length: length, limit: limit) }
            var out = allocator.buffer(capacity: length)
            var status = SNAPPY_OK
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: max(length, 1)) { o in
                var written = length
                status = snappy_uncompress(ic.baseAddress, ic.count, o.baseAddress!.assumingMemoryBound(to: CChar.self), &written)
                return status == SNAPPY_OK ? written : 0
            }
            guard status == SNAPPY_OK, out.readableBytes == length else {
                throw FrameError.badCompression("damaged compressed data")
            }
            return out
        }
    }
}
