public import TelemetryCore

/// What the server granted on hello.
public struct SessionInfo: Sendable, Hashable {
    public var serverVersion: String
    public var role: String
    public var maxFrameBytes: Int
    public var maxInFlight: Int
    public var maxRecordsPerBatch: Int
    /// The gateway's last committed sequence when the hello named a gateway that committed one.
    public var lastCommittedSequence: UInt64?
}

/// The answer to an ingest: an ack means the accepted records are stored.
public struct IngestResult: Sendable, Hashable {
    /// Records stored.
    public var accepted: Int
    /// Identical re-sends of records already stored.
    public var duplicates: Int
    /// Of `accepted`, records that replaced a different one at the same vehicle and millisecond
    /// (stored before, or earlier in the same batch): the store keeps one record per millisecond.
    public var replaced: Int = 0
    /// Records kept as dead letters (they could not be mapped).
    public var deadLettered: Int
    /// Which records were dead-lettered (index in the batch given to `ingest`) and why.
    /// They are stored: do not send them again.
    public var deadLetters: [RejectedRecord] = []
    /// Records refused, with their index in the batch given to `ingest`.
    public var rejected: [RejectedRecord]
    public var durability: Durability
    /// The highest gateway sequence the server has committed for this client's gateway.
    public var committedSequence: UInt64?

    public init(
        accepted: Int = 0, duplicates: Int = 0, deadLettered: Int = 0, rejected: [RejectedRecord] = [],
        durability: Durability = .buffered, committedSequence: UInt64? = nil
    ) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.deadLettered = deadLettered
        self.rejected = rejected
        self.durability = durability
        self.committedSequence = committedSequence
    }
}

/// One record the server refused, and why.
public struct RejectedRecord: Sendable, Hashable {
    public var index: Int
    public var code: StatusCode
    public var reason: String

    public init(index: Int, code: StatusCode, reason: String) {
        self.index = index
        self.code = code
        self.reason = reason
    }
}

/// Latest states, and the asked vehicles the store does not know.
public struct LatestResult: Sendable, Hashable {
    public var states: [LatestState]
    public var unknownVehicles: [String]
}

/// Why a client call failed: the server's status, or UNAVAILABLE / DEADLINE_EXCEEDED
/// when the server could not be reached or did not answer in time.
public typealias ClientError = StatusError
