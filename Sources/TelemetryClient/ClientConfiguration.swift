/// How a client reaches a server and how patient it is.
public struct ClientConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// The token that grants this client its role (server configuration).
    public var token: String
    /// Shown in the server's logs, e.g. `gateway-paris-3/1.4.2`.
    public var clientName: String
    /// A gateway's stable id: the server then records and reports its committed sequence.
    public var gatewayID: String?
    /// Longest wait for a TCP connection and its hello.
    public var connectTimeout: Duration = .seconds(5)
    /// Longest wait for the whole answer to one request.
    public var requestTimeout: Duration = .seconds(60)
    /// Retries of a request that failed with UNAVAILABLE (connection lost, server
    /// draining). Every request of this protocol is safe to repeat: re-sent identical records
    /// are counted as duplicates, not stored twice.
    public var retry = RetryPolicy()
    /// Compress request frames with snappy (worth it on slow links; costs CPU).
    public var compress = false
    /// Largest answer frame accepted, in bytes.
    public var maxFrameBytes = 64 << 20

    public init(host: String = "127.0.0.1", port: Int = 7400, token: String = "", clientName: String = "telemetry-client") {
        self.host = host
        self.port = port
        self.token = token
        self.clientName = clientName
    }
}

/// Exponential backoff: `initialBackoff`, doubling up to `maxBackoff`, at most `maxAttempts` tries.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    /// The defaults follow the Fleeti operations plan: from 1 s, doubling, 60 s at most, 5 tries.
    public init(maxAttempts: Int = 5, initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(60)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait before attempt `attempt` (2, 3, ...).
    func backoff(beforeAttempt attempt: Int) -> Duration {
        var wait = initialBackoff
        var n = 2
        while n < attempt && wait < maxBackoff {
            wait = wait * 2
            n += 1
        }
        return min(wait, maxBackoff)
    }
}
