// Load generator (docs/BENCHMARKS.md): replays a line-protocol dataset (gen_dataset.py's
// telemetry.lp) into telemetryd over N connections with W batches in flight on each, then
// measures query latencies over TCP. The file is parsed and every batch encoded into its
// frame before the clock starts, as the peers' loader pre-splits its batches: the figure
// is the server's, not the parser's.
//
// Usage: telemetry-load --port 7400 [--data /tmp/peers-data] [--connections 4] [--window 4]
//        [--batch 5000] [--limit N] [--token T] [--server-pid PID] [--queries 1000] [--compact]
//        [--shape as-is|bench|navixy] [--probe-ms N]
// --probe-ms: while ingest runs, a separate connection sends a ping and a latest query every
// N ms and reports their latencies (what a health check or a dashboard sees during a burst).
// --shape: the records as the file has them (provider `telemetry`), as provider `bench`
// (bench.yaml maps them), or as Navixy packets (BenchmarkDataset.navixyRecord: the same
// values under the names navixy.yaml reads), for the mapping figure of issue 4.
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TelemetryCLI
import TelemetryClient
import TelemetryCore
import TelemetryMapping
import TelemetryWire

struct Options {
    var host = "127.0.0.1"
    var port = 7400
    var data = "/tmp/peers-data"
    var connections = 4
    var window = 4
    var batch = 5000
    var limit = Int.max
    var token = ""
    var serverPID: Int32?
    var queries = 1000
    var compact = false
    var shape = "as-is"
    var probeMs: Int?

    init(_ args: [String]) {
        var i = 1
        func value() -> String {
            guard i + 1 < args.count else { fail("missing value for \(args[i])") }
            i += 1
            return args[i]
        }
        func positive(_ name: String) -> Int {
            guard let n = Int(value()), n > 0 else { fail("\(name) takes a positive number") }
            return n
        }
        while i < args.count {
            switch args[i] {
            case "--host": host = value()
            case "--port": port = positive("--port")
            case "--data": data = value()
            case "--connections": connections = positive("--connections")
            case "--window": window = positive("--window")
            case "--batch": batch = positive("--batch")
            case "--limit": limit = positive("--limit")
            case "--token": token = value()
            case "--server-pid": serverPID = Int32(positive("--server-pid"))
            case "--queries": queries = positive("--queries")
            case "--compact": compact = true
            case "--probe-ms": probeMs = positive("--probe-ms")
            case "--shape":
                shape = value()
                guard ["as-is", "bench", "navixy"].contains(shape) else { fail("--shape takes as-is, bench or navixy") }
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
    }
}

/// Tells the probe that ingest is over.
final class ProbeStop: Sendable {
    let over = Atomic<Bool>(false)
}

/// Sends a ping, then a latest query for `vehicle`, every `intervalMs` until `stop`; returns
/// their latencies in ms.
func runProbe(
    _ configuration: ClientConfiguration, vehicle: VehicleID?, intervalMs: Int, stop: ProbeStop
) async throws -> (ping: [Double], latest: [Double]) {
    try await withTelemetryClient(configuration) { client in
        _ = try await client.ping()
        var ping = [Double](), latest = [Double]()
        while !stop.over.load(ordering: .relaxed) {
            var s = now()
            _ = try await client.ping()
            ping.append((now() - s) * 1e3)
            if let vehicle {
                s = now()
                _ = try await client.latest([vehicle])
                latest.append((now() - s) * 1e3)
            }
            try await Task.sleep(for: .milliseconds(intervalMs))
        }
        return (ping, latest)
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("telemetry-load: \(message)\n".utf8))
    exit(2)
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[Int((p * Double(sorted.count - 1)).rounded())]
}

func vmHWMKiB(pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) ?? -1
    }
    return -1
}

let options = Options(CommandLine.arguments)
let allocator = ByteBufferAllocator()

