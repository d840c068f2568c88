import Foundation
import Glibc
import ServiceLifecycleTestKit
import UnixSignals
import Logging
import MetricsTestKit
import Synchronization
import Testing
import TelemetryCore
import TelemetryMapping
@testable import TelemetryServer
import TelemetryStorage

/// The mapping pipeline between the wire and the store, without a network: what a batch
/// becomes, what survives a restart, and what an invalid file cannot change.
@Suite("Mapping while ingesting")
struct MappingServiceTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A temporary folder with `store/`, `mappings/` and `assets.yaml` paths in it.
    struct Folder {
        let path: String
        var store: String { path + "/store" }
        var mappings: String { path + "/mappings" }
        var assets: String { path + "/assets.yaml" }

        func service(clock: @escaping @Sendable () -> Int64 = { 1_800_000_000_000 }) throws -> MappingService {
            try MappingService(configuration: .init(folder: mappings, assetsFile: assets), logger: MappingServiceTests.logger, clock: clock)
        }
    }

    func withFolder(_ body: (Folder) throws -> Void) throws {
        let folder = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder.path) }
        try body(folder)
    }

    func withFolder(_ body: (Folder) async throws -> Void) async throws {
        let folder = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder.path) }
        try await body(folder)
    }

    static func makeFolder() throws -> Folder {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-mapping-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/mappings", withIntermediateDirectories: true)
        return Folder(path: path)
    }

    static func navixy(_ vehicle: String, at t: Int64, ignition: Int64, speed: Double = 30) throws -> ProviderRecord {
        ProviderRecord(
            vehicle: try VehicleID(vehicle), timestamp: t, provider: "navixy",
            fields: [
                Field("lat", .double(48.85)), Field("lng", .double(2.35)), Field("speed", .double(speed)),
                Field("heading", .double(90)), Field("params.avl_io_239", .int(ignition)),
            ])
    }

    /// Maps and writes one batch as the server does.
    @discardableResult
    static func ingest(_ records: [ProviderRecord], pipeline: FleetiPipeline, store: TelemetryStore, receivedAt: Int64) throws -> MappedBatch {
        let batch = pipeline.map(Array(records.enumerated()).map { ($0.offset, $0.element) }, receivedAt: receivedAt, store: store)
        _ = try store.write(batch.write)
        return batch
    }

    static func field(_ name: String, of vehicle: String, at t: Int64, in store: TelemetryStore) throws -> FieldValue? {
        let page = try store.range(RangeQuery(vehicle: try VehicleID(vehicle), from: t, to: t + 1))
        return page.records.first?.fields.first { $0.name == name }?.value
    }

    @Test("a Navixy record is stored as canonical fields with its mapping version and a raw copy")
    func mapsAndKeepsRaw() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let pipeline = FleetiPipeline(service: try folder.service())
            let record = try Self.navixy("car-1", at: 1_000, ignition: 1, speed: 42)
            let batch = try Self.ingest([record], pipeline: pipeline, store: store, receivedAt: 2_000)
            #expect(batch.deadLettered.isEmpty)
            let stored = try store.range(RangeQuery(vehicle: try VehicleID("car-1"), from: 0, to: 10_000)).records
            #expect(stored.count == 1)
            let fields = Dictionary(uniqueKeysWithValues: stored[0].fields.map { ($0.name, $0.value) })
            #expect(fields["location_latitude"] == .double(48.85))
            #expect(fields["speed"] == .double(42))
            #expect(fields["ignition_value"] == .bool(true))
            #expect(fields["lat"] == nil, "provider names are not stored as canonical fields")
            #expect(stored[0].provenance.provider == "navixy")
            #expect(stored[0].provenance.mappingVersion == "1.0.6-telemetrystore.2")
            let raw = try store.rawRecords(vehicle: try VehicleID("car-1"), from: 0, to: 10_000)
            #expect(raw.map(\.record) == [record])
            #expect(raw.first?.mappingVersion == "1.0.6-telemetrystore.2")
        }
    }

    @Test("a batch's records are counted by provider and outcome, field errors and dead letters by provider")
    func countsByProviderAndOutcome() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let metrics = TestMetrics()
            let service = try MappingService(
                configuration: .init(folder: folder.mappings, assetsFile: folder.assets), metrics: MappingMetrics(factory: metrics),
                logger: Self.logger, clock: { 1_800_000_000_000 })
            let pipeline = FleetiPipeline(service: service)
            let generic = { (t: Int64) in
                ProviderRecord(vehicle: try VehicleID("gen-1"), timestamp: t, provider: "generic", fields: [Field("speed_kmh", .double(10))])
            }
            // Providers interleaved (navixy, generic, navixy, ...), one field error, one unknown provider.
            var badInputs = try Self.navixy("car-2", at: 1_000, ignition: 1)
            badInputs.fields.append(Field("inputs", .string("x")))  // a bitmask that is not one: inputs 1-4 fail
            let records = [
                try Self.navixy("car-1", at: 1_000, ignition: 1), try generic(1_000), try Self.navixy("car-1", at: 2_000, ignition: 1),
                try generic(2_000), badInputs,
                ProviderRecord(vehicle: try VehicleID("car-9"), timestamp: 1_000, provider: "zzz", fields: [Field("x", .int(1))]),
            ]
            let batch = try Self.ingest(records, pipeline: pipeline, store: store, receivedAt: 5_000)
            #expect(batch.deadLettered.count == 1)
            let total = { (label: String, dims: [(String, String)]) in metrics.counterTotal(label: label, dimensions: dims) }
            #expect(total("telemetry_mapping_records_total", [("provider", "navixy"), ("outcome", "mapped")]) == 3)
            #expect(total("telemetry_mapping_records_total", [("provider", "generic"), ("outcome", "mapped")]) == 2)
            #expect(total("telemetry_mapping_records_total", [("provider", "unknown"), ("outcome", "dead_lettered")]) == 1)
            #expect(total("telemetry_dead_letters_total", [("provider", "unknown"), ("reason", "unknown_provider")]) == 1)
            #expect(total("telemetry_mapping_field_errors_total", [("provider", "navixy")]) == 4)
            #expect(total("telemetry_mapping_field_errors_total", [("provider", "generic")]) == 0)
            // A provider that mapped records has its failure series at 0, for the alerts' shares.
            #expect(throws: Never.self) { try metrics.expectCounter("telemetry_mapping_field_errors_total", [("provider", "generic")]) }
            #expect(throws: Never.self) {
                try metrics.expectCounter("telemetry_mapping_records_total", [("provider", "generic"), ("outcome", "dead_lettered")])
            }

            // Records without a vehicle id or timestamp are dead-lettered before mapping: they
            // count as their provider's dead-lettered outcome too (the runbooks' share).
            service.countIncomplete([
                DeadLetter(vehicleID: "", timestamp: 5, provider: "navixy", fields: [], receivedAt: 6, reason: "missing_vehicle_or_timestamp", message: "m", mappingVersion: "")
            ])
            #expect(total("telemetry_mapping_records_total", [("provider", "navixy"), ("outcome", "dead_lettered")]) == 1)
            #expect(total("telemetry_dead_letters_total", [("provider", "navixy"), ("reason", "missing_vehicle_or_timestamp")]) == 1)
        }
    }

    @Test("a record of an unknown provider becomes a dead letter with its fields, reason and index")
    func deadLettersUnknownProvider() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let pipeline = FleetiPipeline(service: try folder.service())
            let good = try Self.navixy("car-1", at: 1_000, ignition: 0)
            let bad = ProviderRecord(vehicle: try VehicleID("car-2"), timestamp: 1_000, provider: "acme", fields: [Field("x", .int(7))])
            let batch = try Self.ingest([good, bad], pipeline: pipeline, store: store, receivedAt: 5_000)
            #expect(batch.deadLettered.map(\.index) == [1])
            #expect(batch.deadLettered.first?.error.code == .failedPrecondition)
            let letters = try store.deadLetters()
            #expect(letters.count == 1)
            let letter = try #require(letters.first).letter
            #expect(letter.vehicleID == "car-2")
            #expect(letter.provider == "acme")
            #expect(letter.fields == [Field("x", .int(7))])
            #expect(letter.reason == "unknown_provider")
            #expect(letter.receivedAt == 5_000)
            #expect(try store.range(RangeQuery(vehicle: try VehicleID("car-2"), from: 0, to: 10_000)).records.isEmpty)
        }
    }

    @Test("ingest keeps only the failed outcomes of a batch; a dry run lists them all")
    func outcomesKeptForIngestAreTheFailures() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let service = try folder.service()
            let records: [(index: Int, record: ProviderRecord)] = [
                (0, try Self.navixy("car-1", at: 1_000, ignition: 0)),
                (1, ProviderRecord(vehicle: try VehicleID("car-2"), timestamp: 1_000, provider: "acme", fields: [Field("x", .int(7))])),
                (2, try Self.navixy("car-3", at: 1_000, ignition: 1)),
            ]
            let ingest = service.mapBatch(records, set: service.mappingSet, receivedAt: 5_000, store: store, commit: true, mappedOutcomes: false)
            #expect(ingest.outcomes.map(\.index) == [1])
            #expect(Set(ingest.write.records.map(\.vehicle.rawValue)) == ["car-1", "car-3"])
            #expect(ingest.write.deadLetters.map(\.vehicleID) == ["car-2"])
            let dryRun = service.mapBatch(records, set: service.mappingSet, receivedAt: 5_000, store: store, commit: false)
            #expect(dryRun.outcomes.map(\.index).sorted() == [0, 1, 2])
        }
    }

    @Test("a restart continues each vehicle's state machines where they stood")
    func stateSurvivesRestart() throws {
        try withFolder { folder in
            do {
                let store = try TelemetryStore(path: folder.store)
                defer { store.close() }
                let pipeline = FleetiPipeline(service: try folder.service())
                try Self.ingest([try Self.navixy("car-1", at: 1_000, ignition: 1)], pipeline: pipeline, store: store, receivedAt: 1_500)
            }
            // A new process: a new service and a reopened store.
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let pipeline = FleetiPipeline(service: try folder.service())
            try Self.ingest([try Self.navixy("car-1", at: 61_000, ignition: 1)], pipeline: pipeline, store: store, receivedAt: 61_500)
            // Ignition stayed on: its last change is still the first record's time. A fresh
            // state would say 61000.
            #expect(try Self.field("ignition_last_changed_at", of: "car-1", at: 61_000, in: store) == .int(1_000))
            try Self.ingest([try Self.navixy("car-1", at: 121_000, ignition: 0)], pipeline: pipeline, store: store, receivedAt: 121_500)
            #expect(try Self.field("ignition_last_changed_at", of: "car-1", at: 121_000, in: store) == .int(121_000))
        }
    }

    @Test("a state with a lower generation never replaces a newer one (writers committing out of order)")
    func olderGenerationLoses() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let vehicle = try VehicleID("car-1")
            let newer: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 2, 0xAA]
            let older: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1, 0xBB]
            _ = try store.write(StoreWrite(derivedStates: [vehicle: newer]))
            _ = try store.write(StoreWrite(derivedStates: [vehicle: older]))
            #expect(try store.derivedState(of: vehicle) == newer)
            let newest: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 3, 0xCC]
            _ = try store.write(StoreWrite(derivedStates: [vehicle: newest]))
            #expect(try store.derivedState(of: vehicle) == newest)
        }
    }

    @Test("after a failed write the vehicle's state is read back from the store, not kept from the lost batch")
    func failedWriteForgetsState() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let pipeline = FleetiPipeline(service: try folder.service())
            try Self.ingest([try Self.navixy("car-1", at: 1_000, ignition: 1)], pipeline: pipeline, store: store, receivedAt: 1_500)
            let lost = pipeline.map([(0, try Self.navixy("car-1", at: 2_000, ignition: 0))], receivedAt: 2_500, store: store)
            store.faultInjection.failNextWrite()
            #expect(throws: (any Error).self) { try store.write(lost.write) }
            pipeline.writeFailed(lost)
            let stored = try #require(try store.derivedState(of: try VehicleID("car-1")))
            // The lost batch's ignition-off never reached the store; the in-memory state must
            // not keep it either, or the next record would be mapped as if it had.
            let again = pipeline.map([(0, try Self.navixy("car-1", at: 3_000, ignition: 1))], receivedAt: 3_500, store: store)
            let record = try #require(again.write.records.first)
            #expect(record.fields.first { $0.name == "ignition_last_changed_at" }?.value == .int(1_000))
            #expect(!stored.isEmpty)
        }
    }

    @Test("an invalid file names every problem and leaves the active version serving")
    func invalidFileChangesNothing() throws {
        try withFolder { folder in
            let service = try folder.service()
            let good = """
                version: "1.0.0"
                provider: acme
                mappings:
                  speed:
                    type: direct
                    sources: [{field: x, path: x, unit: km/h}]
                    unit: km/h
                    data_type: number
                """
            _ = try service.load(files: [("acme.yaml", good)])
            let broken = """
                version: "2.0.0"
                provider: acme
                mappings:
                  speed:
                    type: calculated
                    function: no_such_function
                    unit: km/h
                    data_type: number
                  location_heading:
                    type: direct
                    sources: [{field: h, path: h, unit: furlongs}]
                    unit: degrees
                    data_type: number
                """
            let error = #expect(throws: StatusError.self) { try service.load(files: [("acme-2.yaml", broken)]) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("acme-2.yaml") == true)
            #expect(error?.message.contains("no_such_function") == true)
            #expect(error?.message.contains("furlongs") == true)
            #expect(service.list().filter { $0.file.provider == "acme" }.map { "\($0.file.version) \($0.active)" } == ["1.0.0 true"])
            // Nothing of the broken file reached the folder either.
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.mappings) == ["acme-1.0.0.yaml"])
        }
    }

    @Test("a reload loads new versions from the folder and refuses a broken file without stopping the others")
    func reloadFromFolder() throws {
        try withFolder { folder in
            let service = try folder.service()
            let v110 = """
                version: "1.1.0"
                provider: acme
                mappings:
                  speed:
                    type: direct
                    sources: [{field: x, path: x, unit: m/s}]
                    unit: km/h
                    data_type: number
                """
            try v110.write(toFile: folder.mappings + "/acme.yaml", atomically: true, encoding: .utf8)
            try "version: [unclosed".write(toFile: folder.mappings + "/broken.yaml", atomically: true, encoding: .utf8)
            let report = service.reload()
            #expect(report.loaded == ["acme@1.1.0"])
            #expect(report.problems.contains { $0.file == "broken.yaml" })
            #expect(report.refusedFiles == 1)
            let set = service.mappingSet
            var state = VehicleMappingState()
            let outcome = set.map(
                ProviderRecord(vehicle: try VehicleID("v"), timestamp: 1, provider: "acme", fields: [Field("x", .double(10))]),
                state: &state, receivedAt: 2)
            guard case .mapped(let m) = outcome else {
                Issue.record("expected a mapped record, got \(outcome)")
                return
            }
            #expect(m["speed"] == .double(36))
            #expect(m.mappingVersion == "1.1.0")

            // A file taken in with warnings reports them, once: not again while it is unchanged.
            try (v110.replacingOccurrences(of: "1.1.0", with: "1.2.0") + "\ncolour: blue\n")
                .write(toFile: folder.mappings + "/acme.yaml", atomically: true, encoding: .utf8)
            let warned = service.reload()
            #expect(warned.loaded == ["acme@1.2.0"])
            #expect(warned.problems.contains { $0.file == "acme.yaml" && $0.severity == .warning && $0.reason.contains("colour") })
            #expect(!service.reload().problems.contains { $0.file == "acme.yaml" })
        }
    }

    @Test("the connectivity sweep marks a silent vehicle offline at its last packet plus 24 h, once")
    func sweepMarksOffline() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let service = try folder.service()
            let pipeline = FleetiPipeline(service: service)
            let t0: Int64 = 1_800_000_000_000
            try Self.ingest([try Self.navixy("car-1", at: t0, ignition: 1)], pipeline: pipeline, store: store, receivedAt: t0 + 100)
            #expect(try service.sweepAndWrite(now: t0 + 3_600_000, store: store) == 0, "an hour of silence is not offline")
            let day: Int64 = 86_400_000
            #expect(try service.sweepAndWrite(now: t0 + day + 5_000, store: store) == 1)
            #expect(try Self.field("statuses_connectivity_code", of: "car-1", at: t0 + day, in: store) == .string("offline"))
            #expect(try service.sweepAndWrite(now: t0 + day + 60_000, store: store) == 0, "already offline")
            // The sweep's state is durable too: a restarted server does not sweep again.
            let restarted = try folder.service()
            #expect(try restarted.sweepAndWrite(now: t0 + day + 120_000, store: store) == 0)
        }
    }

    @Test("idle states leave memory only once stored; the vehicle's next record continues its state machines")
    func idleStatesEvicted() throws {
        try withFolder { folder in
            let store = try TelemetryStore(path: folder.store)
            defer { store.close() }
            let service = try folder.service()
            let pipeline = FleetiPipeline(service: service)
            try Self.ingest(
                [try Self.navixy("car-1", at: 1_000, ignition: 1), try Self.navixy("car-2", at: 1_000, ignition: 1)],
                pipeline: pipeline, store: store, receivedAt: 10_000)
            try Self.ingest([try Self.navixy("car-2", at: 2_000, ignition: 1)], pipeline: pipeline, store: store, receivedAt: 20_000)
            // A vehicle whose only record is dead-lettered (unknown provider): its state was never
            // written, and must not stay in memory for ever either.
            let unknown = ProviderRecord(vehicle: try VehicleID("ghost"), timestamp: 1_000, provider: "nobody", fields: [Field("x", .int(1))])
            #expect(try Self.ingest([unknown], pipeline: pipeline, store: store, receivedAt: 10_000).write.deadLetters.count == 1)
            #expect(service.statesInMemory == 3)
            // car-1 and ghost last mapped at 10 000, car-2 at 20 000: car-2 is not idle since 15 000.
            #expect(service.evictIdleStates(idleSince: 15_000, store: store) == 2)
            #expect(service.statesInMemory == 1)
            // A batch mapped but not yet written: its state is newer than the stored one and
            // must stay, or the next batch would be mapped from the stored, older state.
            let pending = pipeline.map([(0, try Self.navixy("car-2", at: 3_000, ignition: 0))], receivedAt: 30_000, store: store)
            #expect(service.evictIdleStates(idleSince: .max, store: store) == 0)
            #expect(service.statesInMemory == 1)
            _ = try store.write(pending.write)
            #expect(service.evictIdleStates(idleSince: .max, store: store) == 1)
            #expect(service.statesInMemory == 0)
            // Read back from the store: ignition stayed on for car-1 since 1000, went off for car-2 at 3000.
            try Self.ingest(
                [try Self.navixy("car-1", at: 61_000, ignition: 1), try Self.navixy("car-2", at: 61_000, ignition: 0)],
                pipeline: pipeline, store: store, receivedAt: 70_000)
            #expect(try Self.field("ignition_last_changed_at", of: "car-1", at: 61_000, in: store) == .int(1_000))
            #expect(try Self.field("ignition_last_changed_at", of: "car-2", at: 61_000, in: store) == .int(3_000))
            #expect(service.statesInMemory == 2)
        }
    }

    @Test("the sweep service drops states idle past the setting on its timer, keeps recent ones, and does not sweep when the sweep is off")
    func sweepServiceEvicts() async throws {
        try await withFolder { folder in try await Self.sweepServiceEvicts(folder) }
    }

    static func sweepServiceEvicts(_ folder: Folder) async throws {
        let store = try TelemetryStore(path: folder.store)
        defer { store.close() }
        let t0: Int64 = 1_800_000_000_000
        let now = Mutex<Int64>(t0)
        let service = try folder.service(clock: { now.withLock { $0 } })
        let pipeline = FleetiPipeline(service: service)
        try Self.ingest([try Self.navixy("car-1", at: t0 - 1_000, ignition: 1)], pipeline: pipeline, store: store, receivedAt: t0)
        #expect(service.statesInMemory == 1)
        // Two days later: idle for far more than the 1-minute setting, and past the offline
        // threshold, which must not be acted on with the sweep off.
        now.withLock { $0 = t0 + 2 * 86_400_000 }
        // car-2 sent 30 s ago: within the minute, it stays.
        try Self.ingest(
            [try Self.navixy("car-2", at: t0 + 2 * 86_400_000 - 31_000, ignition: 1)], pipeline: pipeline, store: store,
            receivedAt: t0 + 2 * 86_400_000 - 30_000)
        #expect(service.statesInMemory == 2)
        let running = Task {
            try await ConnectivitySweepService(
                service: service, store: { store }, interval: .milliseconds(20), sweep: false, stateIdle: .seconds(60),
                logger: Self.logger
            ).run()
        }
        defer { running.cancel() }
        // Generous: the pass runs on the shared thread pool, which the other suites' servers
        // keep busy when the whole test run shares two cores. It ends as soon as car-1 goes.
        let deadline = ContinuousClock.now + .seconds(60)
        while service.statesInMemory > 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        // A few more passes: car-2 must survive them.
        try await Task.sleep(for: .milliseconds(100))
        #expect(service.statesInMemory == 1)
        // And a pass with the same cutoff by hand finds nothing more to drop.
        #expect(service.evictIdleStates(idleSince: t0 + 2 * 86_400_000 - 60_000, store: store) == 0)
        #expect(try store.range(RangeQuery(vehicle: try VehicleID("car-1"), from: .min, to: .max)).records.count == 1, "no offline record")
    }

    static func acme(_ version: String, unit: String) -> String {
        """
        version: "\(version)"
        provider: acme
        mappings:
          speed:
            type: direct
            sources: [{field: x, path: x, unit: \(unit)}]
            unit: km/h
            data_type: number
        """
    }

    static func active(_ service: MappingService, _ provider: String) -> String? {
        service.list().first { $0.file.provider == provider && $0.active }?.file.version
    }

    @Test("a rollback survives a restart and a reload, and ends when a newer version is loaded")
    func rollbackIsKept() throws {
        try withFolder { folder in
            let service = try folder.service()
            _ = try service.load(files: [("a.yaml", Self.acme("1.0.0", unit: "km/h")), ("b.yaml", Self.acme("1.1.0", unit: "m/s"))])
            #expect(Self.active(service, "acme") == "1.1.0")
            let (_, previous) = try service.activate(provider: "acme", version: "1.0.0")
            #expect(previous == "1.1.0")
            #expect(Self.active(service, "acme") == "1.0.0")
            service.reload()
            #expect(Self.active(service, "acme") == "1.0.0", "a reload keeps the rollback")
            let restarted = try folder.service()
            #expect(Self.active(restarted, "acme") == "1.0.0", "a restart keeps the rollback")
            _ = try restarted.load(files: [("c.yaml", Self.acme("1.2.0", unit: "m/s"))])
            #expect(Self.active(restarted, "acme") == "1.2.0")
            #expect(Self.active(try folder.service(), "acme") == "1.2.0", "loading a newer version ends the rollback")
            let missing = #expect(throws: StatusError.self) { try restarted.activate(provider: "acme", version: "3.0.0") }
            #expect(missing?.code == .notFound)
            #expect(missing?.message.contains("1.0.0, 1.1.0, 1.2.0") == true)
        }
    }

    @Test("activating the newest version again ends the rollback: no pin is left to hold it over a later version at the next start")
    func activatingNewestEndsRollback() throws {
        try withFolder { folder in
            let service = try Self.rolledBack(folder, to: "1.0.0", over: "1.1.0")
            #expect(try Self.pinFile(folder) == ["acme": "1.0.0"])
            _ = try service.activate(provider: "acme", version: "1.1.0")
            #expect(Self.active(service, "acme") == "1.1.0")
            #expect(try Self.pinFile(folder) == [:])
            // A newer file copied in while the server is stopped: the next start takes it.
            try Self.acme("1.2.0", unit: "mph").write(toFile: folder.mappings + "/acme-new.yaml", atomically: true, encoding: .utf8)
            #expect(Self.active(try folder.service(), "acme") == "1.2.0")
        }
    }

    @Test("a version between the rollback and the newest, loaded or reloaded, carries the rollback on: a restart keeps it, not the newest")
    func inBetweenVersionMovesThePin() throws {
        try withFolder { folder in
            let service = try Self.rolledBack(folder, to: "1.0.0", over: "1.3.0")
            _ = try service.load(files: [("c.yaml", Self.acme("1.1.0", unit: "mph"))])
            #expect(Self.active(service, "acme") == "1.1.0")
            #expect(try Self.pinFile(folder) == ["acme": "1.1.0"])
            #expect(Self.active(try folder.service(), "acme") == "1.1.0", "a restart keeps the rollback, moved on")
            // By the folder and SIGHUP's reload: the same.
            try Self.acme("1.2.0", unit: "m/s").write(toFile: folder.mappings + "/acme-fix.yaml", atomically: true, encoding: .utf8)
            let report = service.reload()
            #expect(report.loaded == ["acme@1.2.0"] && report.unpinned.isEmpty && report.problems.isEmpty)
            #expect(report.repinned == ["acme@1.2.0"])
            #expect(Self.active(service, "acme") == "1.2.0")
            #expect(try Self.pinFile(folder) == ["acme": "1.2.0"])
            #expect(Self.active(try folder.service(), "acme") == "1.2.0")
            // The newest loaded again ends it.
            try Self.acme("1.4.0", unit: "km/h").write(toFile: folder.mappings + "/acme-next.yaml", atomically: true, encoding: .utf8)
            let last = service.reload()
            #expect(last.unpinned == ["acme"] && last.repinned.isEmpty)
            #expect(try Self.pinFile(folder) == [:])
        }
    }

    @Test("an operator file outranks a newer built-in: activating the built-in pins it, activating the operator's file again ends the pin")
    func pinRuleFollowsTheDefaultVersionNotTheHighest() throws {
        try withFolder { folder in
            let mine = Self.acme("1.0.5", unit: "km/h").replacingOccurrences(of: "provider: acme", with: "provider: navixy")
            try mine.write(toFile: folder.mappings + "/navixy-mine.yaml", atomically: true, encoding: .utf8)
            let service = try folder.service()
            #expect(Self.active(service, "navixy") == "1.0.5", "the operator's file outranks the built-in .2")
            _ = try service.activate(provider: "navixy", version: "1.0.6-telemetrystore.2")
            #expect(try Self.pinFile(folder) == ["navixy": "1.0.6-telemetrystore.2"], "a choice over the operator's file is a rollback")
            #expect(Self.active(try folder.service(), "navixy") == "1.0.6-telemetrystore.2", "and a restart keeps it")
            _ = try service.activate(provider: "navixy", version: "1.0.5")
            #expect(try Self.pinFile(folder) == [:])
            #expect(Self.active(try folder.service(), "navixy") == "1.0.5")
        }
    }

    static func pinFile(_ folder: Folder) throws -> [String: String] {
        try JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: folder.mappings + "/" + MappingService.pinFileName)))
    }

    /// A service with acme `pinned` and `newer` loaded and `pinned` made active by `activate`.
    static func rolledBack(_ folder: Folder, to pinned: String, over newer: String) throws -> MappingService {
        let service = try folder.service()
        _ = try service.load(files: [("a.yaml", Self.acme(pinned, unit: "km/h")), ("b.yaml", Self.acme(newer, unit: "m/s"))])
        _ = try service.activate(provider: "acme", version: pinned)
        return service
    }

    @Test("a newer version reloaded from the folder ends a rollback and rewrites the pin file, as load does; an older one does not")
    func reloadOfNewerVersionEndsRollback() throws {
        try withFolder { folder in
            let service = try Self.rolledBack(folder, to: "1.6.0", over: "1.7.0")
            #expect(try Self.pinFile(folder) == ["acme": "1.6.0"])
            // Older than the pinned version: loaded, the rollback holds.
            try Self.acme("1.5.0", unit: "km/h").write(toFile: folder.mappings + "/acme-old.yaml", atomically: true, encoding: .utf8)
            let older = service.reload()
            #expect(older.loaded == ["acme@1.5.0"] && older.unpinned.isEmpty)
            #expect(Self.active(service, "acme") == "1.6.0")
            // Newer: it takes over, and the pin is gone from the file too.
            try Self.acme("1.8.0", unit: "mph").write(toFile: folder.mappings + "/acme-new.yaml", atomically: true, encoding: .utf8)
            let newer = service.reload()
            #expect(newer.loaded == ["acme@1.8.0"])
            #expect(newer.unpinned == ["acme"])
            #expect(newer.problems.isEmpty)
            #expect(Self.active(service, "acme") == "1.8.0")
            #expect(try Self.pinFile(folder) == [:])
            #expect(service.reload().loaded.isEmpty)
            #expect(Self.active(service, "acme") == "1.8.0", "a second reload changes nothing")
            #expect(Self.active(try folder.service(), "acme") == "1.8.0", "a restart keeps it")
        }
    }

    @Test("at start a rollback holds over a newer file in the folder, and says so in a warning")
    func rollbackHoldsAtStart() throws {
        try withFolder { folder in
            _ = try folder.service().load(files: [("a.yaml", Self.acme("1.6.0", unit: "km/h")), ("b.yaml", Self.acme("1.7.0", unit: "m/s"))])
            _ = try folder.service().activate(provider: "acme", version: "1.6.0")
            // Copied in while the server was stopped: a start cannot tell it from a file that was
            // there when the operator rolled back, and the rollback must survive a restart.
            try Self.acme("1.8.0", unit: "mph").write(toFile: folder.mappings + "/acme-new.yaml", atomically: true, encoding: .utf8)
            let lines = Mutex<[String]>([])
            let logger = Logger(label: "test") { label in JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } } }
            let service = try MappingService(configuration: .init(folder: folder.mappings, assetsFile: folder.assets), logger: logger)
            #expect(Self.active(service, "acme") == "1.6.0")
            #expect(try Self.pinFile(folder) == ["acme": "1.6.0"])
            let logged = lines.withLock { $0 }.joined(separator: "\n")
            #expect(logged.contains("pinned version 1.6.0 stays active over the newer 1.8.0"), "\(logged)")
        }
    }

    @Test("a rollback to the earlier built-in Navixy version, pinned before an upgrade, still starts and stays active")
    func pinToEarlierBuiltIn() throws {
        try withFolder { folder in
            // What the pin file of a server rolled back to the built-in .1 holds (written by
            // `admin mappings activate navixy 1.0.6-telemetrystore.1` on the earlier build).
            try #"{"navixy":"1.0.6-telemetrystore.1"}"#.write(
                toFile: folder.mappings + "/" + MappingService.pinFileName, atomically: true, encoding: .utf8)
            let service = try folder.service()
            #expect(Self.active(service, "navixy") == "1.0.6-telemetrystore.1")
            #expect(service.list().filter { $0.file.provider == "navixy" }.map(\.file.version) == ["1.0.6-telemetrystore.1", "1.0.6-telemetrystore.2"])
            _ = try service.activate(provider: "navixy", version: "1.0.6-telemetrystore.2")
            #expect(Self.active(service, "navixy") == "1.0.6-telemetrystore.2")
        }
    }

    @Test("an unreadable pin file stops the start, naming it; on reload the rollbacks in force stay")
    func malformedPinFile() throws {
        try withFolder { folder in
            let service = try Self.rolledBack(folder, to: "1.0.0", over: "1.1.0")
            try "[\"acme\", \"1.0.0\"]".write(toFile: folder.mappings + "/" + MappingService.pinFileName, atomically: true, encoding: .utf8)
            let start = #expect(throws: MappingValidationError.self) { try folder.service() }
            #expect(
                start?.description
                    == "active-versions.json: not a JSON object of provider -> version; the rollbacks it holds cannot be read: "
                    + "fix it, or remove it to make the newest version of each provider active")
            try Self.acme("1.2.0", unit: "mph").write(toFile: folder.mappings + "/acme-new.yaml", atomically: true, encoding: .utf8)
            let report = service.reload()
            #expect(
                report.problems.map(\.description)
                    == ["active-versions.json: not a JSON object of provider -> version; the rollbacks in force stay until it is fixed"])
            // The rollback stays, as the problem says: the newer version is loaded, not active,
            // and the operator's file is left as it is, to be fixed.
            #expect(Self.active(service, "acme") == "1.0.0")
            #expect(report.unpinned.isEmpty)
            #expect(report.refusedFiles == 0, "the pin file is no refused mapping file")
            #expect(try String(contentsOfFile: folder.mappings + "/" + MappingService.pinFileName, encoding: .utf8) == "[\"acme\", \"1.0.0\"]")
        }
    }

    @Test("a pin file that cannot be read at all (a folder there) is not taken as absent: the start stops, a reload keeps the rollbacks")
    func unreadablePinFile() throws {
        try withFolder { folder in
            let service = try Self.rolledBack(folder, to: "1.0.0", over: "1.1.0")
            let pin = folder.mappings + "/" + MappingService.pinFileName
            try FileManager.default.removeItem(atPath: pin)
            try FileManager.default.createDirectory(atPath: pin, withIntermediateDirectories: false)
            let start = #expect(throws: MappingValidationError.self) { try folder.service() }
            #expect(start?.description.hasPrefix("active-versions.json: cannot be read (it is a folder)") == true)
            try Self.acme("1.2.0", unit: "mph").write(toFile: folder.mappings + "/acme-new.yaml", atomically: true, encoding: .utf8)
            let report = service.reload()
            #expect(report.problems.map(\.description) == ["active-versions.json: cannot be read (it is a folder); the rollbacks in force stay until it is fixed"])
            #expect(Self.active(service, "acme") == "1.0.0")
        }
    }

    @Test("a refused file in the folder stops the start instead of changing which version is active")
    func refusedFileStopsTheStart() throws {
        try withFolder { folder in
            let service = try folder.service()
            _ = try service.load(files: [("a.yaml", Self.acme("1.0.0", unit: "km/h")), ("b.yaml", Self.acme("1.1.0", unit: "m/s"))])
            // The active version's file is damaged: starting would make 1.0.0 active.
            let active = folder.mappings + "/acme-1.1.0.yaml"
            try (Self.acme("1.1.0", unit: "m/s") + "\n  broken: [").write(toFile: active, atomically: true, encoding: .utf8)
            service.reload()
            #expect(Self.active(service, "acme") == "1.1.0", "a reload keeps the running version")
            let damaged = #expect(throws: MappingValidationError.self) { try folder.service() }
            #expect(damaged?.problems.contains { $0.file == "acme-1.1.0.yaml" } == true)

            // Two files that give one version different definitions: which one a record named
            // would depend on file names.
            try Self.acme("1.1.0", unit: "m/s").write(toFile: active, atomically: true, encoding: .utf8)
            #expect(Self.active(try folder.service(), "acme") == "1.1.0")
            try Self.acme("1.1.0", unit: "km/h").write(toFile: folder.mappings + "/0-copy.yaml", atomically: true, encoding: .utf8)
            let conflict = #expect(throws: MappingValidationError.self) { try folder.service() }
            #expect(conflict?.description.contains("different definition") == true)
            try FileManager.default.removeItem(atPath: folder.mappings + "/0-copy.yaml")

            // A rollback to a version whose file is gone.
            _ = try folder.service().activate(provider: "acme", version: "1.0.0")
            try FileManager.default.removeItem(atPath: folder.mappings + "/acme-1.0.0.yaml")
            let pinned = #expect(throws: MappingValidationError.self) { try folder.service() }
            #expect(pinned?.description.contains("pinned version 1.0.0") == true)
        }
    }

    @Test("an empty or comment-only file is refused with a reason by validate, load, a reload and the start")
    func emptyFileIsRefusedEverywhere() throws {
        try withFolder { folder in
            let service = try folder.service()
            for text in ["", "# a mapping file, to be written\n\n"] {
                let expected = "empty.yaml: the file is empty (nothing but blank lines or comments)"
                #expect(service.validate(files: [("empty.yaml", text)]).map(\.description) == [expected])
                let load = #expect(throws: StatusError.self) { try service.load(files: [("empty.yaml", text)]) }
                #expect(load?.code == .invalidArgument)
                #expect(load?.message.hasSuffix(expected) == true, "\(load?.message ?? "")")
                try text.write(toFile: folder.mappings + "/empty.yaml", atomically: true, encoding: .utf8)
                #expect(service.reload().problems.map(\.description) == [expected])
                let start = #expect(throws: MappingValidationError.self) { try folder.service() }
                #expect(start?.description == expected)
                // The asset file reads through the same YAML reader.
                try text.write(toFile: folder.assets, atomically: true, encoding: .utf8)
                #expect(service.reload().assetsProblem == "assets.yaml: the file is empty (nothing but blank lines or comments)")
                try FileManager.default.removeItem(atPath: folder.assets)
            }
        }
    }

    @Test("a version whose folder file name another loaded version already uses is refused by validate and load")
    func storedFileNamesDoNotCollide() throws {
        try withFolder { folder in
            let service = try folder.service()
            let first = Self.acme("1.0.0", unit: "km/h").replacingOccurrences(of: "provider: acme", with: "provider: a-1.0.0")
            _ = try service.load(files: [("first.yaml", first)])
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.mappings) == ["a-1.0.0-1.0.0.yaml"])
            // Provider a, version 1.0.0 with the pre-release 1.0.0: the same file name.
            let second = Self.acme("1.0.0-1.0.0", unit: "km/h").replacingOccurrences(of: "provider: acme", with: "provider: a")
            let expected =
                "second.yaml: provider a version 1.0.0-1.0.0 would be stored as a-1.0.0-1.0.0.yaml, which holds provider a-1.0.0 "
                + "version 1.0.0; change the provider name or the version"
            #expect(service.validate(files: [("second.yaml", second)]).map(\.description) == [expected])
            let refused = #expect(throws: StatusError.self) { try service.load(files: [("second.yaml", second)]) }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.hasSuffix(expected) == true, "\(refused?.message ?? "")")
            // Two files of one load that would share a file.
            let both = service.validate(files: [("x.yaml", second.replacingOccurrences(of: "provider: a", with: "provider: b")),
                                                ("y.yaml", Self.acme("1.0.0", unit: "km/h").replacingOccurrences(of: "provider: acme", with: "provider: b-1.0.0"))])
            #expect(both.map(\.file) == ["y.yaml"])
            // The first version's file is intact, and a restart finds both providers as they were.
            let restarted = try folder.service()
            #expect(Self.active(restarted, "a-1.0.0") == "1.0.0")
            #expect(Self.active(restarted, "a") == nil)
        }
    }

    @Test("validate names what load would refuse: a loaded version redefined, or one version given twice; load returns warnings")
    func validateAgreesWithLoad() throws {
        try withFolder { folder in
            let service = try folder.service()
            _ = try service.load(files: [("a.yaml", Self.acme("1.0.0", unit: "km/h"))])
            #expect(service.validate(files: [("same.yaml", Self.acme("1.0.0", unit: "km/h"))]).isEmpty, "the same definition loads as a no-op")
            let redefined = service.validate(files: [("changed.yaml", Self.acme("1.0.0", unit: "m/s"))])
            #expect(redefined.map(\.file) == ["changed.yaml"])
            #expect(redefined.first?.reason.contains("already has a different definition") == true)
            #expect(throws: StatusError.self) { try service.load(files: [("changed.yaml", Self.acme("1.0.0", unit: "m/s"))]) }

            let twice = service.validate(files: [("x.yaml", Self.acme("2.0.0", unit: "km/h")), ("y.yaml", Self.acme("2.0.0", unit: "m/s"))])
            #expect(twice.map(\.file) == ["y.yaml"])
            #expect(Self.active(service, "acme") == "1.0.0", "validate loads nothing")

            let unknownName = Self.acme("2.1.0", unit: "km/h") + """

                  not_in_the_catalog:
                    type: direct
                    sources: [{field: y, path: y, unit: none}]
                    data_type: number
                """
            let warnings = try service.load(files: [("w.yaml", unknownName)]).warnings
            #expect(warnings.contains { $0.severity == .warning && $0.mapping == "not_in_the_catalog" })
        }
    }

    @Test("SIGHUP reloads the mapping folder while the server runs")
    func hangupReloads() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-hup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/mappings", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let folder = Folder(path: path)
        let service = try folder.service()
        // The trap is in place once this returns, so the signal below cannot end the process.
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let (reports, reported) = AsyncStream.makeStream(of: MappingService.ReloadReport.self)
        let reload = MappingReloadService(service: service, signals: signals, logger: Self.logger) { reported.yield($0) }
        try Self.acme("2.0.0", unit: "km/h").write(toFile: folder.mappings + "/acme.yaml", atomically: true, encoding: .utf8)
        #expect(Self.active(service, "acme") == nil)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await reload.run() }
                kill(getpid(), SIGHUP)
                var iterator = reports.makeAsyncIterator()
                let report = await iterator.next()
                #expect(report?.loaded == ["acme@2.0.0"])
                #expect(Self.active(service, "acme") == "2.0.0")
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
    }
}
