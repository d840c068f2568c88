import Foundation
import Prometheus
import ServiceLifecycleTestKit
import Testing
import TelemetryClient
import TelemetryCore
import TelemetryServer
import TelemetryStorage
import TelemetryWire

@Suite("Monitoring endpoint")
struct MonitoringTests {
    /// Parses the Prometheus text format into "name{labels}" -> value.
    func parse(_ text: String) -> [String: Double] {
        var out = [String: Double]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = value
        }
        return out
    }

    @Test("queries of a client that pipelined them and left are skipped, not computed for nobody")
    func queriesOfAClosedConnectionAreSkipped() async throws {
        try await withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/store")
            defer { store.close() }
            // Enough vehicles that listing them takes a while.
            try store.write(RawConnection.vehicles(20_000))
            let registry = PrometheusCollectorRegistry()
            let metrics = ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))
            try await serve(store: store, path: dir + "/store", metrics: metrics) { server in
                var busiest = 0.0
                try await RawConnection.with(port: server.port) { raw in
                    _ = try await raw.hello()
                    try await raw.sendListVehicles(1...32)
                    // Each listing of 20,000 vehicles takes milliseconds: while they are served,
                    // the in-flight meter counts them.
                    let until = ContinuousClock.now + .seconds(30)
                    while busiest == 0, ContinuousClock.now < until {
                        busiest = max(busiest, parse(registry.emitToString())["telemetry_requests_in_flight"] ?? 0)
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }  // closed without reading an answer
                #expect(busiest > 0 && busiest <= 32, "in flight at most: \(busiest)")
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(60)
                var values = parse(registry.emitToString())
                while (values["telemetry_request_seconds_count{kind=\"list_vehicles\"}"] ?? 0) < 32, clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    values = parse(registry.emitToString())
                }
                #expect(values["telemetry_request_seconds_count{kind=\"list_vehicles\"}"] == 32)
                // Every request of the closed connection has left the in-flight meter.
                while (values["telemetry_requests_in_flight"] ?? -1) != 0, clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    values = parse(registry.emitToString())
                }
                #expect(values["telemetry_requests_in_flight"] == 0)
                let skipped = values["telemetry_queries_skipped_total"] ?? 0
                #expect(skipped >= 16, "\(skipped) of 32 skipped")
                try await withTelemetryClient(server.clientConfiguration()) { client in _ = try await client.ping() }
            }
        }
    }

    @Test("the monitoring endpoint stops when its task is cancelled (a service group stopping after another service failed)")
    func endpointStopsOnCancellation() async throws {
        let http = try await ObservabilityServer.bind(
            host: "127.0.0.1", port: 0, logger: quietLogger, health: { HealthReport(state: .ready) }, metrics: { "" })
        let port = http.localPort
        let running = Task { try await http.run() }
        #expect(try await httpGet(port: port, "/ready").0 == 200)
        running.cancel()
        // Before, run() waited for a graceful shutdown that never came: the process hung while
        // /ready still answered 200 for a server whose listener was gone. Polled, not awaited,
        // so that the old behaviour fails the test instead of hanging it.
        let until = ContinuousClock.now + .seconds(60)
        var closed = false
        while !closed, ContinuousClock.now < until {
            closed = (try? await httpGet(port: port, "/ready")) == nil
            if !closed { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(closed, "the endpoint closed after cancellation")
        if closed { _ = try? await running.value }
    }

    @Test("/metrics counts what was served; /health and /ready follow the store")
    func scrape() async throws {
        try await withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/store")
            defer { store.close() }
            let registry = PrometheusCollectorRegistry()
            let metrics = ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))
            let http = try await ObservabilityServer.bind(
                host: "127.0.0.1", port: 0, logger: quietLogger,
                health: {
                    if case .degraded(let reason) = store.health { return HealthReport(state: .degraded, reason: reason) }
                    return HealthReport(state: .ready)
                },
                metrics: { registry.emitToString() })
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await http.run() }
                    try await serve(store: store, path: dir + "/store", metrics: metrics) { server in
                        try await withTelemetryClient(server.clientConfiguration()) { client in
                            _ = try await client.ingest([record("m", 1, [Field("a", .int(1))]), record("m", 2, [Field("a", .int(2))])])
                            _ = try await client.ingest([record("m", 1, [Field("a", .int(1))])])
                            await #expect(throws: StatusError.self) { try await client.latest([]) }
                        }
                    }
                    let (status, body) = try await httpGet(port: http.localPort, "/metrics")
                    #expect(status == 200)
                    let values = parse(body)
                    #expect(values["telemetry_ingest_records_total{outcome=\"stored\"}"] == 2)
                    #expect(values["telemetry_ingest_records_total{outcome=\"duplicate\"}"] == 1)
                    #expect(values["telemetry_requests_total{kind=\"ingest\",code=\"0\"}"] == 2)
                    #expect(values["telemetry_requests_total{kind=\"latest\",code=\"3\"}"] == 1)
                    #expect(values["telemetry_connections_opened_total"] == 1)
                    #expect((values["telemetry_ingest_bytes_total"] ?? 0) > 0)
                    #expect(values["telemetry_request_seconds_count{kind=\"ingest\"}"] == 2)
                    #expect(values["telemetry_request_seconds_count{kind=\"latest\"}"] == 1)
                    #expect(values["telemetry_requests_in_flight"] == 0, "every request answered")
                    #expect(!body.contains("vehicle=\""), "no vehicle ids as labels")

                    let (healthStatus, health) = try await httpGet(port: http.localPort, "/health")
                    #expect(healthStatus == 200 && health.contains("\"status\":\"ready\""))
                    #expect(try await httpGet(port: http.localPort, "/ready").0 == 200)
                    #expect(try await httpGet(port: http.localPort, "/nope").0 == 404)
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
        }
    }
}
