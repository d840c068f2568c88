import MetricsTestKit
import Testing
@testable import TelemetryServer

@Suite("telemetry_requests_in_flight")
struct RequestsInFlightTests {
    @Test("connections add up in one meter, and what a connection still held when it ended is taken off")
    func connectionsShareOneMeter() throws {
        let metrics = TestMetrics()
        let server = ServerMetrics(factory: metrics)
        let meter = try metrics.expectMeter("telemetry_requests_in_flight")
        let a = RequestsInFlight(meter: server.requestsInFlight)
        let b = RequestsInFlight(meter: server.requestsInFlight)
        a.started()
        a.started()
        b.started()
        #expect(meter.lastValue == 3)
        a.finished()
        #expect(meter.lastValue == 2)
        // Connection a breaks with one batch still in its lane: the meter does not keep it.
        a.connectionEnded()
        #expect(meter.lastValue == 1)
        b.finished()
        b.connectionEnded()
        #expect(meter.lastValue == 0)
    }
}
