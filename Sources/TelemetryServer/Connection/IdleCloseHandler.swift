import NIOCore
import TelemetryWire

/// Closes a connection when `IdleStateHandler` reports it idle (no read or write for the
/// configured time), so abandoned connections do not hold a slot for ever.
final class IdleCloseHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension IdleCloseHandler: Sendable {}

