import ArgumentParser
import Foundation
import Testing
import TelemetryCLI
import TelemetryClient
import TelemetryCore
import TelemetryServer
import TelemetryStorage

@Suite("telemetryctl against a live server")
struct CommandLineTests {
    func run(_ arguments: [String]) async throws {
        var command = try TelemetryCommand.parseAsRoot(arguments)
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    }

    @Test("ingest a CSV file, re-ingest it as duplicates, and read it back")
    func ingestCSV() async throws {
        try await withServer { server in
            try await withTemporaryDirectory { dir in
                let file = dir + "/sample.csv"
                try """
                    vehicle,timestamp,provider,lat,speed_kmh,ignition
                    truck-17,2024-05-01T08:00:00Z,generic,48.8566,0,false
                    truck-17,2024-05-01T08:00:10Z,generic,48.8571,31.5,true
                    van-3,2024-05-01T08:00:05Z,generic,45.7640,12.2,true
                    """.write(toFile: file, atomically: true, encoding: .utf8)
                try await run(["ingest", "--port", "\(server.port)", "--quiet", file])
                try await run(["ingest", "--port", "\(server.port)", "--quiet", file])
                let vehicles = try server.store.vehicles()
                #expect(vehicles.map(\.vehicle.rawValue) == ["truck-17", "van-3"])
                #expect(vehicles.map(\.recordCount) == [2, 1])
                let page = try server.store.range(RangeQuery(vehicle: try VehicleID("truck-17"), from: .min, to: .max))
                #expect(page.records.last?["speed_kmh"] == .double(31.5))
                #expect(page.records.last?["ignition"] == .bool(true))
                #expect(page.records.first?.timestamp == 1_714_550_400_000)
                try await run(["query", "--port", "\(server.port)", "truck-17", "--format", "jsonl"])
                try await run(["latest", "--port", "\(server.port)", "truck-17"])
                try await run(["aggregate", "--port", "\(server.port)", "truck-17", "--fields", "speed_kmh"])
            }
        }
    }

