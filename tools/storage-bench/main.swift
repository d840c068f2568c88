// Storage-layer benchmark: loads the shared fleet dataset (gen_dataset.py's telemetry.bin,
// 96-byte packed records in arrival order) through TelemetryStore in process, runs the range
// queries once on the open (unsealed) partitions, seals every partition, compacts, then
// measures disk bytes per record, one-vehicle range queries, latest-state lookups and 1-minute
// downsampling. Prints a table and one JSON line.
//
// Usage: telemetry-storage-bench [--data /tmp/peers-data] [--db /tmp/telemetry-bench-db]
//        [--batch 1000] [--partition-ms 3600000] [--slot-ms 60000] [--write-buffer-mb N] [--writers N] [--sync] [--limit N]
//        [--ingest-only]   (stop after ingest: for profiling the write path)
import Foundation
import Synchronization
import TelemetryCore
import TelemetryStorage

struct Options {
    var data = "/tmp/peers-data"
    var db = "/tmp/telemetry-bench-db"
    var batch = 1000
    var partitionMs: Int64 = 3_600_000
    /// nil: the store's default key slot.
    var slotMs: Int64? = nil
    var sync = false
    var limit = Int.max
    var writeBufferMB = 0
    var writers = 1
    var ingestOnly = false

    init(_ args: [String]) {
        var i = 1
        func value() -> String {
            guard i + 1 < args.count else { fail("missing value for \(args[i])") }
            i += 1
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--data": data = value()
            case "--db": db = value()
            case "--batch": guard let n = Int(value()), n > 0 else { fail("--batch takes a positive number") }; batch = n
            case "--partition-ms": guard let n = Int64(value()), n > 0 else { fail("--partition-ms takes a positive number") }; partitionMs = n
            case "--slot-ms": guard let n = Int64(value()), n > 0 else { fail("--slot-ms takes a positive number") }; slotMs = n
            case "--sync": sync = true
            case "--ingest-only": ingestOnly = true
            case "--writers": guard let n = Int(value()), n > 0 else { fail("--writers takes a positive number") }; writers = n
            case "--write-buffer-mb": guard let n = Int(value()), n > 0 else { fail("--write-buffer-mb takes a positive number") }; writeBufferMB = n
            case "--limit": guard let n = Int(value()), n > 0 else { fail("--limit takes a positive number") }; limit = n
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("telemetry-storage-bench: \(message)\n".utf8))
    exit(2)
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func peakRSSKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ")[0]) ?? -1
    }
    return -1
}

func directoryBytes(_ path: String) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.reduce(0) { sum, name in
        let attrs = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
        return sum + ((attrs?[.size] as? Int) ?? 0)
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[Int((p * Double(sorted.count - 1)).rounded())]
}

let options = Options(CommandLine.arguments)

// The dataset is streamed: each writer reads its batch of 96-byte records from the file and
// builds the batch's TelemetryRecord values just before writing it, inside the timed loop, as a
// server decoding requests would. Nothing but the batch in flight is held in memory, so peak RSS
// is the store's own footprint.
let path = options.data + "/telemetry.bin"
let fd = open(path, O_RDONLY)
guard fd >= 0 else { fail("cannot read \(path): run ../shared/bench/peers/gen_dataset.py first") }
var fileStat = stat()
guard fstat(fd, &fileStat) == 0 else { fail("cannot stat \(path)") }
let recordBytes = 96
let count = min(Int(fileStat.st_size) / recordBytes, options.limit)
let batchCount = (count + options.batch - 1) / options.batch
let names = ["lat", "lon", "speed_kmh", "heading_deg", "altitude_m", "odometer_km", "fuel_level_pct", "battery_v", "hdop"]

