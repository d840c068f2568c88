// Mapping-engine benchmark (docs/BENCHMARKS.md, "Mapping engine"): the cost of turning one
// provider record into the canonical record to store, on one core, with the per-vehicle state
// handled as the ingest pipeline handles it.
//
// Records: the first --records of the benchmark dataset (telemetry.lp), as they are (identity,
// generic, bench), as Navixy packets (BenchmarkDataset.navixyRecord: the 12 fields under
// Navixy's names), and as a full Navixy
// packet (every example value of ../shared/fleeti/navixy-field-catalog.csv, 338 fields, with the
// dataset's position, speed, odometer, fuel and ignition over them).
//
// Per mode and run, records are processed in batches of --batch in arrival order; the states
// of a batch's vehicles are decoded (`VehicleMappingState(encoded:)`) before the batch is
// mapped and encoded (`encoded()`) once after it, as the pipeline reads and stores them with
// the batch. Each run starts with no stored state. Reported: median ns/record over --runs
// runs (after one warm-up run; thread CPU time, so other processes on the machine do not
// count), and the share of that spent decoding/encoding state.
// A digest of every outcome and final state is printed per mode: equal digests before and
// after an optimization mean equal mapping results.
//
// Usage: telemetry-mapping-bench [--data /tmp/peers-data] [--records 200000] [--catalog-records 10000]
//        [--batch 5000] [--runs 5] [--catalog ../shared/fleeti/navixy-field-catalog.csv]
//        [--modes identity,navixy,navixy-catalog,generic,bench]
import Foundation
import TelemetryCore
import TelemetryMapping

struct Options {
    var data = "/tmp/peers-data"
    var records = 200_000
    var catalogRecords = 10_000
    var batch = 5000
    var runs = 5
    var catalog = "../shared/fleeti/navixy-field-catalog.csv"
    var modes = ["identity", "navixy", "navixy-catalog", "generic", "bench"]

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
            case "--data": data = value()
            case "--records": records = positive("--records")
            case "--catalog-records": catalogRecords = positive("--catalog-records")
            case "--batch": batch = positive("--batch")
            case "--runs": runs = positive("--runs")
            case "--catalog": catalog = value()
            case "--modes": modes = value().split(separator: ",").map(String.init)
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
        for m in modes where !Mode.all.contains(m) {
            fail("unknown mode \(m) (modes: \(Mode.all.joined(separator: ",")))")
        }
    }
}

enum Mode {
    static let all = ["identity", "navixy", "navixy-catalog", "generic", "bench"]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("telemetry-mapping-bench: \(message)\n".utf8))
    exit(2)
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// This thread's CPU time: the machine is shared (2 cores, several builders), and CPU time
/// measures the work per record whatever else runs; wall time would measure the scheduler.
func cpuNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// FNV-1a over a canonical serialization: deterministic across processes (Hasher is seeded).
struct Digest {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func byte(_ b: UInt8) {
        h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
    }

    mutating func int(_ v: Int64) {
        var u = UInt64(bitPattern: v)
        for _ in 0..<8 {
            byte(UInt8(truncatingIfNeeded: u))
            u >>= 8
        }
    }

    mutating func string(_ s: String) {
        int(Int64(s.utf8.count))
        for b in s.utf8 { byte(b) }
    }

    mutating func bytes(_ b: [UInt8]) {
        int(Int64(b.count))
        for x in b { byte(x) }
    }

    mutating func value(_ v: FieldValue) {
        switch v {
        case .null: byte(0)
        case .bool(let b): byte(b ? 2 : 1)
        case .int(let i):
            byte(3)
            int(i)
        case .double(let d):
            byte(4)
            int(Int64(bitPattern: d.bitPattern))
        case .string(let s):
            byte(5)
            string(s)
        case .bytes(let b):
            byte(6)
            bytes(b)
        case .array(let items):
            byte(7)
            int(Int64(items.count))
            for item in items { value(item) }
        }
    }

    mutating func outcome(_ o: MappingOutcome) {
        switch o {
        case .mapped(let r):
            byte(1)
            int(Int64(r.fields.count))
            for f in r.fields {
                string(f.name)
                value(f.value)
            }
            for e in r.fieldErrors { string(e.description) }
            string(r.mappingVersion)
        case .failed(let f):
            byte(2)
            string(f.description)
        }
    }

