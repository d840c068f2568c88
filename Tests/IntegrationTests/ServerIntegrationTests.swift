import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycleTestKit
import SwiftProtobuf
import Testing
import TelemetryClient
import TelemetryCore
import TelemetryServer
import TelemetryStorage
import TelemetryWire

@Suite("Server over loopback")
struct ServerIntegrationTests {
    let sample: [ProviderRecord] = (0..<50).map(Self.sampleRecord)

    static func sampleRecord(_ i: Int) -> ProviderRecord {
        let n = Int64(i)
        let fields: [Field] = [
            Field("speed", .double(Double(i) * 1.5)), Field("rpm", .int(800 + n)), Field("ignition", .bool(i % 3 != 0)),
            Field("driver", .string("d\(i % 4)")), Field("raw", .bytes([UInt8(i), 0xFF])),
            Field("dtc", .array([.string("P0\(i)"), .int(n)])), Field("note", .null),
        ]
        let vehicle = i % 2 == 0 ? "truck-1" : "van-2"
        return record(vehicle, 1_700_000_000_000 + n * 1000, fields)
    }

    @Test("records ingested come back exactly: range, latest, vehicles, aggregate")
    func ingestThenQuery() async throws {
        try await withServer { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let ack = try await client.ingest(sample)
                #expect(ack.accepted == 50 && ack.duplicates == 0 && ack.rejected.isEmpty && ack.durability == .buffered)

                let page = try await client.range(RangeQuery(vehicle: vid("truck-1"), from: .min, to: .max))
                let expected = sample.filter { $0.vehicle.rawValue == "truck-1" }
                #expect(page.records.count == expected.count)
                for (got, want) in zip(page.records, expected) {
                    #expect(got.timestamp == want.timestamp)
                    #expect(Dictionary(uniqueKeysWithValues: got.fields.map { ($0.name, $0.value) }) == Dictionary(uniqueKeysWithValues: want.fields.map { ($0.name, $0.value) }))
                    #expect(got.provenance.provider == "generic" && got.provenance.mappingVersion == "identity")
                }
                #expect(page.nextCursor == nil)

                let latest = try await client.latest([vid("van-2"), vid("nobody")])
                #expect(latest.unknownVehicles == ["nobody"])
                #expect(latest.states.first?.timestamp == sample.last?.timestamp)
                #expect(latest.states.first?["speed"]?.value == .double(49 * 1.5))

                let vehicles = try await client.vehicles()
                #expect(vehicles.map(\.vehicle.rawValue).sorted() == ["truck-1", "van-2"])
                #expect(vehicles.allSatisfy { $0.recordCount == 25 })

                let buckets = try await client.aggregate(
                    vehicle: vid("truck-1"), from: 1_700_000_000_000, to: 1_700_000_050_000, bucketMs: 10_000, fields: ["speed"])
                #expect(buckets.count == 5)
                #expect(buckets.first?.fields.first?.count == 5)
                #expect(buckets.first?.fields.first?.max == 12)
                #expect(buckets.first?.fields.first?.integers == nil, "speed is a double")
                // rpm is an int: its aggregates cross the wire exact (records 0, 2, 4, 6, 8: rpm 800..808).
                let rpm = try await client.aggregate(
                    vehicle: vid("truck-1"), from: 1_700_000_000_000, to: 1_700_000_010_000, bucketMs: 10_000, fields: ["rpm"])
                #expect(rpm.first?.fields.first?.integers == IntegerAggregate(min: 800, max: 808, sum: 4020, first: 800, last: 808))
            }
        }
    }

    @Test("latest for more vehicles than the server takes per request: the client splits it, in order")
    func latestSplitsLargeRequests() async throws {
        try await withServer({ $0.maxRecordsPerBatch = 3 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.ingest((0..<5).map { record("v\($0)", 1000 + Int64($0), [Field("a", .int(Int64($0)))]) })
                let ids = try ["v4", "nobody", "v0", "v1", "v2", "ghost", "v3"].map { try VehicleID($0) }
                let result = try await client.latest(ids)
                #expect(result.states.map(\.vehicle.rawValue) == ["v4", "v0", "v1", "v2", "v3"])
                #expect(result.unknownVehicles == ["nobody", "ghost"])
            }
        }
    }

    @Test("a retried batch stores nothing twice; a changed record replaces")
    func duplicatesOnRetry() async throws {
        try await withServer { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                _ = try await client.ingest(sample)
                let again = try await client.ingest(sample)
                #expect(again.accepted == 0 && again.duplicates == 50)
                var changed = sample[0]
                changed.fields = [Field("speed", .double(99))]
                let replaced = try await client.ingest([changed])
                #expect(replaced.accepted == 1 && replaced.duplicates == 0)
                let page = try await client.range(RangeQuery(vehicle: changed.vehicle, from: changed.timestamp, to: changed.timestamp + 1))
                #expect(page.records.first?.fields == [Field("speed", .double(99))])
                let got1 = try await client.vehicles().first { $0.vehicle == changed.vehicle }?.recordCount
                #expect(got1 == 25)
            }
        }
    }

    @Test("a reconnecting gateway learns its last committed sequence, also after a restart")
    func resumeFromCommittedSequence() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/store"
            let batch = (1...10).map { i in record("gw-veh", Int64(i) * 1000, [Field("v", .int(Int64(i)))], sequence: UInt64(i)) }
            do {
                let store = try TelemetryStore(path: path)
                defer { store.close() }
                try await serve(store: store, path: path) { server in
                    try await withTelemetryClient(server.clientConfiguration(gateway: "gw-7")) { client in
                        let ack = try await client.ingest(Array(batch[0..<6]))
                        #expect(ack.committedSequence == 6)
                        #expect(client.session?.lastCommittedSequence == nil)
                    }
                    try await withTelemetryClient(server.clientConfiguration(gateway: "gw-7")) { client in
                        _ = try await client.ping()
                        #expect(client.session?.lastCommittedSequence == 6)
                    }
                }
            }
            let reopened = try TelemetryStore(path: path)
            defer { reopened.close() }
            try await serve(store: reopened, path: path) { server in
                try await withTelemetryClient(server.clientConfiguration(gateway: "gw-7")) { client in
                    _ = try await client.ping()
                    let resume = try #require(client.session?.lastCommittedSequence)
                    #expect(resume == 6)
                    // Re-send only the gap; overlap would be harmless duplicates anyway.
                    let ack = try await client.ingest(batch.filter { $0.gatewaySequence! > resume })
                    #expect(ack.accepted == 4 && ack.committedSequence == 10)
                }
                try await withTelemetryClient(server.clientConfiguration(gateway: "another")) { client in
                    _ = try await client.ping()
                    #expect(client.session?.lastCommittedSequence == nil)
                }
            }
        }
    }

    @Test("a sequence without a gateway id is refused per record, the rest is stored")
    func sequenceWithoutGateway() async throws {
        try await withServer { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let ack = try await client.ingest([
                    record("v1", 1, [Field("a", .int(1))], sequence: 5), record("v1", 2, [Field("a", .int(2))]),
                ])
                #expect(ack.accepted == 1)
                #expect(ack.rejected == [RejectedRecord(index: 0, code: .invalidArgument, reason: "records[0]: gateway_sequence is set but the hello gave no gateway_id")])
            }
        }
    }

    @Test("large results stream in several frames; limits and cursors page through them")
    func streamingAndPaging() async throws {
        try await withServer({ $0.recordsPerFrame = 10 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let records = (0..<95).map { i in record("s", Int64(i), [Field("i", .int(Int64(i)))]) }
                _ = try await client.ingest(records)
                var frames = 0
                try await client.range(RangeQuery(vehicle: vid("s"), from: .min, to: .max)) { page, _ in frames += 1 }
                #expect(frames == 10)
                var seen = [Int64]()
                var cursor: String? = nil
                repeat {
                    let page = try await client.range(RangeQuery(vehicle: vid("s"), from: 0, to: 1000, limit: 25, order: .descending, cursor: cursor))
                    seen += page.records.map(\.timestamp)
                    cursor = page.nextCursor
                } while cursor != nil
                #expect(seen == (0..<95).reversed().map(Int64.init))

                // Latest states stream too: 25 vehicles in frames of 10, unknown ids at the end.
                _ = try await client.ingest((0..<25).map { i in record("l\(i)", 1, [Field("i", .int(Int64(i)))]) })
                let ids = (0..<25).map { vid("l\($0)") } + [vid("missing")]
                let latest = try await client.latest(ids)
                #expect(latest.states.map(\.vehicle) == Array(ids.prefix(25)))
                #expect(latest.unknownVehicles == ["missing"])
            }
        }
    }

    /// Same records: a field's place in a record carries no meaning (pages merged into one
    /// set of columns may list a record's fields in another order than frame by frame).
    static func same(_ a: [TelemetryRecord], _ b: [TelemetryRecord]) -> Bool {
        func key(_ r: TelemetryRecord) -> [String: FieldValue] { Dictionary(uniqueKeysWithValues: r.fields.map { ($0.name, $0.value) }) }
        return a.map(\.timestamp) == b.map(\.timestamp) && a.map(\.provenance) == b.map(\.provenance) && a.map(key) == b.map(key)
            && a.map(\.vehicle) == b.map(\.vehicle)
    }

    @Test("range as columns: the same records as the record API, over several frames, sealed and open, with pages")
    func rangeColumns() async throws {
        try await withServer({ $0.recordsPerFrame = 7 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                // A column that changes type across frames, sparse fields, nulls and arrays.
                let records = (0..<40).map { i in
                    var fields = [Field("i", i < 20 ? .int(Int64(i)) : .double(Double(i) + 0.25))]
                    if i % 3 == 0 { fields.append(Field("odd", i % 6 == 0 ? .null : .array([.string("a\(i)"), .bytes([UInt8(i)])]))) }
                    if i >= 9 { fields.append(Field("late", .bool(i % 2 == 0))) }
                    return record("c", Int64(i) * 60_000, fields)
                }
                _ = try await client.ingest(records)
                // Seal the first hours; a record written afterwards into a sealed hour stays a key.
                let sealed = try await client.compact(sealAll: true)
                // One sealing step, not a second, empty "sealing closed partitions".
                #expect(sealed.phases.first == "sealing every partition")
                #expect(!sealed.phases.contains("sealing closed partitions"))
                _ = try await client.ingest([record("c", 61_000, [Field("i", .string("after the seal"))])])
                for order in TimeOrder.allCases {
                    for fields: [String]? in [nil, ["late", "odd"]] {
                        let query = RangeQuery(vehicle: vid("c"), from: .min, to: .max, fields: fields, order: order)
                        let viaRecords = try await client.range(query).records
                        let whole = try await client.rangeColumns(query)
                        #expect(whole.nextCursor == nil)
                        #expect(Self.same(whole.columns.records, viaRecords))
                        #expect(whole.columns.count == 41)
                        var frames = 0
                        try await client.rangeColumns(query) { page, _ in
                            frames += 1
                            #expect(page.count <= 7)
                        }
                        #expect(frames == 6)
                        // Pages of 10 by cursor, each the same as the record API's page.
                        var cursor: String? = nil
                        var paged = [TelemetryRecord]()
                        repeat {
                            var q = query
                            q.limit = 10
                            q.cursor = cursor
                            let page = try await client.rangeColumns(q)
                            let same = try await client.range(q)
                            #expect(Self.same(page.columns.records, same.records) && page.nextCursor == same.nextCursor)
                            paged += page.columns.records
                            cursor = page.nextCursor
                        } while cursor != nil
                        #expect(Self.same(paged, viaRecords))
                    }
                }
                let sealedThenKey = try await client.rangeColumns(RangeQuery(vehicle: vid("c"), from: 60_000, to: 120_001))
                #expect(sealedThenKey.columns.timestamps == [60_000, 61_000, 120_000])
                #expect(sealedThenKey.columns["i"]?.values == .mixed([.int(1), .string("after the seal"), .int(2)]))
            }
        }
    }

    @Test("tokens grant roles; outside its role a request is PERMISSION_DENIED; a bad token is refused and the connection closed")
    func authAndRoles() async throws {
        let tokens = [
            AccessToken(secret: "ingest-token-0123456789", role: .ingest),
            AccessToken(secret: "query-token-0123456789", role: .query),
            AccessToken(secret: "admin-token-0123456789", role: .admin),
        ]
        try await withServer({ $0.tokens = tokens }) { server in
            try await withTelemetryClient(server.clientConfiguration(token: "ingest-token-0123456789")) { client in
                let got2 = try await client.ingest([record("a", 1, [Field("x", .int(1))])]).accepted
                #expect(got2 == 1)
                let denied = await #expect(throws: StatusError.self) { try await client.vehicles() }
                #expect(denied?.code == .permissionDenied)
                #expect(denied?.message == "role ingest may not make list_vehicles requests")
                #expect(client.session?.role == "ingest")
            }
            try await withTelemetryClient(server.clientConfiguration(token: "query-token-0123456789")) { client in
                let got3 = try await client.vehicles().count
                #expect(got3 == 1)
                let denied = await #expect(throws: StatusError.self) { try await client.ingest([record("a", 2, [Field("x", .int(1))])]) }
                #expect(denied?.code == .permissionDenied)
                await #expect(throws: StatusError.self) { try await client.stats() }
            }
            try await withTelemetryClient(server.clientConfiguration(token: "admin-token-0123456789")) { client in
                let got4 = try await client.stats().records
                #expect(got4 == 1)
                let got5 = try await client.ingest([record("a", 3, [Field("x", .int(1))])]).accepted
                #expect(got5 == 1)
            }
            let refused = await #expect(throws: StatusError.self) {
                try await withTelemetryClient(server.clientConfiguration(token: "wrong-token-0123456789")) { client in try await client.ping() }
            }
            #expect(refused?.code == .unauthenticated)
            #expect(refused?.message == "the token is not valid")
            let none = await #expect(throws: StatusError.self) {
                try await withTelemetryClient(server.clientConfiguration(token: "")) { client in try await client.ping() }
            }
            #expect(none?.message == "this server requires a token; the hello has none")
            try await RawConnection.with(port: server.port) { raw in
                var ping = Telemetry_V1_RequestEnvelope()
                ping.requestID = 3
                ping.ping = .init()
                try await raw.send(ping)
                let before = try #require(try await raw.receive())
                #expect(before.requestID == 3 && before.status.code == 16)
                let hello = try #require(try await raw.hello(token: "nope-nope-nope-nope"))
                #expect(hello.status.code == 16)
                #expect(try await raw.receive() == nil, "the connection closes after a refused hello")
            }
        }
    }

    @Test("every malformed input gets its status, and a second client keeps being served")
    func malformedInputs() async throws {
        try await withServer({ $0.maxRecordsPerBatch = 100; $0.maxFrameBytes = 64 << 10 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { bystander in
                _ = try await bystander.ingest([record("bystander", 1, [Field("n", .int(0))])])
                var n: Int64 = 1
                func bystanderStillServed() async throws {
                    n += 1
                    let ack = try await bystander.ingest([record("bystander", n, [Field("n", .int(n))])])
                    #expect(ack.accepted == 1)
                }

                try await RawConnection.with(port: server.port) { raw in
                    #expect(try await raw.hello()?.status.code == 0)
                    var ping = Telemetry_V1_RequestEnvelope()
                    ping.requestID = 9
                    ping.ping = .init()

                    // Reserved flag bits: INVALID_ARGUMENT, connection stays usable.
                    try await raw.send(ping, flags: 0x80)
                    var answer = try #require(try await raw.receive())
                    #expect(answer.status.code == 3 && answer.status.message.contains("reserved bits"))
                    try await bystanderStillServed()

                    // A payload that is not protobuf.
                    try await raw.send(bytes: [0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF])
                    answer = try #require(try await raw.receive())
                    #expect(answer.status.code == 3 && answer.status.message.contains("RequestEnvelope"))
                    try await bystanderStillServed()

                    // Flagged snappy, not snappy.
                    try await raw.send(bytes: [1, 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
                    answer = try #require(try await raw.receive())
                    #expect(answer.status.code == 3 && answer.status.message.contains("snappy"))

                    // A request type from the future: unknown field 50 in the envelope.
                    // request_id 5 (08 05), then field 50 as an empty length-delimited value (92 03 00).
                    try await raw.send(bytes: [0, 0, 0, 0, 5, 0x08, 0x05, 0x92, 0x03, 0x00])
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 5 && answer.status.code == 12)

                    // A known body sent with the wrong wire type: ping (field 8) as a varint
                    // (40 01), not the "newer client" answer.
                    try await raw.send(bytes: [0, 0, 0, 0, 4, 0x08, 0x0A, 0x40, 0x01])
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 10 && answer.status.code == 3)
                    #expect(answer.status.message == "request 10: field 8 (ping) came with wire type 0 (varint); a request body is a message (wire type 2)")
                    // Beside a body that decoded (ping 42 00, then ingest as a varint 18 01):
                    // which one was meant is unknown, so neither is served.
                    try await raw.send(bytes: [0, 0, 0, 0, 6, 0x08, 0x0B, 0x42, 0x00, 0x18, 0x01])
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 11 && answer.status.code == 3 && answer.status.message.contains("field 3 (ingest)"))
                    // request_id as a length-delimited value (0A 01 31): its id unknown, answered
                    // with id 0 as a request that did not decode, not as request 0.
                    try await raw.send(bytes: [0, 0, 0, 0, 5, 0x0A, 0x01, 0x31, 0x42, 0x00])
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 0 && answer.status.code == 3)
                    #expect(answer.status.message.hasPrefix("request_id (field 1) came with wire type 2 (length-delimited)"))
                    try await bystanderStillServed()

                    // An envelope with no body.
                    try await raw.send(Telemetry_V1_RequestEnvelope.with { $0.requestID = 6 })
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 6 && answer.status.code == 3 && answer.status.message == "request 6 has no body")

                    // Bad records: each rejected with its reason, the good one stored.
                    var ingest = Telemetry_V1_RequestEnvelope()
                    ingest.requestID = 7
                    let tooLong = String(repeating: "x", count: 65)
                    let future = Int64(Date().timeIntervalSince1970 * 1000) + 3 * 86_400_000
                    ingest.ingest.records = [
                        record("ok-vehicle", 1, [Field("a", .int(1))]).wire,
                        .with { $0.vehicleID = ""; $0.provider = "generic"; $0.fields = [.with { $0.name = "a" }] },
                        .with { $0.vehicleID = tooLong; $0.provider = "generic"; $0.fields = [.with { $0.name = "a" }] },
                        .with { $0.vehicleID = "v"; $0.timestampMs = future; $0.provider = "generic"; $0.fields = [.with { $0.name = "a" }] },
                        .with { $0.vehicleID = "v"; $0.provider = "generic" },
                    ]
                    try await raw.send(ingest)
                    answer = try #require(try await raw.receive())
                    #expect(answer.status.code == 0 && answer.ingest.accepted == 1)
                    #expect(answer.ingest.rejected.map(\.index) == [1, 2, 3, 4])
                    #expect(answer.ingest.rejected.allSatisfy { $0.code == 3 })
                    #expect(answer.ingest.rejected[0].reason == "records[1]: vehicle_id: vehicle id is empty")
                    #expect(answer.ingest.rejected[1].reason == "records[2]: vehicle_id: vehicle id is 65 bytes long (max 64)")
                    #expect(answer.ingest.rejected[2].reason.hasPrefix("records[3]: timestamp_ms \(future) is more than 86400000 ms ahead"))
                    #expect(answer.ingest.rejected[3].reason == "records[4]: record has no fields")

                    // A vehicle id that is not UTF-8 makes the protobuf itself invalid.
                    var bad: [UInt8] = try ingest.serializedBytes()
                    let marker = Array("ok-vehicle".utf8)
                    if let at = (0...(bad.count - marker.count)).first(where: { Array(bad[$0..<($0 + marker.count)]) == marker }) {
                        bad[at] = 0xC3  // an unfinished two-byte sequence
                        bad[at + 1] = 0x28
                    }
                    try await raw.send(bytes: [0] + withUnsafeBytes(of: UInt32(bad.count).bigEndian, Array.init) + bad)
                    answer = try #require(try await raw.receive())
                    #expect(answer.status.code == 3)

                    // Too many records in one batch.
                    ingest.requestID = 8
                    ingest.ingest.records = (0..<101).map { record("v", Int64($0), [Field("a", .int(1))]).wire }
                    try await raw.send(ingest)
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 8 && answer.status.code == 8 && answer.status.message.contains("max_records_per_batch 100"))
                    try await bystanderStillServed()

                    // A frame over the limit: RESOURCE_EXHAUSTED at the header, then the connection closes.
                    try await raw.send(bytes: [0, 0x00, 0x10, 0x00, 0x01])
                    answer = try #require(try await raw.receive())
                    #expect(answer.requestID == 0 && answer.status.code == 8 && answer.status.message.contains("exceeds the maximum frame size"))
                    #expect(try await raw.receive() == nil)
                }
                try await bystanderStillServed()
                let stored = try await bystander.vehicles().map(\.vehicle.rawValue).sorted()
                #expect(stored == ["bystander", "ok-vehicle"])
            }
        }
    }

    @Test("past the connection limit a client gets UNAVAILABLE and is closed")
    func connectionLimit() async throws {
        try await withServer({ $0.maxConnections = 1 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { first in
                _ = try await first.ping()
                try await RawConnection.with(port: server.port) { raw in
                    let answer = try #require(try await raw.receive())
                    #expect(answer.status.code == 14 && answer.status.message.contains("limit of 1 connections"))
                    #expect(try await raw.receive() == nil)
                }
                // A client turned away learns why, whichever comes first: its hello's write
                // failing, or the server's frame.
                for _ in 0..<10 {
                    let refused = await #expect(throws: StatusError.self) {
                        try await withTelemetryClient(server.clientConfiguration()) { second in try await second.ping() }
                    }
                    #expect(refused?.code == .unavailable)
                    #expect(refused?.message.contains("limit of 1 connections") == true, "\(refused?.message ?? "")")
                }
                _ = try await first.ping()
            }
        }
    }

    @Test("a client that half-closes after pipelining large queries gets every answer whole before the close")
    func halfCloseGetsEveryAnswer() async throws {
        try await withServer { server in
            // Answers far larger than the socket buffers (about 5 MB), kept short: the shared
            // thread pool serves the other suites' servers meanwhile.
            try server.store.write(RawConnection.vehicles(5_000))
            try await RawConnection.with(port: server.port) { raw in
                _ = try await raw.hello()
                try await raw.sendListVehicles(1...30)
                try await raw.halfClose()
                var vehicles = 0
                var finished = Set<UInt64>()
                while let answer = try await raw.receive() {
                    #expect(answer.status.code == 0)
                    vehicles += answer.listVehicles.vehicles.count
                    if !answer.more { finished.insert(answer.requestID) }
                }
                #expect(finished == Set(1...30))
                #expect(vehicles == 30 * 5_000)
            }
        }
    }

    @Test("pipelined requests past the in-flight limit wait, none is dropped")
    func backpressure() async throws {
        try await withServer({ $0.maxInFlightPerConnection = 1 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let acks = try await withThrowingTaskGroup(of: Int.self) { group in
                    for b in 0..<20 {
                        let batch = (0..<50).map { i in record("bp-\(b)", Int64(i), [Field("i", .int(Int64(i)))]) }
                        group.addTask { try await client.ingest(batch).accepted }
                    }
                    return try await group.reduce(0, +)
                }
                #expect(acks == 1000)
                let got6 = try await client.vehicles().reduce(0) { $0 + $1.recordCount }
                #expect(got6 == 1000)
            }
        }
    }

    @Test("graceful shutdown answers the batches in flight; every acknowledged record is there after a reopen")
    func gracefulShutdown() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir + "/store"
            let acknowledged = try await {
                let store = try TelemetryStore(path: path)
                defer { store.close() }
                var acknowledged: [Int64] = []
                try await serve(store: store, path: path) { server in
                    var configuration = server.clientConfiguration()
                    configuration.retry = RetryPolicy(maxAttempts: 1)
                    try await withTelemetryClient(configuration) { client in
                        for b in 0..<5 {
                            let batch = (0..<500).map { i in record("gs", Int64(b * 500 + i), [Field("i", .int(Int64(i)))]) }
                            let ack = try await client.ingest(batch)
                            #expect(ack.accepted == 500)
                            acknowledged += batch.map(\.timestamp)
                        }
                        // 35 more pipelined on the same connection; shutdown starts while they are in flight.
                        acknowledged += await withTaskGroup(of: [Int64].self) { group in
                            for b in 5..<40 {
                                let batch = (0..<500).map { i in record("gs", Int64(b * 500 + i), [Field("i", .int(Int64(i)))]) }
                                group.addTask {
                                    guard let ack = try? await client.ingest(batch), ack.accepted == batch.count else { return [] }
                                    return batch.map(\.timestamp)
                                }
                                if b == 10 { server.trigger.triggerGracefulShutdown() }
                            }
                            return await group.reduce(into: []) { $0 += $1 }
                        }
                    }
                }
                return acknowledged
            }()
            let reopened = try TelemetryStore(path: path)
            defer { reopened.close() }
            let stored = Set(try reopened.range(RangeQuery(vehicle: vid("gs"), from: .min, to: .max)).records.map(\.timestamp))
            #expect(acknowledged.count >= 2500)
            #expect(Set(acknowledged).isSubset(of: stored), "an acknowledged record is missing after shutdown")
        }
    }

    @Test("calls from tasks on the client's connection thread: pipelined, answered exactly, and across a server restart")
    func callsOnTheClientExecutor() async throws {
        try await withRestartableServer(clientName: "executor-test") { store, path, port, configuration in
            try await serve(store: store, path: path, port: port) { _ in
                try await withTelemetryClient(configuration) { client in
                    try await withTaskExecutorPreference(client.taskExecutor) {
                        let ack = try await client.ingest(sample)
                        #expect(ack.accepted == sample.count)
                        // 40 calls in flight at once from child tasks that inherit the preference.
                        let answers = try await withThrowingTaskGroup(of: (Int, FieldValue?).self) { group in
                            for i in 0..<40 {
                                group.addTask {
                                    let latest = try await client.latest([vid(i % 2 == 0 ? "truck-1" : "van-2")])
                                    return (i, latest.states.first?["speed"]?.value)
                                }
                            }
                            return try await group.reduce(into: [Int: FieldValue?]()) { $0[$1.0] = $1.1 }
                        }
                        // Each answer is its own vehicle's latest speed (records 48 and 49 are the last).
                        #expect(answers.count == 40)
                        #expect(answers.allSatisfy { $0.value == .double(Double(48 + $0.key % 2) * 1.5) })
                        let page = try await client.range(RangeQuery(vehicle: vid("truck-1"), from: .min, to: .max))
                        #expect(page.records.count == 25)
                    }
                }
            }
            // No server when the call is made: the client retries, from its connection thread,
            // until the server is back.
            try await withTelemetryClient(configuration) { client in
                try await withTaskExecutorPreference(client.taskExecutor) {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            let vehicles = try await client.vehicles()
                            #expect(vehicles.count == 2)
                        }
                        try await Task.sleep(for: .milliseconds(200))
                        try await serve(store: store, path: path, port: port) { _ in try await group.waitForAll() }
                    }
                }
            }
        }
    }

    @Test("a client whose server restarts reconnects and its call succeeds after the backoff")
    func reconnect() async throws {
        try await withRestartableServer(clientName: "reconnect-test") { store, path, port, configuration in
            try await withTelemetryClient(configuration) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Nothing listens yet: the call waits and retries while the server comes back.
                    group.addTask {
                        let result = try await client.ingest([record("rc", 1, [Field("a", .int(1))])])
                        #expect(result.accepted == 1)
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    try await serve(store: store, path: path, port: port) { _ in
                        try await group.waitForAll()
                    }
                }
            }
            #expect(try store.vehicles().first?.recordCount == 1)
        }
    }
}