/// Reads batch `index` from the file and decodes it into records.
@Sendable func makeBatch(_ index: Int, buffer: inout [UInt8]) -> [TelemetryRecord] {
    let first = index * options.batch
    let n = min(options.batch, count - first)
    buffer.withUnsafeMutableBytes { raw in
        var done = 0
        while done < n * recordBytes {
            let got = pread(fd, raw.baseAddress! + done, n * recordBytes - done, off_t(first * recordBytes + done))
            guard got > 0 else { fail("short read from \(path) at record \(first)") }
            done += got
        }
    }
    var records = [TelemetryRecord]()
    records.reserveCapacity(n)
    buffer.withUnsafeBytes { raw in
        for i in 0..<n {
            let base = i * recordBytes
            let ts = raw.loadUnaligned(fromByteOffset: base, as: Int64.self)
            // A server validates every id it decodes (from a protobuf string); so does the benchmark.
            let id = String(decoding: UnsafeRawBufferPointer(rebasing: raw[(base + 8)..<(base + 18)]), as: UTF8.self)
            guard let vehicle = try? VehicleID(id) else {
                fail("bad vehicle id in record \(first + i)")
            }
            var fields = [Field]()
            fields.reserveCapacity(12)
            for (j, name) in names.enumerated() {
                fields.append(Field(name, .double(raw.loadUnaligned(fromByteOffset: base + 18 + j * 8, as: Double.self))))
            }
            fields.append(Field("engine_rpm", .int(Int64(raw.loadUnaligned(fromByteOffset: base + 90, as: Int32.self)))))
            fields.append(Field("ignition", .bool(raw[base + 94] != 0)))
            fields.append(Field("satellites", .int(Int64(raw[base + 95]))))
            records.append(TelemetryRecord(vehicle: vehicle, timestamp: ts, fields: fields,
                provenance: Provenance(provider: "bench", mappingVersion: "identity", receivedAt: ts + 250)))
        }
    }
    return records
}

try? FileManager.default.removeItem(atPath: options.db)
var configuration = StoreConfiguration(durability: options.sync ? .sync : .buffered)
configuration.partitionWidthMs = options.partitionMs
if let slot = options.slotMs { configuration.keySlotWidthMs = slot }
if options.writeBufferMB > 0 { configuration.leveldb.writeBufferBytes = options.writeBufferMB << 20 }
let store = try TelemetryStore(path: options.db, configuration: configuration)

// Writers take batches in arrival order from a shared counter, as concurrent gateway
// connections would.
let next = Atomic<Int>(0)
let writtenTotal = Atomic<Int>(0)
// Records older than their vehicle's newest stored one when their batch committed: with several
// writers taking consecutive batches, a batch can commit after the next one.
let lateTotal = Atomic<Int>(0)
let failures = Mutex<[String]>([])
let t0 = now()
DispatchQueue.concurrentPerform(iterations: options.writers) { _ in
    var buffer = [UInt8](repeating: 0, count: options.batch * recordBytes)
    while true {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        guard i < batchCount else { return }
        do {
            let summary = try store.write(makeBatch(i, buffer: &buffer))
            writtenTotal.wrappingAdd(summary.written, ordering: .relaxed)
            lateTotal.wrappingAdd(summary.late, ordering: .relaxed)
        } catch {
            failures.withLock { $0.append("\(error)") }
            return
        }
    }
}
let ingestSeconds = now() - t0
if let failure = failures.withLock({ $0.first }) { fail("write failed: \(failure)") }
let written = writtenTotal.load(ordering: .relaxed)
let rssAfterIngest = peakRSSKiB()
if ProcessInfo.processInfo.environment["BENCH_LEVELDB_STATS"] != nil {
    print(try store.leveldbProperty("leveldb.stats") ?? "")
}
if options.ingestOnly {
    store.close()
    print(String(format: "ingest        %10.0f records/s (%d records in %.2f s, batches of %d, %d writers, %d late)", Double(count) / ingestSeconds, count, ingestSeconds, options.batch, options.writers, lateTotal.load(ordering: .relaxed)))
    exit(0)
}
// Queries: the shared 1000 specs (vehicle + 1-hour window).
let specs: [(VehicleID, Int64, Int64)] = ((try? String(contentsOfFile: options.data + "/queries.tsv", encoding: .utf8)) ?? "")
    .split(separator: "\n").compactMap { line in
        let p = line.split(separator: "\t")
        guard p.count == 3, let v = try? VehicleID(String(p[0])), let a = Int64(p[1]), let b = Int64(p[2]) else { return nil }
        return (v, a, b)
    }
guard !specs.isEmpty else { fail("no query specs in \(options.data)/queries.tsv") }
// The same range queries on the records as ingest left them: record keys in open partitions,
// read slot by slot (docs/storage-format.md, section 5), while LevelDB may still be compacting.
var headRangeMs = [Double]()
for (vehicle, from, to) in specs {
    let s = now()
    let page = try store.range(RangeQuery(vehicle: vehicle, from: from, to: to))
    headRangeMs.append((now() - s) * 1e3)
    guard !page.records.isEmpty else { fail("no records for \(vehicle) in [\(from), \(to)) before sealing") }
}
let bytesBefore = directoryBytes(options.db)
// Seal every partition, the newest included: ingest is over, so all of it is history now.
// (A server seals only partitions older than the grace period; see StoreConfiguration.)
let s0 = now()
let sealSummary = try store.seal(upTo: .max)
let sealSeconds = now() - s0
let bytesAfterSeal = directoryBytes(options.db)
let c0 = now()
try store.compact()
let compactSeconds = now() - c0
let bytesAfter = directoryBytes(options.db)

