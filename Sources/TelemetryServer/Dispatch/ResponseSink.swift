import TelemetryCore
import TelemetryWire

/// Where a connection's answers go. The server's sink frames them onto the socket; tests
/// collect them. Answers to different requests may interleave; each carries its request id.
protocol ResponseSink: Sendable {
    /// Sends one response frame.
    /// - Throws: when the connection is gone (the answer cannot be delivered).
    func send(_ response: Telemetry_V1_ResponseEnvelope) async throws

    /// False once the connection is known to be gone: queued queries are then not run.
    var isOpen: Bool { get }
}

extension ResponseSink {
    var isOpen: Bool { true }
}

/// A query skipped because its connection closed while it waited for a thread: nobody is
/// left to read the answer. Thrown out of `serveQuery`, logged at debug level.
struct ConnectionClosedError: Error, CustomStringConvertible {
    var description: String { "the connection closed before the query ran" }
}

extension Telemetry_V1_ResponseEnvelope {
    /// An answer with a status and no body.
    static func status(_ requestID: UInt64, _ code: StatusCode, _ message: String) -> Self {
        var r = Self()
        r.requestID = requestID
        r.status = Telemetry_V1_Status(code, message)
        return r
    }

    /// A successful answer; `fill` sets the body.
    static func ok(_ requestID: UInt64, more: Bool = false, _ fill: (inout Self) -> Void) -> Self {
        var r = Self()
        r.requestID = requestID
        r.status = Telemetry_V1_Status(.ok, "")
        r.more = more
        fill(&r)
        return r
    }
}
