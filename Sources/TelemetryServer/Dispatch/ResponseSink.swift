import TelemetryCore
import TelemetryWire

/// Where a connection's answers go. The server's sink frames them onto the socket; tests
/// collect them. Answers to different requests may interleave; each carries its request id.
protocol ResponseSink: Sendable {
    /// Sends one response frame.
    /// - Throws: when the connection is gone (the answer cannot be delivered).
    func send(_ response: Telemetry_V1_ResponseEnvelope) async throws
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