var rangeMs = [Double](), latestMs = [Double](), downsampleMs = [Double]()
var points = 0
var checksum = 0.0
for (vehicle, from, to) in specs {
    let s = now()
    let page = try store.range(RangeQuery(vehicle: vehicle, from: from, to: to))
    rangeMs.append((now() - s) * 1e3)
    points += page.records.count
    checksum += page.records.first?["speed_kmh"]?.numericValue ?? 0
}
for (vehicle, _, _) in specs {
    let s = now()
    let state = try store.latest(vehicle)
    latestMs.append((now() - s) * 1e3)
    checksum += Double(state?.timestamp ?? 0)
}
let meta = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: options.data + "/meta.json")))) as? [String: Any]
let t0ms = (meta?["t0_ms"] as? Int64) ?? Int64((meta?["t0_ms"] as? Int) ?? 0)
let tEnd = (meta?["t_end_ms"] as? Int64) ?? Int64((meta?["t_end_ms"] as? Int) ?? Int(Int64.max))
for (vehicle, _, _) in specs {
    let s = now()
    let buckets = try store.aggregate(vehicle: vehicle, from: t0ms, to: tEnd, bucketMs: 60_000, fields: ["speed_kmh"])
    downsampleMs.append((now() - s) * 1e3)
    checksum += buckets.reduce(0) { $0 + ($1.fields.first?.average ?? 0) }
}
store.close()

let total = count
close(fd)
let result: [String: Any] = [
    "records": total, "written": written, "batch": options.batch, "partition_ms": options.partitionMs, "slot_ms": store.keySlotWidthMs, "sync": options.sync, "writers": options.writers, "write_buffer_mb": options.writeBufferMB,
    "ingest_s": ingestSeconds, "late": lateTotal.load(ordering: .relaxed), "ingest_rec_s": Double(total) / ingestSeconds,
    "disk_bytes_before_compact": bytesBefore, "seal_s": sealSeconds, "sealed_blocks": sealSummary.blocks,
    "sealed_records": sealSummary.records, "disk_bytes_after_seal": bytesAfterSeal, "compact_s": compactSeconds, "disk_bytes": bytesAfter,
    "bytes_per_record": Double(bytesAfter) / Double(total),
    "range_queries": specs.count, "range_points_avg": Double(points) / Double(specs.count),
    "range_median_ms": percentile(rangeMs, 0.5), "range_p99_ms": percentile(rangeMs, 0.99),
    "open_range_median_ms": percentile(headRangeMs, 0.5), "open_range_p99_ms": percentile(headRangeMs, 0.99),
    "latest_median_ms": percentile(latestMs, 0.5), "latest_p99_ms": percentile(latestMs, 0.99),
    "downsample_median_ms": percentile(downsampleMs, 0.5), "downsample_p99_ms": percentile(downsampleMs, 0.99),
    "vmhwm_kib_after_ingest": rssAfterIngest, "peak_rss_kib": peakRSSKiB(), "checksum": checksum,
]
print(String(format: "ingest        %10.0f records/s (%d records in %.2f s, batches of %d, %d writers)", Double(total) / ingestSeconds, total, ingestSeconds, options.batch, options.writers))
print(String(format: "seal          %10.2f s (%d blocks, %d records)", sealSeconds, sealSummary.blocks, sealSummary.records))
print(String(format: "disk          %10.2f bytes/record after seal and compaction (%.2f before; compaction %.2f s)", Double(bytesAfter) / Double(total), Double(bytesBefore) / Double(total), compactSeconds))
print(String(format: "range (1 h)   %10.3f ms median, %.3f ms p99, %.0f points", percentile(rangeMs, 0.5), percentile(rangeMs, 0.99), Double(points) / Double(specs.count)))
print(String(format: "open range    %10.3f ms median, %.3f ms p99 (before sealing, key slots of %d ms)", percentile(headRangeMs, 0.5), percentile(headRangeMs, 0.99), store.keySlotWidthMs))
print(String(format: "latest        %10.4f ms median, %.4f ms p99", percentile(latestMs, 0.5), percentile(latestMs, 0.99)))
print(String(format: "downsample    %10.3f ms median, %.3f ms p99 (1-min avg speed, whole range)", percentile(downsampleMs, 0.5), percentile(downsampleMs, 0.99)))
print(String(format: "peak RSS      %10.0f MiB", Double(peakRSSKiB()) / 1024))
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