// 1. Parse and encode before the clock starts.
var frames = [ByteBuffer]()
var batchSizes = [Int]()
do {
    let parseStart = now()
    let reader = try RecordFileReader(path: options.data + "/telemetry.lp", format: .lineProtocol, options: InputOptions())
    var total = 0
    var requestID: UInt64 = 100
    while total < options.limit, var records = try reader.nextBatch(maxRecords: min(options.batch, options.limit - total)) {
        switch options.shape {
        case "bench": records = records.map { ProviderRecord(vehicle: $0.vehicle, timestamp: $0.timestamp, provider: "bench", fields: $0.fields) }
        case "navixy": records = records.map(BenchmarkDataset.navixyRecord(from:))
        default: break
        }
        var envelope = Telemetry_V1_RequestEnvelope()
        requestID += 1
        envelope.requestID = requestID
        envelope.ingest.columnar = Columnar.encode(records)
        frames.append(try EnvelopeCodec.encode(envelope, compress: false, allocator: allocator))
        batchSizes.append(records.count)
        total += records.count
    }
    FileHandle.standardError.write(Data("parsed and encoded \(total) records in \(frames.count) batches in \(String(format: "%.1f", now() - parseStart)) s\n".utf8))
} catch {
    fail("cannot read \(options.data)/telemetry.lp: \(error)")
}
let totalRecords = batchSizes.reduce(0, +)

// 2. Ingest: every connection says hello, then keeps `window` batches in flight, taking the
// next batch from a shared counter, until all are acknowledged.
final class IngestState: Sendable {
    let next = Atomic<Int>(0)
    let acknowledged = Atomic<Int>(0)
    let stored = Atomic<Int>(0)
    let duplicates = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
}

final class IngestHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    let state: IngestState
    let frames: [ByteBuffer]
    let window: Int
    let done: EventLoopPromise<Void>
    let hello: ByteBuffer
    var greeted = false
    var inFlight = 0

    init(state: IngestState, frames: [ByteBuffer], window: Int, hello: ByteBuffer, done: EventLoopPromise<Void>) {
        self.state = state
        self.frames = frames
        self.window = window
        self.hello = hello
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(hello), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let answer = try? EnvelopeCodec.decode(frame, as: Telemetry_V1_ResponseEnvelope.self, maxBytes: 1 << 26, allocator: context.channel.allocator) else {
            state.failures.withLock { $0.append("undecodable answer") }
            context.close(promise: nil)
            return
        }
        guard answer.status.code == 0 else {
            state.failures.withLock { $0.append("status \(answer.status.code): \(answer.status.message)") }
            context.close(promise: nil)
            return
        }
        if !greeted {
            greeted = true
        } else {
            inFlight -= 1
            state.acknowledged.wrappingAdd(1, ordering: .relaxed)
            state.stored.wrappingAdd(Int(answer.ingest.accepted), ordering: .relaxed)
            state.duplicates.wrappingAdd(Int(answer.ingest.duplicates), ordering: .relaxed)
            if !answer.ingest.rejected.isEmpty {
                state.failures.withLock { $0.append("rejected: \(answer.ingest.rejected[0].reason)") }
            }
        }
        fill(context: context)
    }

    private func fill(context: ChannelHandlerContext) {
        var wrote = false
        while inFlight < window {
            let i = state.next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard i < frames.count else { break }
            inFlight += 1
            context.write(NIOAny(frames[i]), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
        if inFlight == 0 { done.succeed(()) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.failures.withLock { $0.append("\(error)") }
        context.close(promise: nil)
        done.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(())
    }
}

var helloEnvelope = Telemetry_V1_RequestEnvelope()
helloEnvelope.requestID = 1
helloEnvelope.hello.protocolVersion = 1
helloEnvelope.hello.token = options.token
helloEnvelope.hello.clientName = "telemetry-load"
let helloFrame = try EnvelopeCodec.encode(helloEnvelope, compress: false, allocator: allocator)

let state = IngestState()
let group = MultiThreadedEventLoopGroup.singleton

// The probe: its own connection, opened before the clock starts, one request at a time.
// The vehicle of the first shared query spec: one the dataset has.
let probeVehicle: VehicleID? = ((try? String(contentsOfFile: options.data + "/queries.tsv", encoding: .utf8)) ?? "")
    .split(separator: "\n").first.flatMap { $0.split(separator: "\t").first }.flatMap { try? VehicleID(String($0)) }
let probeStop = ProbeStop()
let probe: Task<(ping: [Double], latest: [Double]), any Error>? = options.probeMs.map { interval in
    var configuration = ClientConfiguration(host: options.host, port: options.port, token: options.token, clientName: "telemetry-load-probe")
    configuration.requestTimeout = .seconds(600)
    return Task { [configuration, probeVehicle, probeStop] in
        try await runProbe(configuration, vehicle: probeVehicle, intervalMs: interval, stop: probeStop)
    }
}
if probe != nil { try await Task.sleep(for: .milliseconds(200)) }
let sharedFrames = frames
frames = []
let rssBefore = options.serverPID.map(vmHWMKiB) ?? -1
let t0 = now()
var dones = [EventLoopFuture<Void>]()
var channels = [any Channel]()
for _ in 0..<options.connections {
    let loop = group.next()
    let done = loop.makePromise(of: Void.self)
    let window = options.window
    let channel: any Channel
    do {
        channel = try await ClientBootstrap(group: loop)
            .channelOption(SocketOptions.noDelay, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1 << 26)))
                    try channel.pipeline.syncOperations.addHandler(
                        IngestHandler(state: state, frames: sharedFrames, window: window, hello: helloFrame, done: done))
                }
            }
            .connect(host: options.host, port: options.port).get()
    } catch {
        fail("cannot connect to \(options.host):\(options.port): \(error)")
    }
    channels.append(channel)
    dones.append(done.futureResult)
}
for d in dones {
    do { try await d.get() } catch { fail("an ingest connection failed: \(error)") }
}
let ingestSeconds = now() - t0
probeStop.over.store(true, ordering: .relaxed)
let probed = try await probe?.value
for c in channels { c.close(promise: nil) }
if let failure = state.failures.withLock({ $0.first }) { fail("ingest failed: \(failure)") }
let acked = state.acknowledged.load(ordering: .relaxed)
guard acked == sharedFrames.count else { fail("only \(acked) of \(sharedFrames.count) batches were acknowledged") }
let rate = Double(totalRecords) / ingestSeconds
FileHandle.standardError.write(Data("ingest: \(totalRecords) records in \(String(format: "%.2f", ingestSeconds)) s = \(Int(rate)) records/s\n".utf8))