    var hex: String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

// MARK: Records

let options = Options(CommandLine.arguments)

/// The dataset's line protocol, the subset gen_dataset.py writes (no escapes, no strings):
/// `telemetry,vehicle=V k=1.5,k=2i,k=true,... TIMESTAMP_MS`, read as telemetryctl reads it
/// (tag `vehicle` is the vehicle, provider = measurement; `1.5` a double, `2i` an int, `true`
/// a bool). A local reader keeps this tool's release build to TelemetryCore and TelemetryMapping.
func readDataset(limit: Int) -> [ProviderRecord] {
    guard let handle = FileHandle(forReadingAtPath: options.data + "/telemetry.lp") else {
        fail("cannot open \(options.data)/telemetry.lp")
    }
    var out: [ProviderRecord] = []
    out.reserveCapacity(limit)
    var pending: [UInt8] = []
    var lineNumber = 0
    func parse(_ line: ArraySlice<UInt8>) -> ProviderRecord {
        let parts = line.split(separator: UInt8(ascii: " "))
        let head = parts.first.map { $0.split(separator: UInt8(ascii: ",")) } ?? []
        guard parts.count == 3, head.count == 2, head[1].starts(with: Array("vehicle=".utf8)),
            let time = Int64(String(decoding: parts[2], as: UTF8.self)),
            let vehicle = try? VehicleID(String(decoding: head[1].dropFirst(8), as: UTF8.self))
        else { fail("telemetry.lp line \(lineNumber): not a dataset line") }
        var fields: [Field] = []
        fields.reserveCapacity(12)
        for pair in parts[1].split(separator: UInt8(ascii: ",")) {
            let kv = pair.split(separator: UInt8(ascii: "="), maxSplits: 1)
            guard kv.count == 2 else { fail("telemetry.lp line \(lineNumber): bad field") }
            let text = String(decoding: kv[1], as: UTF8.self)
            let value: FieldValue
            if text == "true" || text == "false" {
                value = .bool(text == "true")
            } else if text.hasSuffix("i"), let i = Int64(text.dropLast()) {
                value = .int(i)
            } else if let d = Double(text) {
                value = .double(d)
            } else {
                fail("telemetry.lp line \(lineNumber): value \(text) is not a number or a bool")
            }
            fields.append(Field(String(decoding: kv[0], as: UTF8.self), value))
        }
        return ProviderRecord(
            vehicle: vehicle, timestamp: time, provider: String(decoding: head[0], as: UTF8.self), fields: fields)
    }
    while out.count < limit {
        let chunk = handle.readData(ofLength: 1 << 20)
        if chunk.isEmpty { break }
        pending += chunk
        var start = pending.startIndex
        while out.count < limit, let nl = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lineNumber += 1
            if nl > start { out.append(parse(pending[start..<nl])) }
            start = nl + 1
        }
        pending.removeSubrange(..<start)
    }
    return out
}

/// RFC 4180 rows (quoted fields may hold commas, quotes and newlines).
func csvRows(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field: [UInt8] = []
    var quoted = false
    var bytes = Array(text.utf8)
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
    var i = 0
    func endField() {
        row.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
    }
    while i < bytes.count {
        let c = bytes[i]
        i += 1
        if quoted {
            if c == UInt8(ascii: "\"") {
                if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                    field.append(c)
                    i += 1
                } else {
                    quoted = false
                }
            } else {
                field.append(c)
            }
            continue
        }
        switch c {
        case UInt8(ascii: "\""): quoted = true
        case UInt8(ascii: ","): endField()
        case UInt8(ascii: "\r"): continue
        case UInt8(ascii: "\n"):
            endField()
            rows.append(row)
            row = []
        default: field.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty {
        endField()
        rows.append(row)
    }
    return rows
}

/// The Navixy catalog's example values as packet fields (root keys plain, the rest as
/// `params.NAME`; `msg_time` left out so the record's own time stands in for it), as
/// SharedFleetiFilesTests builds its packet.
func catalogFields(path: String) -> [Field]? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    let rootKeys: Set<String> = [
        "lat", "lng", "alt", "speed", "heading", "satellites", "hdop", "pdop", "inputs", "outputs", "adc", "ibutton",
        "msg_time", "server_time",
    ]
    let rows = csvRows(text)
    guard let header = rows.first, let name = header.firstIndex(of: "provider_name"),
        let example = header.firstIndex(of: "analysis_source_example")
    else { fail("\(path): no provider_name or analysis_source_example column") }
    var fields: [Field] = []
    for row in rows.dropFirst() where row.count > max(name, example) {
        let key = row[name]
        let text = row[example]
        guard !key.isEmpty, !text.isEmpty, key != "msg_time" else { continue }
        let value: FieldValue = Int64(text).map(FieldValue.int) ?? Double(text).map(FieldValue.double) ?? .string(text)
        fields.append(Field(rootKeys.contains(key) ? key : "params." + key, value))
    }
    return fields
}

