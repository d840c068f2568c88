import TelemetryMapping
public import TelemetryCore
public import TelemetryStorage

/// Turns provider records into what one store write applies: canonical records, raw records,
/// dead letters and per-vehicle state. The server calls it for every batch, off the event loops.
public protocol IngestPipeline: Sendable {
    /// Maps a batch of validated provider records.
    /// - Parameters:
    ///   - records: the batch's valid records, with their index in the request.
    ///   - receivedAt: the server's receive time, ms since 1970.
    ///   - store: the store the batch is written to (the pipeline may read vehicle state from it).
    func map(_ records: [(index: Int, record: ProviderRecord)], receivedAt: Int64, store: TelemetryStore) -> MappedBatch

    /// Whether records without a vehicle id or a timestamp are kept as dead letters (a mapping
    /// pipeline) rather than rejected.
    var deadLettersIncompleteRecords: Bool { get }

    /// Called when the write of a mapped batch failed: nothing of it was stored.
    func writeFailed(_ batch: MappedBatch)
}

/// What a pipeline made of a batch.
public struct MappedBatch: Sendable {
    /// Everything to write in one atomic store write.
    public var write: StoreWrite
    /// Records the pipeline refused outright, by request index.
    public var rejected: [(index: Int, error: StatusError)]
    /// Records kept as dead letters (in `write.deadLetters`), by request index, with why.
    public var deadLettered: [(index: Int, error: StatusError)]

    public init(write: StoreWrite, rejected: [(index: Int, error: StatusError)] = [], deadLettered: [(index: Int, error: StatusError)] = []) {
        self.write = write
        self.rejected = rejected
        self.deadLettered = deadLettered
    }
}

/// Stores provider fields as they come, as canonical fields (`telemetryd --mapping identity`):
/// no raw copy, no dead letters. Its mapping version is `identity`.
public struct IdentityPipeline: IngestPipeline {
    public static let mappingVersion = "identity"

    public init() {}

    public var deadLettersIncompleteRecords: Bool { false }

    public func writeFailed(_ batch: MappedBatch) {}

    public func map(_ records: [(index: Int, record: ProviderRecord)], receivedAt: Int64, store: TelemetryStore) -> MappedBatch {
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

/// Maps provider records to canonical Fleeti telemetry with the active mappings
/// (`MappingService`), keeps every mapped record's raw copy, and dead-letters the records
/// that fail, with the reason and the mapping version.
public struct FleetiPipeline: IngestPipeline {
    public let service: MappingService

    public init(service: MappingService) {
        self.service = service
    }

    public var deadLettersIncompleteRecords: Bool { true }

    public func map(_ records: [(index: Int, record: ProviderRecord)], receivedAt: Int64, store: TelemetryStore) -> MappedBatch {
        let (write, outcomes) = service.mapBatch(
            records, set: service.mappingSet, receivedAt: receivedAt, store: store, commit: true, mappedOutcomes: false)
        var deadLettered: [(index: Int, error: StatusError)] = []
        for item in outcomes {
            guard case .failed(let f) = item.outcome else { continue }
            deadLettered.append((item.index, StatusError(f.statusCode, "dead-lettered: \(f.description)")))
        }
        return MappedBatch(write: write, deadLettered: deadLettered)
    }

    public func writeFailed(_ batch: MappedBatch) {
        service.forget(batch.write.derivedStates.keys)
    }
}
