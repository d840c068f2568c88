import NIOCore
import Synchronization

/// The server's open connections: enforces the connection limit and, at shutdown, stops
/// every connection from reading new requests while its answers in flight are written.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var draining = false
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Adds a connection; false when the server is at its limit (the caller refuses it).
    func register(_ channel: any Channel) -> Bool {
        let (accepted, draining) = state.withLock { s -> (Bool, Bool) in
            guard s.channels.count < limit else { return (false, s.draining) }
            s.channels[ObjectIdentifier(channel)] = channel
            return (true, s.draining)
        }
        // Accepted as shutdown began: it gets no new requests either.
        if accepted && draining { Self.stopReading(channel) }
        return accepted
    }

    func unregister(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var isDraining: Bool { state.withLock { $0.draining } }

    var count: Int { state.withLock { $0.channels.count } }

    /// Shutdown: every connection stops reading; each closes once its answers are written.
    func startDraining() {
        let channels = state.withLock { s -> [any Channel] in
            s.draining = true
            return Array(s.channels.values)
        }
        for channel in channels { Self.stopReading(channel) }
    }

    private static func stopReading(_ channel: any Channel) {
        // Closing the input side ends the connection's request stream; the output side
        // stays open for the answers. A channel that cannot half-close is closed whole.
        channel.close(mode: .input).whenFailure { _ in channel.close(promise: nil) }
    }
}