/// A server that greets properly, then answers every request with `answer`'s payload and
/// keeps the connection open.
private final class OddAnswers: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer
    private var greeted = false
    private let answer: [UInt8]

    init(answer: [UInt8]) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !greeted else {
            var payload = context.channel.allocator.buffer(capacity: answer.count)
            payload.writeBytes(answer)
            context.writeAndFlush(wrapOutboundOut(FrameEncoder.encode(payload: payload, allocator: context.channel.allocator)), promise: nil)
            return
        }
        greeted = true
        guard let request = try? EnvelopeCodec.decode(frame, as: Telemetry_V1_RequestEnvelope.self, maxBytes: 1 << 20, allocator: context.channel.allocator)
        else { return }
        var answer = Telemetry_V1_ResponseEnvelope()
        answer.requestID = request.requestID
        answer.hello.serverVersion = "fake"
        answer.hello.maxFrameBytes = 1 << 20
        answer.hello.maxInFlight = 8
        answer.hello.maxRecordsPerBatch = 100
        answer.hello.role = .admin
        if let bytes = try? EnvelopeCodec.encode(answer, compress: false, allocator: context.channel.allocator) {
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        }
    }
}

@Suite("Client against a misbehaving server")
struct MisbehavingServerTests {
    /// Pings a server that answers with `answer`; the error the ping ends with.
    ///
    /// The request timeout is long, and a timeout ends in DEADLINE_EXCEEDED: a client that
    /// waited for it instead of failing the request on the odd answer fails these tests on
    /// the status code. No wall-clock bound: on a loaded CI machine the whole suite shares
    /// two cores, and a bound tight enough to mean "at once" failed there.
    func ping(answeredWith answer: [UInt8]) async throws -> StatusError? {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1 << 20)))
                    try channel.pipeline.syncOperations.addHandler(OddAnswers(answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        var configuration = ClientConfiguration(port: listener.localAddress?.port ?? 0)
        configuration.requestTimeout = .seconds(120)
        configuration.retry = RetryPolicy(maxAttempts: 1, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(10))
        return await #expect(throws: StatusError.self) {
            try await withTelemetryClient(configuration) { client in _ = try await client.ping() }
        }
    }

    @Test("an answer that does not decode fails the waiting request at once with INTERNAL, not after its timeout")
    func undecodableAnswer() async throws {
        // 0xFF is a field header with wire type 7, which protobuf has not.
        let error = try await ping(answeredWith: [0xFF, 0xFF, 0xFF])
        #expect(error?.code == .internal)
        #expect(error?.message.contains("undecodable answer from the server") == true, "\(String(describing: error))")
    }

    @Test("an error about the connection (request id 0) on a connection the server keeps open fails the unanswered request at once")
    func connectionErrorKeptOpen() async throws {
        // What a server answers to a payload it could not decode: request id 0, and it stays open.
        var envelope = Telemetry_V1_ResponseEnvelope()
        envelope.status.code = 3
        envelope.status.message = "payload is not a valid telemetry.v1.RequestEnvelope (messageDepthLimit)"
        let error = try await ping(answeredWith: try envelope.serializedBytes())
        #expect(error?.code == .invalidArgument && error?.message.contains("messageDepthLimit") == true, "\(String(describing: error))")
    }
}

@Suite("Socket options")
struct SocketOptionTests {
    @Test("the no-delay option both ends set is TCP_NODELAY at the TCP level, not SO_DEBUG (which a non-root user may not set)")
    func noDelayIsTCPLevel() async throws {
        try await withServer { server in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(SocketOptions.noDelay, value: 1)
                .connect(host: "127.0.0.1", port: server.port).get()
            defer { channel.close(promise: nil) }
            // Read back from the socket itself (getsockopt).
            #expect(try await channel.getOption(ChannelOptions.tcpOption(.tcp_nodelay)).get() != 0)
            #expect(try await channel.getOption(ChannelOptions.socket(SocketOptionLevel(SOL_SOCKET), SO_DEBUG)).get() == 0)
        }
    }
}
