import NIOCore
import Synchronization
import TelemetryWire

/// Frames answers onto a connection's socket. Answers are compressed (snappy) once the
/// peer has sent a compressed frame, and only when they are large enough to gain from it.
final class ChannelResponseSink: ResponseSink {
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let allocator: ByteBufferAllocator
    private let peerCompresses = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)

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
        do { try await outbound.write(frame) } catch {
            markClosed()
            throw error
        }
    }

    /// Called when the channel closes (its close future) or a write fails.
    func markClosed() {
        closed.store(true, ordering: .relaxed)
    }

    var isOpen: Bool { !closed.load(ordering: .relaxed) }
}
