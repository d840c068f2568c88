public import TelemetryCore
public import TelemetryStorage

/// Turns provider records into what one store write applies: canonical records (and, once
/// mappings land, raw records, dead letters and per-vehicle state). The server calls it for
/// every batch, off the event loops.
public protocol IngestPipeline: Sendable {
    /// Maps a batch of validated provider records.
    /// - Parameters:
    ///   - records: the batch's valid records, with their index in the request.
    ///   - receivedAt: the server's receive time, ms since 1970.
    func map(_ records: [(index: Int, record: ProviderRecord)], receivedAt: Int64) -> MappedBatch
}

/// What a pipeline made of a batch.
public struct MappedBatch: Sendable {
    /// Everything to write in one atomic store write.
    public var write: StoreWrite
    /// Records the pipeline refused outright, by request index.
    public var rejected: [(index: Int, error: StatusError)]

    public init(write: StoreWrite, rejected: [(index: Int, error: StatusError)] = []) {
        self.write = write
        self.rejected = rejected
    }
}

/// Stores provider fields as they come, as canonical fields: the pipeline in force until a
/// provider mapping is configured. Its mapping version is `identity`.
public struct IdentityPipeline: IngestPipeline {
    public static let mappingVersion = "identity"

    public init() {}

    public func map(_ records: [(index: Int, record: ProviderRecord)], receivedAt: Int64) -> MappedBatch {
        var write = StoreWrite()
        write.records.reserveCapacity(records.count)
        for (_, r) in records {
            write.records.append(
                TelemetryRecord(
                    vehicle: r.vehicle, timestamp: r.timestamp, fields: r.fields,
                    provenance: Provenance(provider: r.provider, mappingVersion: Self.mappingVersion, receivedAt: receivedAt)))
        }
        return MappedBatch(write: write)
    }
}