let loadStart = now()
let dataset = readDataset(limit: options.records)
guard !dataset.isEmpty else { fail("\(options.data)/telemetry.lp has no records") }
var inputs: [String: [ProviderRecord]] = [:]
for mode in options.modes {
    switch mode {
    case "identity": inputs[mode] = dataset
    case "navixy": inputs[mode] = dataset.map(BenchmarkDataset.navixyRecord(from:))
    case "generic", "bench":
        inputs[mode] = dataset.map {
            ProviderRecord(vehicle: $0.vehicle, timestamp: $0.timestamp, provider: mode, fields: $0.fields)
        }
    case "navixy-catalog":
        guard let base = catalogFields(path: options.catalog) else {
            FileHandle.standardError.write(Data("skipping navixy-catalog: cannot read \(options.catalog)\n".utf8))
            continue
        }
        let index = Dictionary(base.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        inputs[mode] = dataset.prefix(options.catalogRecords).map { r in
            var fields = base
            for f in BenchmarkDataset.navixyRecord(from: r).fields {
                if let i = index[f.name] { fields[i] = f } else { fields.append(f) }
            }
            return ProviderRecord(vehicle: r.vehicle, timestamp: r.timestamp, provider: "navixy", fields: fields)
        }
    default: break
    }
}
FileHandle.standardError.write(
    Data(String(format: "prepared %d dataset records in %.1f s\n", dataset.count, now() - loadStart).utf8))

let mappings: MappingSet
do {
    mappings = try MappingSet.withDefaults()
} catch {
    fail("the default mappings do not load: \(error)")
}

// MARK: Measurement

struct RunResult {
    var seconds: Double
    var stateSeconds: Double
    var digest: String
    var fieldsPerRecord: Double
    /// Records that did not map (they would be dead letters): none are expected.
    var failed: Int
}

/// One pass over the records: map, build the record to store, keep the states as the pipeline does.
func run(_ mode: String, _ records: [ProviderRecord], digesting: Bool) -> RunResult {
    var stored: [VehicleID: [UInt8]] = [:]
    var digest = Digest()
    var stateSeconds = 0.0
    var fields = 0
    var failed = 0
    let start = cpuNow()
    var offset = 0
    while offset < records.count {
        let end = min(offset + options.batch, records.count)
        if mode == "identity" {
            for r in records[offset..<end] {
                let t = TelemetryRecord(
                    vehicle: r.vehicle, timestamp: r.timestamp, fields: r.fields,
                    provenance: Provenance(
                        provider: r.provider, mappingVersion: "identity", receivedAt: r.timestamp + 500))
                fields &+= t.fields.count
                if digesting {
                    for f in t.fields {
                        digest.string(f.name)
                        digest.value(f.value)
                    }
                }
            }
            offset = end
            continue
        }
        // The batch's vehicles' states, decoded before mapping, as the pipeline reads them
        // with the batch (a vehicle without a stored state starts empty).
        let decodeStart = cpuNow()
        var working: [VehicleID: VehicleMappingState] = [:]
        for r in records[offset..<end] where working[r.vehicle] == nil {
            guard let bytes = stored[r.vehicle] else {
                working[r.vehicle] = VehicleMappingState()
                continue
            }
            do {
                working[r.vehicle] = try VehicleMappingState(encoded: bytes)
            } catch {
                fail("state of \(r.vehicle) does not decode: \(error)")
            }
        }
        stateSeconds += cpuNow() - decodeStart
        // One batch mapper per batch, as MappingService.mapBatch maps a batch.
        var batch = mappings.batch()
        for r in records[offset..<end] {
            let receivedAt = r.timestamp + 500
            let outcome = batch.map(
                r, state: &working[r.vehicle, default: VehicleMappingState()], receivedAt: receivedAt)
            switch outcome {
            case .mapped(let m): fields &+= m.telemetryRecord(from: r, receivedAt: receivedAt).fields.count
            case .failed: failed += 1
            }
            if digesting { digest.outcome(outcome) }
        }
        let t0 = cpuNow()
        for (vehicle, state) in working { stored[vehicle] = state.encoded() }
        stateSeconds += cpuNow() - t0
        offset = end
    }
    let seconds = cpuNow() - start
    if digesting {
        for vehicle in stored.keys.sorted() {
            digest.string(vehicle.rawValue)
            digest.bytes(stored[vehicle]!)
        }
    }
    return RunResult(
        seconds: seconds, stateSeconds: stateSeconds, digest: digest.hex,
        fieldsPerRecord: Double(fields) / Double(records.count), failed: failed)
}

var result: [String: Any] = ["records": dataset.count, "batch": options.batch, "runs": options.runs]
print("mode            records  CPU ns/record: median     min     max  state share  fields/record  digest")
for mode in options.modes {
    guard let records = inputs[mode] else { continue }
    let check = run(mode, records, digesting: true)  // also the warm-up
    var runs: [RunResult] = []
    for _ in 0..<options.runs { runs.append(run(mode, records, digesting: false)) }
    let perRecord = runs.map { $0.seconds / Double(records.count) * 1e9 }
    let stateShare = median(runs.map { $0.stateSeconds / $0.seconds })
    let m = median(perRecord)
    print(
        mode.padding(toLength: 14, withPad: " ", startingAt: 0)
            + String(
                format: "%9d  %20.0f %7.0f %7.0f  %9.1f %%  %13.1f  ", records.count, m, perRecord.min()!,
                perRecord.max()!, stateShare * 100, check.fieldsPerRecord) + check.digest)
    result[mode] = [
        "records": records.count, "ns_per_record_median": m.rounded(), "state_share": (stateShare * 1000).rounded() / 1000,
        "fields_per_record": check.fieldsPerRecord, "digest": check.digest, "failed": check.failed,
    ]
    if check.failed > 0 {
        FileHandle.standardError.write(Data("\(mode): \(check.failed) records did not map\n".utf8))
    }
}
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
