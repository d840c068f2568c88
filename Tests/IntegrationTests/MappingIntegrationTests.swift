import Foundation
import Logging
import Prometheus
import SwiftProtobuf
import Testing
import TelemetryClient
import TelemetryCore
import TelemetryServer
import TelemetryStorage
import TelemetryWire

/// Mapping over the wire: ingest maps, dead letters are reported and replayed, mappings
/// load while ingest goes on, history is re-mapped.
@Suite("Mapping over the wire")
struct MappingIntegrationTests {
    static let acme100 = """
        version: "1.0.0"
        provider: acme
        mappings:
          speed:
            type: direct
            sources: [{field: x, path: x, unit: km/h}]
            unit: km/h
            data_type: number
        """
    static let acme110 = """
        version: "1.1.0"
        provider: acme
        mappings:
          speed:
            type: direct
            sources: [{field: x, path: x, unit: m/s}]
            unit: km/h
            data_type: number
        """

    /// A server with the Fleeti pipeline over a fresh store and mapping folder.
    func withMappedServer(metrics: ServerMetrics = ServerMetrics(), _ body: (TestServer, MappingService) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let store = try TelemetryStore(path: dir + "/store")
            defer { store.close() }
            let service = try MappingService(configuration: .init(folder: dir + "/mappings", assetsFile: dir + "/assets.yaml"), logger: quietLogger)
            try await serve(store: store, path: dir + "/store", metrics: metrics, mappings: service) { server in try await body(server, service) }
        }
    }

    static func acme(_ vehicle: String, _ t: Int64, x: Double) throws -> ProviderRecord {
        ProviderRecord(vehicle: try VehicleID(vehicle), timestamp: t, provider: "acme", fields: [Field("x", .double(x))])
    }

    static let t0: Int64 = 1_763_000_000_000

    @Test("an unknown provider's records are dead-lettered and named in the ack; after a mapping load, replay stores them")
    func deadLetterThenReplay() async throws {
        let registry = PrometheusCollectorRegistry()
        let replayed = { (outcome: String) in
            MonitoringTests().parse(registry.emitToString())["telemetry_dead_letters_replayed_total{outcome=\"\(outcome)\"}"]
        }
        try await withMappedServer(metrics: ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))) { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let navixy = ProviderRecord(
                    vehicle: try VehicleID("car-1"), timestamp: Self.t0, provider: "navixy",
                    fields: [Field("lat", .double(48.8)), Field("lng", .double(2.3)), Field("speed", .double(50))])
                let ack = try await client.ingest([navixy, try Self.acme("car-2", Self.t0, x: 10), try Self.acme("car-2", Self.t0 + 1000, x: 20)])
                #expect(ack.accepted == 1)
                #expect(ack.deadLettered == 2)
                #expect(ack.deadLetters.map(\.index) == [1, 2])
                #expect(ack.deadLetters.first?.code == .failedPrecondition)
                #expect(ack.deadLetters.first?.reason.contains("unknown_provider") == true)
                #expect(ack.rejected.isEmpty)

                // The gateway lost the answer and re-sends the batch: same answer, no second letter.
                let again = try await client.ingest([navixy, try Self.acme("car-2", Self.t0, x: 10), try Self.acme("car-2", Self.t0 + 1000, x: 20)])
                #expect(again.duplicates == 1)
                #expect(again.deadLettered == 2)
                #expect(again.deadLetters.map(\.index) == [1, 2])

                let page = try await client.deadLetters(DeadLetterSelection(provider: "acme"))
                #expect(page.entries.count == 2)
                #expect(page.entries.map(\.reason) == ["unknown_provider", "unknown_provider"])
                #expect(page.entries.first?.fields == [Field("x", .double(10))])
                let shown = try await client.deadLetter(id: page.entries[0].id)
                #expect(shown == page.entries[0])

                // Still failing: replay keeps them.
                let early = try await client.replayDeadLetters()
                #expect(early.replayed == 0)
                #expect(early.stillFailing == 2)
                #expect(early.failingByReason == ["unknown_provider": 2])
                #expect(replayed("still_failing") == 2 && replayed("stored") == 0)

                let loaded = try await client.loadMappings([("acme.yaml", Self.acme100)])
                #expect(loaded.loaded.map(\.version) == ["1.0.0"])
                let dry = try await client.replayDeadLetters(dryRun: true)
                #expect(dry.replayed == 2)
                #expect(try await client.deadLetters().entries.count == 2, "a dry run removes nothing")
                #expect(replayed("stored") == 0, "a dry run counts nothing")

                let replay = try await client.replayDeadLetters()
                #expect(replay.replayed == 2)
                #expect(replay.stillFailing == 0)
                #expect(replayed("stored") == 2 && replayed("still_failing") == 2)
                #expect(try await client.deadLetters().entries.isEmpty)
                let records = try await client.range(RangeQuery(vehicle: try VehicleID("car-2"), from: 0, to: .max)).records
                #expect(records.map { $0.fields } == [[Field("speed", .double(10))], [Field("speed", .double(20))]])
                #expect(records.allSatisfy { $0.provenance.mappingVersion == "1.0.0" })
                #expect(records.map(\.provenance.receivedAt) == page.entries.map(\.receivedAt), "a replayed record keeps its received time")
            }
        }
    }

    @Test("a dead letter nested as deep as ingest accepts is listed: answers are read with a higher nesting limit")
    func deeplyNestedDeadLetter() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                func nested(_ depth: Int) -> FieldValue { depth == 0 ? .int(7) : .array([nested(depth - 1)]) }
                // 47 arrays: the deepest value the server's decoder reads in an ingest request.
                let deepest = ProviderRecord(vehicle: try VehicleID("deep"), timestamp: Self.t0, provider: "nope", fields: [Field("x", nested(47))])
                #expect(try await client.ingest([deepest]).deadLettered == 1)
                let page = try await client.deadLetters(limit: 10)
                #expect(page.entries.first?.fields.first?.value == nested(47))
                // One more is refused by the client itself, at once and naming the field: the
                // server could only answer it with request id 0.
                let tooDeep = ProviderRecord(vehicle: try VehicleID("deep"), timestamp: Self.t0, provider: "nope", fields: [Field("x", nested(48))])
                let refused = await #expect(throws: StatusError.self) { try await client.ingest([tooDeep]) }
                #expect(refused?.code == .invalidArgument && refused?.message.contains("field x: a value nested 48 arrays deep") == true)
            }
        }
    }

    @Test("a record without a vehicle id is kept as a dead letter, not lost")
    func incompleteRecordIsDeadLettered() async throws {
        try await withMappedServer { server, _ in
            try await RawConnection.with(port: server.port) { connection in
                var hello = Telemetry_V1_RequestEnvelope()
                hello.requestID = 1
                hello.hello = .with { $0.protocolVersion = 1 }
                try await connection.send(hello)
                _ = try await connection.receive()
                var ingest = Telemetry_V1_RequestEnvelope()
                ingest.requestID = 2
                ingest.ingest = .with {
                    $0.records = [
                        .with { r in
                            r.vehicleID = ""
                            r.timestampMs = Self.t0
                            r.provider = "navixy"
                            r.fields = [.with { $0.name = "lat"; $0.value = .with { $0.doubleValue = 1 } }]
                        }
                    ]
                }
                try await connection.send(ingest)
                let answer = try #require(try await connection.receive())
                #expect(answer.status.code == 0)
                #expect(answer.ingest.deadLettered == 1)
                #expect(answer.ingest.deadLetters.first?.reason.contains("missing_vehicle_or_timestamp") == true)
                // With a gateway_sequence but no gateway_id in the hello, the sequence rule comes
                // first: rejected, not kept.
                ingest.requestID = 3
                ingest.ingest.records[0].gatewaySequence = 9
                try await connection.send(ingest)
                let refused = try #require(try await connection.receive())
                #expect(refused.ingest.deadLettered == 0)
                #expect(refused.ingest.rejected.map(\.reason) == ["records[0]: gateway_sequence is set but the hello gave no gateway_id"])
                // An explicit 0 is "no sequence" (as in the columnar form): nothing to refuse.
                ingest.requestID = 4
                ingest.ingest.records[0].gatewaySequence = 0
                try await connection.send(ingest)
                let zero = try #require(try await connection.receive())
                #expect(zero.ingest.rejected.isEmpty && zero.ingest.deadLettered == 1)
            }
            let letters = try server.store.deadLetters()
            #expect(letters.map(\.letter.reason) == ["missing_vehicle_or_timestamp"])
            #expect(letters.first?.letter.fields == [Field("lat", .double(1))])
        }
    }

    @Test("loading a new version while ingest goes on: every record is stored once, under one of the two versions")
    func reloadDuringIngest() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { admin in
                _ = try await admin.loadMappings([("acme.yaml", Self.acme100)])
                let batches = 40
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await withTelemetryClient(server.clientConfiguration()) { client in
                            for b in 0..<batches {
                                let records = try (0..<100).map { i in try Self.acme("car-\(i % 10)", Self.t0 + Int64(b * 100 + i) * 1000, x: 1) }
                                let ack = try await client.ingest(records)
                                #expect(ack.accepted == 100)
                                #expect(ack.deadLettered == 0)
                            }
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(30))
                        let r = try await admin.loadMappings([("acme-1.1.0.yaml", Self.acme110)])
                        #expect(r.loaded.first?.active == true)
                    }
                    try await group.waitForAll()
                }
                var total = 0
                var versions = Set<String>()
                for v in 0..<10 {
                    let records = try await admin.range(RangeQuery(vehicle: try VehicleID("car-\(v)"), from: 0, to: .max)).records
                    total += records.count
                    for r in records {
                        versions.insert(r.provenance.mappingVersion)
                        let speed = r.fields.first { $0.name == "speed" }?.value
                        // Each record is mapped by exactly one version: 1 km/h, or 1 m/s = 3.6 km/h.
                        #expect(speed == (r.provenance.mappingVersion == "1.0.0" ? .double(1) : .double(3.6)))
                    }
                }
                #expect(total == batches * 100)
                #expect(versions.isSubset(of: ["1.0.0", "1.1.0"]))
                let list = try await admin.mappings().filter { $0.provider == "acme" }
                #expect(list.map { "\($0.version) \($0.active)" } == ["1.0.0 false", "1.1.0 true"])
            }
        }
    }

    @Test("remap recomputes history from raw records with a chosen version, and a dry run changes nothing")
    func remap() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.loadMappings([("acme.yaml", Self.acme100)])
                let vehicle = try VehicleID("car-1")
                _ = try await client.ingest(try (0..<5).map { try Self.acme("car-1", Self.t0 + Int64($0) * 1000, x: Double($0)) })
                _ = try await client.loadMappings([("acme-1.1.0.yaml", Self.acme110)])

                let dry = try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 3000, dryRun: true)
                #expect(dry.rawRecords == 3)
                #expect(dry.changed == 3)
                #expect(dry.changes.first?.mappingVersionBefore == "1.0.0")
                #expect(dry.changes.first?.mappingVersionAfter == "1.1.0")
                #expect(dry.changes.last?.changes == [FieldChange(field: "speed", before: .double(2), after: .double(7.2))])
                var stored = try await client.range(RangeQuery(vehicle: vehicle, from: 0, to: .max)).records
                #expect(stored.allSatisfy { $0.provenance.mappingVersion == "1.0.0" }, "a dry run writes nothing")

                let done = try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 3000)
                #expect(done.changed == 3)
                stored = try await client.range(RangeQuery(vehicle: vehicle, from: 0, to: .max)).records
                #expect(stored.map(\.provenance.mappingVersion) == ["1.1.0", "1.1.0", "1.1.0", "1.0.0", "1.0.0"])
                #expect(stored[2].fields == [Field("speed", .double(7.2))])

                // Back to 1.0.0, explicitly.
                let back = try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 5000, mappingVersion: "acme@1.0.0")
                #expect(back.changed == 3)
                #expect(back.unchanged == 2)
                let missing = await #expect(throws: StatusError.self) {
                    try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 5000, mappingVersion: "acme@9.9.9")
                }
                #expect(missing?.code == .notFound)
                // A version no provider has is named up front, not refused record by record.
                let nowhere = await #expect(throws: StatusError.self) {
                    try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 5000, mappingVersion: "9.9.9")
                }
                #expect(nowhere?.code == .notFound)
                #expect(nowhere?.message.contains("9.9.9") == true)
                // Another provider's version: acme has no 2.5.0, so every record is refused, reported, and left as stored.
                _ = try await client.loadMappings([("other.yaml", Self.acme100.replacingOccurrences(of: "provider: acme", with: "provider: other")
                    .replacingOccurrences(of: "1.0.0", with: "2.5.0"))])
                let refused = try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 5000, mappingVersion: "2.5.0")
                #expect(refused.failed == 5)
                #expect(refused.changed == 0)
                #expect(refused.failures.first?.contains("no_active_mapping") == true)
                // Naming that provider is a mistake: none of car-1's records is from it, and nothing is written.
                let wrongProvider = await #expect(throws: StatusError.self) {
                    try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 5000, mappingVersion: "other@2.5.0")
                }
                #expect(wrongProvider?.code == .failedPrecondition)
                #expect(wrongProvider?.message.contains("provider other") == true)
                let after = try await client.range(RangeQuery(vehicle: vehicle, from: 0, to: .max)).records
                #expect(after.count == 5)
                #expect(after.map(\.provenance.mappingVersion) == ["1.0.0", "1.0.0", "1.0.0", "1.0.0", "1.0.0"])
                // A vehicle that changed device: only the named provider's records are remapped.
                _ = try await client.ingest((5..<7).map {
                    ProviderRecord(vehicle: vehicle, timestamp: Self.t0 + Int64($0) * 1000, provider: "other", fields: [Field("x", .double(1))])
                })
                let mixed = try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + 7000, mappingVersion: "acme@1.1.0")
                #expect(mixed.rawRecords == 7)
                #expect(mixed.otherProvider == 2)
                #expect(mixed.changed == 5)
                let versions = try await client.range(RangeQuery(vehicle: vehicle, from: 0, to: .max)).records.map(\.provenance.mappingVersion)
                #expect(versions == ["1.1.0", "1.1.0", "1.1.0", "1.1.0", "1.1.0", "2.5.0", "2.5.0"])
                #expect(try await client.deadLetters().entries.isEmpty, "a remap does not dead-letter")
            }
        }
    }

    static let acmeIgnition = """
        version: "2.0.0"
        provider: acme
        mappings:
          last_updated_at:
            type: direct
            sources: [{field: msg_time, path: msg_time, unit: none}]
            data_type: datetime
          ignition_value:
            type: direct
            sources: [{field: ign, path: ign, unit: none}]
            data_type: boolean
          ignition_last_changed_at:
            type: calculated
            calculation_type: function_reference
            function: derive_ignition_last_changed_at
            parameters: {fleeti: [ignition_value, last_updated_at]}
            data_type: datetime
        """

    @Test("remap warms the stateful rules up on the records before the range: the mapping that stored them changes nothing")
    func remapWarmsUpState() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.loadMappings([("acme.yaml", Self.acmeIgnition)])
                let vehicle = try VehicleID("car-w")
                // Ignition off for 3 s, then on: every record from t0+3 s says it changed at t0+3 s.
                let records = (0..<10).map { i in
                    ProviderRecord(
                        vehicle: vehicle, timestamp: Self.t0 + Int64(i) * 1000, provider: "acme", fields: [Field("ign", .bool(i >= 3))])
                }
                #expect(try await client.ingest(records).accepted == 10)
                let stored = try await client.range(RangeQuery(vehicle: vehicle, from: Self.t0 + 5000, to: .max)).records
                #expect(stored.allSatisfy { $0.fields.contains(Field("ignition_last_changed_at", .int(Self.t0 + 3000))) })

                // The default warm-up (24 h) replays the 5 records before the range into the state.
                let warm = try await client.remap(vehicle: vehicle, from: Self.t0 + 5000, to: Self.t0 + 10_000, dryRun: true)
                #expect(warm.warmupRecords == 5)
                #expect(warm.rawRecords == 5)
                #expect(warm.unchanged == 5)
                #expect(warm.changed == 0)

                // Without a warm-up the range starts empty: its first record looks like the change.
                let cold = try await client.remap(vehicle: vehicle, from: Self.t0 + 5000, to: Self.t0 + 10_000, dryRun: true, warmupMs: 0)
                #expect(cold.warmupRecords == 0)
                #expect(cold.changed == 5)
                #expect(
                    cold.changes.first?.changes
                        == [FieldChange(field: "ignition_last_changed_at", before: .int(Self.t0 + 3000), after: .int(Self.t0 + 5000))])

                // A warm-up shorter than the history sees only its own window (1 s: the record at t0+4 s).
                let short = try await client.remap(vehicle: vehicle, from: Self.t0 + 5000, to: Self.t0 + 10_000, dryRun: true, warmupMs: 1000)
                #expect(short.warmupRecords == 1)
                #expect(short.changed == 5)
                // The whole history, and a negative warm-up refused.
                let all = try await client.remap(vehicle: vehicle, from: Self.t0 + 5000, to: Self.t0 + 10_000, dryRun: true, warmupMs: .max)
                #expect(all.warmupRecords == 5)
                #expect(all.unchanged == 5)
                let error = await #expect(throws: StatusError.self) {
                    try await client.remap(vehicle: vehicle, from: Self.t0 + 5000, to: Self.t0 + 10_000, dryRun: true, warmupMs: -1)
                }
                #expect(error?.code == .invalidArgument)
                #expect(error?.message.contains("warmup_ms") == true)
                // A dry run wrote nothing, and the live state goes on from where ingest left it.
                let again = try await client.range(RangeQuery(vehicle: vehicle, from: Self.t0 + 5000, to: .max)).records
                #expect(again == stored)
            }
        }
    }

    @Test("dead letters are purged by id, by filter, or all; purge without a selection is refused")
    func purge() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let records = try (0..<6).map { i in
                    ProviderRecord(vehicle: try VehicleID("car-\(i % 2)"), timestamp: Self.t0 + Int64(i), provider: i < 4 ? "acme" : "other", fields: [Field("x", .int(1))])
                }
                #expect(try await client.ingest(records).deadLettered == 6)
                let error = await #expect(throws: StatusError.self) { try await client.purgeDeadLetters() }
                #expect(error?.code == .invalidArgument)
                let first = try await client.deadLetters(limit: 1)
                #expect(first.next != nil)
                #expect(try await client.purgeDeadLetters(ids: [first.entries[0].id]) == 1)
                #expect(try await client.purgeDeadLetters(DeadLetterSelection(provider: "other")) == 2)
                #expect(try await client.deadLetters().entries.count == 3)
                #expect(try await client.purgeDeadLetters(all: true) == 3)
                #expect(try await client.deadLetters().entries.isEmpty)
            }
        }
    }

    @Test("mapping admin requests on an identity server answer FAILED_PRECONDITION")
    func identityServerRefusesMappingAdmin() async throws {
        try await withServer { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let error = await #expect(throws: StatusError.self) { try await client.mappings() }
                #expect(error?.code == .failedPrecondition)
                #expect(error?.message.contains("identity") == true)
            }
        }
    }

    @Test("dry-run maps records with a candidate file and stores nothing")
    func dryRun() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let records = [try Self.acme("car-1", Self.t0, x: 10)]
                let active = try await client.dryRunMapping(records)
                #expect(active.first?.reason == "unknown_provider")
                let tried = try await client.dryRunMapping(records, files: [("acme.yaml", Self.acme110)])
                #expect(tried.first?.record?.fields == [Field("speed", .double(36))])
                #expect(try await client.vehicles().isEmpty)
                #expect(try await client.deadLetters().entries.isEmpty)
                #expect(try await client.mappings().contains { $0.provider == "acme" } == false)
            }
        }
    }

    @Test("stats names the active mapping versions")
    func statsNamesActiveMappings() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.loadMappings([("acme.yaml", Self.acme100)])
                let active = try await client.stats().activeMappings.map(\.name)
                #expect(active.contains("acme@1.0.0"))
                #expect(active.contains("navixy@1.0.6-telemetrystore.2"))
            }
        }
    }

    @Test("remap goes through a long range page by page: every raw record is counted and rewritten once")
    func remapPages() async throws {
        try await withMappedServer { server, _ in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.loadMappings([("acme.yaml", Self.acme100)])
                let vehicle = try VehicleID("car-long")
                let count = 11_000  // more than two pages of remap
                _ = try await client.ingest(try (0..<count).map { try Self.acme("car-long", Self.t0 + Int64($0) * 1000, x: 1) })
                _ = try await client.loadMappings([("acme-1.1.0.yaml", Self.acme110)])
                let done = try await client.remap(vehicle: vehicle, from: Self.t0, to: Self.t0 + Int64(count) * 1000)
                #expect(done.rawRecords == UInt64(count))
                #expect(done.changed == UInt64(count))
                #expect(done.changes.count == 20)
                let stored = try await client.range(RangeQuery(vehicle: vehicle, from: 0, to: .max)).records
                #expect(stored.count == count)
                #expect(stored.allSatisfy { $0.provenance.mappingVersion == "1.1.0" && $0.fields == [Field("speed", .double(3.6))] })
            }
        }
    }
}
