import Foundation
public import TelemetryCore
import TelemetryStorage
import Yams

/// telemetryd's configuration file (YAML; docs/configuration.md). Every key is optional;
/// an unknown key is an error, so a typo never silently leaves a default in force.
///
/// ```yaml
/// listen: 127.0.0.1
/// port: 7400
/// http_port: 7401            # /metrics, /health, /ready; "off" disables
/// data: /var/lib/telemetryd
/// durability: buffered        # or sync
/// compression: snappy         # or none: LevelDB table compression
/// log_level: info
/// limits:
///   max_frame_bytes: 4194304
///   max_in_flight: 32
///   max_connections: 1024
///   idle_timeout_seconds: 300
///   max_records_per_batch: 10000
///   max_future_skew_ms: 86400000
///   min_timestamp_ms: 0
///   seal_interval_seconds: 300   # or off
///   reopen_probe_seconds: 30     # or off
///   memory_trim_seconds: 5       # or off
/// retention:                     # each: a duration with its unit (400d, 12h, 90m) or off (keep forever)
///   canonical: 400d
///   raw: 30d
///   dead_letters: 90d
///   interval_seconds: 3600       # or off
/// tokens:
///   - role: ingest
///     token: "at least 16 characters"
/// mapping:
///   mode: fleeti                 # or identity
///   folder: ./data/mappings
///   assets: ./data/assets.yaml
///   sweep_interval_seconds: 60   # or off
///   state_idle_seconds: 3600     # or off
/// ```
public struct ConfigurationFile: Sendable, Hashable {
    public var server = ServerConfiguration()
    /// The data folder, if the file names one.
    public var dataPath: String?
    public var durability: Durability?
    /// LevelDB table compression: true for snappy (the default), false for none.
    public var compression: Bool?
    public var logLevel: String?
    /// The `mapping` section (docs/configuration.md).
    public var mapping = MappingSettings()

    /// How records are mapped while they are ingested.
    public struct MappingSettings: Sendable, Hashable {
        /// `fleeti` (the default: provider fields become canonical fields) or `identity`
        /// (provider fields stored as they come, no raw copy, no dead letters).
        public var mode: String?
        /// The operator's mapping files; default `<data>/mappings`.
        public var folder: String?
        /// The asset registry file; default `<data>/assets.yaml`.
        public var assets: String?
        /// Seconds between connectivity sweeps (vehicles silent past their threshold go
        /// offline); nil in `sweepOff` turns them off. Default 60.
        public var sweepIntervalSeconds: Int?
        public var sweepOff = false
        /// Seconds without a record after which a vehicle's mapping state leaves memory (it
        /// stays stored and is read back with the next record); nil in `stateIdleOff` keeps
        /// every state. Default 3600.
        public var stateIdleSeconds: Int?
        public var stateIdleOff = false

        public init() {}
    }

    public init() {}

