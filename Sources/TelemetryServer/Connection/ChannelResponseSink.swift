import NIOCore
import Synchronization
import TelemetryWire

/// Frames answers onto a connection's socket. Answers are compressed (snappy) once the
/// peer has sent a compressed frame, and only when they are large enough to gain from it.
final class ChannelResponseSink: ResponseSink {
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let allocator: ByteBufferAllocator
    private let peerCompresses = Atomic<Bool>(false)

    init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, allocator: ByteBufferAllocator) {
        self.outbound = outbound
        self.allocator = allocator
    }

    func peerSentCompressedFrame() {
        peerCompresses.store(true, ordering: .relaxed)
    }

    func send(_ response: Telemetry_V1_ResponseEnvelope) async throws {
        let frame = try EnvelopeCodec.encode(
            response, compress: peerCompresses.load(ordering: .relaxed), allocator: allocator)
        try await outbound.write(frame)
    }
}
