public import NIOCore

/// Splits a byte stream into frames, checking the announced length against the limit at
/// the header, before any of the payload is buffered (an oversized frame never costs
/// memory). Usable in a pipeline (`ByteToMessageHandler(NIOSingleStepByteToMessageProcessor)`)
/// or standalone.
///
/// Reserved flag bits are not checked here: a frame with them is still well delimited, so
/// the connection can answer it and carry on (see `FrameError.reservedFlags`).
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    /// The largest payload accepted, in bytes.
    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int) {
        precondition(maxFrameBytes > 0, "maxFrameBytes must be positive")
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        let start = buffer.readerIndex
        guard let flags = buffer.readInteger(as: UInt8.self), let length = buffer.readInteger(as: UInt32.self) else {
            buffer.moveReaderIndex(to: start)
            return nil
        }
        guard UInt64(length) <= UInt64(maxFrameBytes) else {
            throw FrameError.frameTooLarge(length: length, limit: maxFrameBytes)
        }
        guard let payload = buffer.readSlice(length: Int(length)) else {
            // Wait for the whole payload; the header is read again next time.
            buffer.moveReaderIndex(to: start)
            return nil
        }
        return Frame(flags: flags, payload: payload)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        try decode(buffer: &buffer)
    }
}

/// Writes frames: header and payload in one buffer, so a frame goes out in one write.
public enum FrameEncoder {
    /// Frames `payload`, compressing it with snappy when `compress` is set.
    public static func encode(payload: ByteBuffer, compress: Bool = false, allocator: ByteBufferAllocator) -> ByteBuffer {
        if compress {
            let compressed = Snappy.compress(payload)
            var out = allocator.buffer(capacity: Frame.headerLength + compressed.count)
            out.writeInteger(FrameFlags.compressed)
            out.writeInteger(UInt32(compressed.count))
            out.writeBytes(compressed)
            return out
        }
        var payload = payload
        var out = allocator.buffer(capacity: Frame.headerLength + payload.readableBytes)
        out.writeInteger(UInt8(0))
        out.writeInteger(UInt32(payload.readableBytes))
        out.writeBuffer(&payload)
        return out
    }

    /// Frames raw payload bytes.
    public static func encode(bytes: [UInt8], compress: Bool = false, allocator: ByteBufferAllocator) -> ByteBuffer {
        encode(payload: allocator.buffer(bytes: bytes), compress: compress, allocator: allocator)
    }
}

/// A channel handler that frames outbound payloads (uncompressed).
public final class FrameEncoderHandler: ChannelOutboundHandler {
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let payload = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(FrameEncoder.encode(payload: payload, allocator: context.channel.allocator)), promise: promise)
    }
}

@available(*, unavailable)
extension FrameEncoderHandler: Sendable {}
