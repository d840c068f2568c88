import NIOCore
import Synchronization
import TelemetryWire

/// Frames answers onto a connection's socket. Answers are compressed (snappy) once the
/// peer has sent a compressed frame, and only when they are large enough to gain from it.
///
/// Each answer is written straight to the channel and `send` returns once the socket took it.
/// Through `NIOAsyncChannel`'s outbound writer, a frame could still sit in the writer's or
/// the channel's buffer when the connection's task ended, and `executeThenClose` closes the
/// channel at once, dropping it: a client that half-closed after pipelining large queries
/// lost the end of its last answer (PROTOCOL.md section 1 promises every answer). Waiting
/// for each write is also the backpressure: a query's next page is built once the previous
/// one is on its way.
final class ChannelResponseSink: ResponseSink {
    private let channel: any Channel
    private let allocator: ByteBufferAllocator
    private let peerCompresses = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)

    init(channel: any Channel) {
        self.channel = channel
        self.allocator = channel.allocator
    }

    func peerSentCompressedFrame() {
        peerCompresses.store(true, ordering: .relaxed)
    }

    func send(_ response: Telemetry_V1_ResponseEnvelope) async throws {
        let frame = try EnvelopeCodec.encode(
            response, compress: peerCompresses.load(ordering: .relaxed), allocator: allocator)
        do { try await channel.writeAndFlush(frame).get() } catch {
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