// 3. Queries over one connection, one at a time (latency, not throughput).
let specs: [(VehicleID, Int64, Int64)] = ((try? String(contentsOfFile: options.data + "/queries.tsv", encoding: .utf8)) ?? "")
    .split(separator: "\n").compactMap { line in
        let p = line.split(separator: "\t")
        guard p.count == 3, let v = try? VehicleID(String(p[0])), let a = Int64(p[1]), let b = Int64(p[2]) else { return nil }
        return (v, a, b)
    }.prefix(options.queries).map { $0 }
var configuration = ClientConfiguration(host: options.host, port: options.port, token: options.token, clientName: "telemetry-load")
configuration.requestTimeout = .seconds(600)
let meta = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: options.data + "/meta.json")))) as? [String: Any]
let tStart = (meta?["t0_ms"] as? NSNumber)?.int64Value ?? 0
let tEnd = (meta?["t_end_ms"] as? NSNumber)?.int64Value ?? Int64.max
struct QueryFigures: Sendable {
    var values: [String: Double]
}
let results = try await withTelemetryClient(configuration) { client -> QueryFigures in
    // One request at a time, latency-bound: the calls run on the client's connection thread
    // (TelemetryClient.taskExecutor), as a latency-minded application would run them.
    try await withTaskExecutorPreference(client.taskExecutor) {
        var compactSeconds = 0.0
        var diskBytes: UInt64 = 0
        if options.compact {
            // Like the peers' force merge: the whole dataset is history, so every partition is sealed.
            let c = try await client.compact(sealAll: true)
            compactSeconds = c.seconds
            diskBytes = c.bytesAfter
        }
        var rangeMs = [Double](), rangeRecordsMs = [Double](), latestMs = [Double](), downsampleMs = [Double]()
        var points = 0, recordPoints = 0
        // The range figure is the columnar API's (the answer decoded into typed columns, as an
        // analyst charting or summing a field uses it); the records API, which also builds a
        // TelemetryRecord per row, is measured beside it.
        for (vehicle, from, to) in specs {
            let s = now()
            let page = try await client.rangeColumns(RangeQuery(vehicle: vehicle, from: from, to: to))
            rangeMs.append((now() - s) * 1e3)
            points += page.columns.count
        }
        for (vehicle, from, to) in specs {
            let s = now()
            let page = try await client.range(RangeQuery(vehicle: vehicle, from: from, to: to))
            rangeRecordsMs.append((now() - s) * 1e3)
            recordPoints += page.records.count
        }
        guard recordPoints == points else { fail("the records API gave \(recordPoints) records, the columns API \(points)") }
        for (vehicle, _, _) in specs {
            let s = now()
            let latest = try await client.latest([vehicle])
            latestMs.append((now() - s) * 1e3)
            guard latest.states.count == 1 else { fail("no latest state for \(vehicle)") }
        }
        // A ping is the protocol's round trip with no work behind it: what latest costs on top
        // of it is the lookup.
        var pingMs = [Double]()
        for _ in specs {
            let s = now()
            _ = try await client.ping()
            pingMs.append((now() - s) * 1e3)
        }
        for (vehicle, _, _) in specs.prefix(100) {
            let s = now()
            _ = try await client.aggregate(vehicle: vehicle, from: tStart, to: tEnd, bucketMs: 60_000, fields: ["speed_kmh"])
            downsampleMs.append((now() - s) * 1e3)
        }
        let stats = try await client.stats()
        return QueryFigures(values: [
            "range_median_ms": percentile(rangeMs, 0.5), "range_p99_ms": percentile(rangeMs, 0.99),
            "range_records_median_ms": percentile(rangeRecordsMs, 0.5),
            "range_points_avg": specs.isEmpty ? 0 : Double(points) / Double(specs.count),
            "latest_median_ms": percentile(latestMs, 0.5), "latest_p99_ms": percentile(latestMs, 0.99),
            "ping_median_ms": percentile(pingMs, 0.5),
            "downsample_median_ms": percentile(downsampleMs, 0.5), "downsample_p99_ms": percentile(downsampleMs, 0.99),
            "stored_records": Double(stats.records), "compact_s": compactSeconds,
            "disk_bytes": Double(diskBytes), "bytes_per_record": diskBytes > 0 ? Double(diskBytes) / Double(totalRecords) : 0,
        ])
    }
}
var output: [String: Any] = results.values
output["records"] = totalRecords
output["batches"] = sharedFrames.count
output["batch"] = options.batch
output["connections"] = options.connections
output["window"] = options.window
output["ingest_s"] = ingestSeconds
output["ingest_rec_s"] = rate
output["stored"] = state.stored.load(ordering: .relaxed)
output["duplicates"] = state.duplicates.load(ordering: .relaxed)
if let probed, !probed.ping.isEmpty {
    output["probe_pings"] = probed.ping.count
    output["probe_ping_median_ms"] = percentile(probed.ping, 0.5)
    output["probe_ping_p99_ms"] = percentile(probed.ping, 0.99)
    output["probe_ping_max_ms"] = probed.ping.max() ?? 0
    if !probed.latest.isEmpty {
        output["probe_latest_median_ms"] = percentile(probed.latest, 0.5)
        output["probe_latest_p99_ms"] = percentile(probed.latest, 0.99)
        output["probe_latest_max_ms"] = probed.latest.max() ?? 0
    }
}
if let pid = options.serverPID {
    output["server_vmhwm_kib_before_ingest"] = rssBefore
    output["server_peak_rss_kib"] = vmHWMKiB(pid: pid)
}
let json = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
