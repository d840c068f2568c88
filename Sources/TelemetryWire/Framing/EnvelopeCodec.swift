package import NIOCore
package import SwiftProtobuf

/// Frames <-> protobuf envelopes, the second step after `FrameDecoder` (STYLE.md 2.5).
package enum EnvelopeCodec {
    /// The nesting limit for answers: above the 100 a server decodes requests with, so that
    /// whatever a server accepted it can give back inside an answer.
    package static let answerDepthLimit = 128

    /// Payloads at least this large are compressed when the peer compresses.
    package static let compressionThreshold = 1024

    /// Decodes a frame's payload as `M`, decompressing it first when flagged.
    /// - Throws: `FrameError.reservedFlags` / `.badCompression` / `.decompressedTooLarge`,
    ///   or `EnvelopeDecodingError` when the bytes are not a valid `M`.
    /// - Parameter messageDepthLimit: protobuf's nesting limit. Requests keep the library's 100;
    ///   a client reads answers with `answerDepthLimit`, since an answer carries what a request
    ///   sent (a dead letter's raw value) a few messages deeper than the request did.
    package static func decode<M: Message>(
        _ frame: Frame, as type: M.Type = M.self, maxBytes: Int, allocator: ByteBufferAllocator, messageDepthLimit: Int = 100
    ) throws -> M {
        guard frame.flags & FrameFlags.reservedMask == 0 else { throw FrameError.reservedFlags(frame.flags) }
        var payload = frame.payload
        if frame.flags & FrameFlags.compressed != 0 {
            payload = try Snappy.uncompress(payload, limit: maxBytes, allocator: allocator)
        }
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = messageDepthLimit
            return try payload.withUnsafeReadableBytes { raw in try M(serializedBytes: raw.bytes, options: options) }
        } catch {
            throw EnvelopeDecodingError(message: "payload is not a valid \(M.protoMessageName) (\(error))")
        }
    }

    /// Serializes and frames `message`.
    /// - Parameter maxPayloadBytes: the peer's frame limit; a larger message (before
    ///   compression, since the peer checks the expanded size too) throws `PayloadTooLarge`.
    package static func encode(
        _ message: some Message, compress: Bool, allocator: ByteBufferAllocator, maxPayloadBytes: Int = .max
    ) throws -> ByteBuffer {
        let bytes: [UInt8] = try message.serializedBytes()
        guard bytes.count <= maxPayloadBytes else { throw PayloadTooLarge(size: bytes.count, limit: maxPayloadBytes) }
        let shouldCompress = compress && bytes.count >= compressionThreshold
        return FrameEncoder.encode(bytes: bytes, compress: shouldCompress, allocator: allocator)
    }
}

/// A message too large for the peer's frame limit.
package struct PayloadTooLarge: Error, Sendable, Hashable {
    package var size: Int
    package var limit: Int
}

/// A frame whose payload is not the expected protobuf message.
package struct EnvelopeDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}