    @Test("ingest stops at a bad line or a failed batch; the batches before it are stored, nothing after it is sent")
    func ingestStops() async throws {
        let tokens = [AccessToken(secret: "ingest-token-0123456789", role: .ingest), AccessToken(secret: "query-token-0123456789", role: .query)]
        try await withServer({ $0.tokens = tokens }) { server in
            try await withTemporaryDirectory { dir in
                let file = dir + "/partly-bad.csv"
                try "vehicle,timestamp,x\nv,1,1\nv,2,2\nv,3\nv,4,4\n".write(toFile: file, atomically: true, encoding: .utf8)
                let bad = await #expect(throws: ExitCode.self) {
                    try await run(["ingest", "--port", "\(server.port)", "--token", "ingest-token-0123456789", "--quiet", "--batch", "1", "--window", "1", file])
                }
                #expect(bad == ExitCode(65))
                #expect(try server.store.vehicles().first?.recordCount == 2, "lines 1 and 2 stored, line 4 never sent")

                // The server refuses the batches as a whole (a token without the ingest role):
                // the command stops with that status after the batches in flight.
                let big = dir + "/big.csv"
                try ("vehicle,timestamp,x\n" + (10..<20).map { "w,\($0),1\n" }.joined()).write(toFile: big, atomically: true, encoding: .utf8)
                let refused = await #expect(throws: ExitCode.self) {
                    try await run(["ingest", "--port", "\(server.port)", "--token", "query-token-0123456789", "--quiet", "--batch", "3", "--window", "2", big])
                }
                #expect(refused == ExitCode(107))
                #expect(try server.store.vehicles().map(\.vehicle.rawValue) == ["v"])
            }
        }
    }

    @Test("a CSV export that left out a field exits 3; records merged into one millisecond are counted as replaced")
    func incompleteExportAndMergedRecords() async throws {
        try await withServer({ $0.recordsPerFrame = 3 }) { server in
            try await withTemporaryDirectory { dir in
                // "late" appears only in the fifth record, on the second page of three.
                let file = dir + "/f.jsonl"
                try (0..<5).map { i in
                    #"{"vehicle":"x","timestamp":\#(i + 1),"fields":{"a":\#(i)\#(i == 4 ? #","late":true"# : "")}}"#
                }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
                try await run(["ingest", "--port", "\(server.port)", "--quiet", file])
                let csv = await #expect(throws: ExitCode.self) { try await run(["query", "--port", "\(server.port)", "x", "--format", "csv"]) }
                #expect(csv == ExitCode(3))
                // Named, or as JSON lines, nothing is left out.
                try await run(["query", "--port", "\(server.port)", "x", "--format", "csv", "--fields", "a,late"])
                try await run(["query", "--port", "\(server.port)", "x", "--format", "jsonl"])
            }
            // Three records in one millisecond (as finer input cut to the millisecond would be): the store keeps the last one,
            // and the answer says two were replaced.
            try await withTelemetryClient(server.clientConfiguration()) { client in
                let result = try await client.ingest([
                    record("m", 10, [Field("a", .int(1))]), record("m", 10, [Field("a", .int(2))]), record("m", 10, [Field("a", .int(3))]),
                ])
                #expect(result.accepted == 3 && result.replaced == 2)
                let page = try await client.range(RangeQuery(vehicle: try VehicleID("m"), from: .min, to: .max))
                #expect(page.records.map { $0["a"] } == [.int(3)])
                // A different record at a stored millisecond replaces it too.
                #expect(try await client.ingest([record("m", 10, [Field("a", .int(4))])]).replaced == 1)
                #expect(try await client.ingest([record("m", 10, [Field("a", .int(4))])]).replaced == 0)
            }
        }
    }

    @Test("server statuses and bad files become distinct exit codes")
    func exitCodes() async throws {
        try await withServer { server in
            let unknown = await #expect(throws: ExitCode.self) { try await run(["latest", "--port", "\(server.port)", "nobody"]) }
            #expect(unknown == ExitCode(105))
            try await withTemporaryDirectory { dir in
                let file = dir + "/bad.csv"
                try "vehicle,timestamp,x\n,5,1\n".write(toFile: file, atomically: true, encoding: .utf8)
                let bad = await #expect(throws: ExitCode.self) { try await run(["ingest", "--port", "\(server.port)", "--quiet", file]) }
                #expect(bad == ExitCode(65))
            }
        }
        // A server that answers UNAVAILABLE itself (here: at its connection limit) is not
        // "unreachable": 114, the server's status.
        try await withServer({ $0.maxConnections = 1 }) { server in
            try await withTelemetryClient(server.clientConfiguration()) { first in
                _ = try await first.ping()
                let busy = await #expect(throws: ExitCode.self) {
                    try await run(["ping", "--port", "\(server.port)", "--attempts", "1", "--timeout", "5"])
                }
                #expect(busy == ExitCode(114))
            }
        }
        // Nothing listens on this port now.
        var port = 0
        try await withServer { server in port = server.port }
        let down = await #expect(throws: ExitCode.self) {
            try await run(["ping", "--port", "\(port)", "--attempts", "1", "--timeout", "2"])
        }
        #expect(down == ExitCode(69))
        // Ingest connects before it reads a batch: the same exit, nothing sent.
        try await withTemporaryDirectory { dir in
            let file = dir + "/one.csv"
            try "vehicle,timestamp,x\nv,1,1\n".write(toFile: file, atomically: true, encoding: .utf8)
            let unsent = await #expect(throws: ExitCode.self) {
                try await run(["ingest", "--port", "\(port)", "--attempts", "1", "--timeout", "2", "--quiet", file])
            }
            #expect(unsent == ExitCode(69))
        }
    }
}