    /// Reads and checks a configuration file.
    /// - Throws: `ConfigurationError` naming the file, the key and the problem.
    public static func load(path: String) throws(ConfigurationError) -> ConfigurationFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError("\(path): cannot read the configuration file: \(error.localizedDescription)")
        }
        return try parse(text, source: path)
    }

    /// Parses configuration text; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> ConfigurationFile {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ConfigurationError("\(source): not valid YAML: \(error)")
        }
        var file = ConfigurationFile()
        guard let node else { return file }
        guard let root = node.mapping else { throw ConfigurationError("\(source): the top level must be a mapping of keys") }
        let reader = Reader(source: source)
        for (keyNode, value) in root {
            let key = keyNode.string ?? "?"
            switch key {
            case "listen": file.server.host = try reader.string(value, key)
            case "port": file.server.port = try reader.int(value, key)
            case "http_port":
                if value.scalar?.string == "off" { file.server.httpPort = nil } else { file.server.httpPort = try reader.int(value, key) }
            case "data": file.dataPath = try reader.string(value, key)
            case "durability":
                let v = try reader.string(value, key)
                guard let d = Durability(rawValue: v) else {
                    throw reader.error(key, "must be buffered or sync, not \"\(v)\"")
                }
                file.durability = d
            case "compression":
                let v = try reader.string(value, key)
                guard v == "snappy" || v == "none" else { throw reader.error(key, "must be snappy or none, not \"\(v)\"") }
                file.compression = v == "snappy"
            case "log_level": file.logLevel = try reader.string(value, key)
            case "limits":
                guard let limits = value.mapping else { throw reader.error(key, "must be a mapping") }
                for (k, v) in limits {
                    let name = "limits.\(k.string ?? "?")"
                    switch k.string {
                    case "max_frame_bytes": file.server.maxFrameBytes = try reader.int(v, name)
                    case "max_in_flight": file.server.maxInFlightPerConnection = try reader.int(v, name)
                    case "max_connections": file.server.maxConnections = try reader.int(v, name)
                    case "idle_timeout_seconds": file.server.idleTimeoutSeconds = try reader.int(v, name)
                    case "max_records_per_batch": file.server.maxRecordsPerBatch = try reader.int(v, name)
                    case "max_future_skew_ms": file.server.maxFutureSkewMs = Int64(try reader.int(v, name))
                    case "min_timestamp_ms": file.server.minTimestampMs = Int64(try reader.int(v, name))
                    case "records_per_frame": file.server.recordsPerFrame = try reader.int(v, name)
                    case "seal_interval_seconds":
                        if v.scalar?.string == "off" { file.server.sealIntervalSeconds = nil } else { file.server.sealIntervalSeconds = try reader.int(v, name) }
                    case "reopen_probe_seconds":
                        if v.scalar?.string == "off" { file.server.reopenProbeSeconds = nil } else { file.server.reopenProbeSeconds = try reader.int(v, name) }
                    case "memory_trim_seconds":
                        if v.scalar?.string == "off" { file.server.memoryTrimSeconds = nil } else { file.server.memoryTrimSeconds = try reader.int(v, name) }
                    default: throw reader.error(name, "is not a known setting")
                    }
                }
            case "retention":
                guard let section = value.mapping else { throw reader.error(key, "must be a mapping") }
                for (k, v) in section {
                    let name = "retention.\(k.string ?? "?")"
                    switch k.string {
                    case "canonical": file.server.retention.canonicalMs = try reader.duration(v, name)
                    case "raw": file.server.retention.rawMs = try reader.duration(v, name)
                    case "dead_letters": file.server.retention.deadLettersMs = try reader.duration(v, name)
                    case "interval_seconds":
                        if v.scalar?.string == "off" { file.server.retentionIntervalSeconds = nil } else { file.server.retentionIntervalSeconds = try reader.int(v, name) }
                    default: throw reader.error(name, "is not a known setting")
                    }
                }
            case "tokens":
                guard let list = value.sequence else { throw reader.error(key, "must be a list of {role, token}") }
                for (i, item) in list.enumerated() {
                    let at = "tokens[\(i)]"
                    guard let entry = item.mapping else { throw reader.error(at, "must be a mapping with role and token") }
                    var role: Role?
                    var secret: String?
                    for (k, v) in entry {
                        switch k.string {
                        case "role":
                            let r = try reader.string(v, "\(at).role")
                            guard let parsed = Role(rawValue: r) else {
                                throw reader.error("\(at).role", "must be ingest, query or admin, not \"\(r)\"")
                            }
                            role = parsed
                        case "token": secret = try reader.string(v, "\(at).token")
                        default: throw reader.error("\(at).\(k.string ?? "?")", "is not a known setting")
                        }
                    }
                    guard let role, let secret else { throw reader.error(at, "needs both role and token") }
                    file.server.tokens.append(AccessToken(secret: secret, role: role))
                }
            case "mapping":
                guard let section = value.mapping else { throw reader.error(key, "must be a mapping") }
                for (k, v) in section {
                    let name = "mapping.\(k.string ?? "?")"
                    switch k.string {
                    case "mode":
                        let mode = try reader.string(v, name)
                        guard mode == "fleeti" || mode == "identity" else { throw reader.error(name, "must be fleeti or identity, not \"\(mode)\"") }
                        file.mapping.mode = mode
                    case "folder": file.mapping.folder = try reader.string(v, name)
                    case "assets": file.mapping.assets = try reader.string(v, name)
                    case "sweep_interval_seconds":
                        file.mapping.sweepIntervalSeconds = try reader.secondsOrOff(v, name)
                        file.mapping.sweepOff = file.mapping.sweepIntervalSeconds == nil
                    case "state_idle_seconds":
                        file.mapping.stateIdleSeconds = try reader.secondsOrOff(v, name)
                        file.mapping.stateIdleOff = file.mapping.stateIdleSeconds == nil
                    default: throw reader.error(name, "is not a known setting")
                    }
                }
            default:
                throw reader.error(key, "is not a known setting")
            }
        }
        return file
    }

    private struct Reader {
        let source: String

        func error(_ key: String, _ problem: String) -> ConfigurationError {
            ConfigurationError("\(source): \(key) \(problem)")
        }

        func string(_ node: Node, _ key: String) throws(ConfigurationError) -> String {
            guard let s = node.scalar?.string else { throw error(key, "must be a text value") }
            return s
        }

        /// A positive duration in ms from `400d`, `12h`, `90m`, `30s`, `500ms` or bare ms; nil for `off`.
        func duration(_ node: Node, _ key: String) throws(ConfigurationError) -> Int64? {
            guard let s = node.scalar?.string else { throw error(key, "must be a duration such as 400d, 12h or off") }
            if s == "off" || s == "keep" { return nil }
            let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
            // A bare number is refused: read as milliseconds, `raw: 7` meant as 7 days would
            // remove nearly everything at the first pass.
            if Int64(s) != nil { throw error(key, "needs a unit: \"\(s)\" would be milliseconds; write e.g. \(s)d, \(s)h or \(s)ms, or off") }
            for (suffix, factor) in units where s.hasSuffix(suffix) {
                if let n = Int64(s.dropLast(suffix.count)), n > 0, n <= Int64.max / factor { return n * factor }
            }
            throw error(key, "must be a positive duration such as 400d, 12h, 90m, 30s or off, not \"\(s)\"")
        }

        /// At least 1 second; nil for `off`.
        func secondsOrOff(_ node: Node, _ key: String) throws(ConfigurationError) -> Int? {
            if node.scalar?.string == "off" { return nil }
            let n = try int(node, key)
            guard n >= 1 else { throw error(key, "must be at least 1 second, or off") }
            return n
        }

        func int(_ node: Node, _ key: String) throws(ConfigurationError) -> Int {
            guard let s = node.scalar?.string, let n = Int(s.replacingOccurrences(of: "_", with: "")) else {
                throw error(key, "must be a whole number")
            }
            return n
        }
    }
}
