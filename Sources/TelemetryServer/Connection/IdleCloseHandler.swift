import NIOCore
import TelemetryWire

/// Closes a connection when `IdleStateHandler` reports it idle (nothing read or written for
/// the configured time) and it has no request in flight, so abandoned connections do not
/// hold a slot for ever while a long request (a compaction) keeps its connection.
final class IdleCloseHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame

    private let limiter: InFlightLimiter

    init(limiter: InFlightLimiter) {
        self.limiter = limiter
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if limiter.inUse == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension IdleCloseHandler: Sendable {}

