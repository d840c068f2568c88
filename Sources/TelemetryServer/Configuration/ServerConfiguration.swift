public import TelemetryStorage

/// What a server listens on and the limits it enforces. Defaults suit one store on one
/// machine; docs/configuration.md lists every setting with its flag and file key.
public struct ServerConfiguration: Sendable, Hashable {
    /// Address to listen on. Default `127.0.0.1`: only this machine can connect.
    public var host = "127.0.0.1"
    /// TCP port; 0 picks a free one (tests). Default 7400.
    public var port = 7400
    /// The largest frame payload accepted, in bytes, checked at the frame header. Default 4 MiB.
    public var maxFrameBytes = 4 << 20
    /// Requests a connection may have in flight; past it the server stops reading that
    /// connection until an answer is written (backpressure, never a drop). Default 32.
    public var maxInFlightPerConnection = 32
    /// Connections served at once; a further one gets UNAVAILABLE and is closed. Default 1024.
    public var maxConnections = 1024
    /// A connection with nothing read or written for this long, and no request in flight,
    /// is closed, in seconds. Default 300.
    public var idleTimeoutSeconds = 300
    /// Records in one ingest batch. Default 10,000.
    public var maxRecordsPerBatch = 10_000
    /// Records stamped more than this far in the future (device clock gone wrong) are
    /// rejected, in milliseconds. Default 1 day.
    public var maxFutureSkewMs: Int64 = 86_400_000
    /// Records older than this timestamp (ms since 1970) are rejected; nil accepts any past.
    public var minTimestampMs: Int64? = nil
    /// Tokens and the role each grants. Empty: authentication is off and every client is
    /// admin, which is refused on any address but loopback (see `validate()`).
    public var tokens: [AccessToken] = []
    /// Records per response frame when a result is streamed. Default 5000: an hour of one
    /// vehicle at 1 Hz fits in one frame, so its sealed block is decoded once, not per page.
    public var recordsPerFrame = 5000
    /// Seconds between background passes that seal closed time partitions into compact
    /// blocks; nil turns them off (then only `admin compact` seals). Default 300.
    public var sealIntervalSeconds: Int? = 300
    /// Port of the monitoring HTTP endpoint (/metrics, /health, /ready) on `host`; nil turns
    /// it off, 0 picks a free port. Default 7401.
    public var httpPort: Int? = 7401
    /// How long each keyspace keeps its data (`retention` in the file). Default: everything forever.
    public var retention = RetentionPolicy()
    /// Seconds between background retention passes (when `retention` limits anything); nil
    /// leaves retention to `telemetryctl admin retention`. Default 3600.
    public var retentionIntervalSeconds: Int? = 3600
    /// Seconds between attempts to reopen a degraded store (after a write error or a full disk),
    /// each after a probe write shows the folder takes writes again; nil leaves it to
    /// `telemetryctl admin reopen`. Default 30.
    public var reopenProbeSeconds: Int? = 30
    /// Seconds between returns of the memory the allocator holds free to the system
    /// (`malloc_trim`); nil turns them off. Default 5. glibc keeps what ingest batches freed:
    /// mapped ingest of 2M records ended with 292 MiB resident, 57 MiB of it in use; with the
    /// trim, resident memory falls back within an interval once a burst is over.
    public var memoryTrimSeconds: Int? = 5

    public init() {}

    /// Checks the settings against each other.
    /// - Throws: `ConfigurationError` naming the setting.
    public func validate() throws(ConfigurationError) {
        guard (0...65535).contains(port) else { throw ConfigurationError("port \(port) is outside 0-65535") }
        if let httpPort, !(0...65535).contains(httpPort) { throw ConfigurationError("http port \(httpPort) is outside 0-65535") }
        if let httpPort, httpPort != 0, httpPort == port { throw ConfigurationError("http port and port are both \(port)") }
        guard maxFrameBytes >= 1024, maxFrameBytes <= Int(Int32.max) else {
            throw ConfigurationError("max frame size \(maxFrameBytes) must be between 1 KiB and 2 GiB")
        }
        guard maxInFlightPerConnection >= 1 else { throw ConfigurationError("max in-flight requests must be at least 1") }
        guard maxConnections >= 1 else { throw ConfigurationError("max connections must be at least 1") }
        guard idleTimeoutSeconds >= 1 else { throw ConfigurationError("idle timeout must be at least 1 second") }
        guard maxRecordsPerBatch >= 1 else { throw ConfigurationError("max records per batch must be at least 1") }
        guard maxFutureSkewMs >= 0 else { throw ConfigurationError("max future skew must not be negative") }
        if let s = sealIntervalSeconds, s < 1 { throw ConfigurationError("seal interval must be at least 1 second") }
        if let s = retentionIntervalSeconds, s < 1 { throw ConfigurationError("retention interval must be at least 1 second") }
        if let s = reopenProbeSeconds, s < 1 { throw ConfigurationError("reopen probe interval must be at least 1 second") }
        if let s = memoryTrimSeconds, s < 1 { throw ConfigurationError("memory trim interval must be at least 1 second") }
        for (name, age) in [("canonical", retention.canonicalMs), ("raw", retention.rawMs), ("dead_letters", retention.deadLettersMs)] {
            if let age, age <= 0 { throw ConfigurationError("retention.\(name) must be positive") }
        }
        guard recordsPerFrame >= 1 else { throw ConfigurationError("records per frame must be at least 1") }
        for (i, t) in tokens.enumerated() where t.secret.utf8.count < 16 {
            throw ConfigurationError("token \(i + 1) (role \(t.role)) is shorter than 16 bytes")
        }
        if tokens.isEmpty && !Self.isLoopback(host) {
            throw ConfigurationError(
                "listening on \(host) without tokens would let anyone on the network administer the store; configure tokens or listen on 127.0.0.1")
        }
    }

    /// Whether `host` names a loopback address.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// A secret that grants a role.
public struct AccessToken: Sendable, Hashable {
    public var secret: String
    public var role: Role

    public init(secret: String, role: Role) {
        self.secret = secret
        self.role = role
    }
}

/// What a connection may do.
public enum Role: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Ingest batches and ping.
    case ingest
    /// Range, latest, aggregate, vehicle list and ping.
    case query
    /// Everything, administration included.
    case admin

    public var description: String { rawValue }
}

/// A setting that cannot work.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
