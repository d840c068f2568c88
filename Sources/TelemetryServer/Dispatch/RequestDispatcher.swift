import CoreMetrics
import Foundation
import Logging
import NIOPosix
import SwiftProtobuf
import TelemetryCore
import TelemetryMapping
import TelemetryStorage
import TelemetryWire

/// Serves decoded requests: the one place where errors become statuses (STYLE.md 2.3).
/// Storage calls block, so they run on a thread pool, never on an event loop or a
/// cooperative thread.
final class RequestDispatcher: Sendable {
    /// The store, swappable by an online restore (StoreHandle).
    let stores: StoreHandle
    /// The store to use for this request; read it once per request.
    var store: TelemetryStore { stores.current }
    let configuration: ServerConfiguration
    let pipeline: any IngestPipeline
    /// The mapping files and vehicle states behind a `FleetiPipeline`; nil with the identity
    /// mapping (then the mapping admin requests answer FAILED_PRECONDITION).
    let mappings: MappingService?
    let authenticator: TokenAuthenticator
    let threadPool: NIOThreadPool
    /// Long admin work (backup, verify, restore copy, compaction, retention): off the request
    /// threads, so it never holds ingest and queries up (`MaintenanceThreads`).
    let maintenancePool: NIOThreadPool
    let metrics: ServerMetrics
    let logger: Logger
    /// Whether the server is shutting down (stats reports `draining`).
    let isDraining: @Sendable () -> Bool
    /// Milliseconds since 1970, injectable so tests control "now".
    let clock: @Sendable () -> Int64

    static let protocolVersion: UInt32 = 1
    static let serverVersion = "telemetryd \(ReleaseVersion.current)"

    init(
        stores: StoreHandle, configuration: ServerConfiguration, mappings: MappingService?,
        threadPool: NIOThreadPool, maintenancePool: NIOThreadPool = MaintenanceThreads.pool, metrics: ServerMetrics, logger: Logger,
        isDraining: @escaping @Sendable () -> Bool = { false },
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.isDraining = isDraining
        self.stores = stores
        self.configuration = configuration
        self.mappings = mappings
        self.pipeline = mappings.map { FleetiPipeline(service: $0) } ?? IdentityPipeline()
        self.authenticator = TokenAuthenticator(tokens: configuration.tokens)
        self.threadPool = threadPool
        self.maintenancePool = maintenancePool
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
    }

    // MARK: - Hello

    /// What a hello gives: the answer, and the role when it was accepted.
    struct HelloOutcome {
        var response: Telemetry_V1_ResponseEnvelope
        var role: Role?
        var gatewayID: String?
    }

    func hello(_ hello: Telemetry_V1_Hello, requestID: UInt64) -> HelloOutcome {
        guard hello.protocolVersion == Self.protocolVersion else {
            return HelloOutcome(
                response: .status(
                    requestID, .failedPrecondition,
                    "protocol version \(hello.protocolVersion) is not supported; this server speaks version \(Self.protocolVersion)"),
                role: nil)
        }
        guard let role = authenticator.role(for: hello.token) else {
            // The token itself is never logged.
            logger.notice("hello refused: unknown token", metadata: ["telemetry.client.name": "\(hello.clientName)"])
            let message = hello.token.isEmpty ? "this server requires a token; the hello has none" : "the token is not valid"
            return HelloOutcome(response: .status(requestID, .unauthenticated, message), role: nil)
        }
        if !hello.gatewayID.isEmpty {
            guard hello.gatewayID.utf8.count <= 128,
                !hello.gatewayID.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                return HelloOutcome(
                    response: .status(requestID, .invalidArgument, "gateway_id must be at most 128 bytes without control characters"),
                    role: nil)
            }
        }
        let gateway = hello.gatewayID.isEmpty ? nil : hello.gatewayID
        let response = Telemetry_V1_ResponseEnvelope.ok(requestID) { r in
            var h = Telemetry_V1_HelloResponse()
            h.protocolVersion = Self.protocolVersion
            h.serverVersion = Self.serverVersion
            h.role = role.wire
            h.maxFrameBytes = UInt32(configuration.maxFrameBytes)
            h.maxInFlight = UInt32(configuration.maxInFlightPerConnection)
            h.maxRecordsPerBatch = UInt32(configuration.maxRecordsPerBatch)
            if let gateway, let sequence = store.lastCommittedSequence(gateway: gateway) {
                h.lastCommittedSequence = sequence
            }
            r.hello = h
        }
        return HelloOutcome(response: response, role: role, gatewayID: gateway)
    }

    // MARK: - Ingest

    /// A batch checked record by record, ready for the ordered write.
    struct PreparedIngest: Sendable {
        var requestID: UInt64
        var valid: [(index: Int, record: ProviderRecord)]
        var rejected: [Telemetry_V1_RejectedRecord]
        /// Records without a vehicle id or timestamp, kept as dead letters by a mapping pipeline.
        var incomplete: [(index: Int, letter: DeadLetter)] = []
        /// The highest gateway sequence among all the batch's records.
        var highestSequence: UInt64?
        var gatewayID: String?
        /// Set when the whole batch is refused.
        var refusal: Telemetry_V1_ResponseEnvelope?
    }

    /// Validates a batch; CPU only, so the connection runs it while the previous batch is
    /// being written.
    func prepareIngest(_ request: Telemetry_V1_IngestRequest, requestID: UInt64, gatewayID: String?) -> PreparedIngest {
        var prepared = PreparedIngest(requestID: requestID, valid: [], rejected: [], gatewayID: gatewayID)
        let count = request.records.count + request.columnar.timestampsMs.count
        guard count > 0 else {
            prepared.refusal = .status(requestID, .invalidArgument, "ingest batch has no records")
            return prepared
        }
        guard count <= configuration.maxRecordsPerBatch else {
            prepared.refusal = .status(
                requestID, .resourceExhausted,
                "ingest batch of \(count) records exceeds max_records_per_batch \(configuration.maxRecordsPerBatch); split it")
            return prepared
        }
        // Both forms become (index, record or why not); the checks after that are shared.
        var candidates = [(index: Int, record: Result<ProviderRecord, StatusError>, hasSequence: Bool, sequence: UInt64)]()
        candidates.reserveCapacity(count)
        let keepIncomplete = pipeline.deadLettersIncompleteRecords
        let receivedAt = clock()
        for (index, wire) in request.records.enumerated() {
            // Sequences start at 1: an explicit 0 is "no sequence", as in the columnar form.
            let sequence: UInt64? = wire.hasGatewaySequence && wire.gatewaySequence > 0 ? wire.gatewaySequence : nil
            // The gateway_sequence rule comes first (PROTOCOL section 7.3): such a record is
            // rejected below, not kept as a dead letter.
            if keepIncomplete, wire.vehicleID.isEmpty || wire.timestampMs == 0, !(sequence != nil && gatewayID == nil),
                let letter = Self.incompleteLetter(
                    vehicle: wire.vehicleID, timestamp: wire.timestampMs, provider: wire.provider,
                    fields: wire.fields.map(Field.init(wire:)), sequence: sequence,
                    receivedAt: receivedAt)
            {
                prepared.incomplete.append((index, letter))
                if let sequence { prepared.highestSequence = Swift.max(prepared.highestSequence ?? 0, sequence) }
                continue
            }
            let record = Result { () throws(StatusError) in try ProviderRecord(validating: wire) }
            candidates.append((index, record, sequence != nil, sequence ?? 0))
        }
        if request.hasColumnar {
            let decoded: Columnar.Decoded
            do { decoded = try Columnar.decode(request.columnar) } catch {
                prepared.refusal = failure(requestID, error, kind: .ingest)
                return prepared
            }
            let offset = request.records.count
            for (i, row) in decoded.rows.enumerated() {
                if keepIncomplete, row.vehicle.isEmpty || row.timestamp == 0, !(row.gatewaySequence != nil && gatewayID == nil),
                    let letter = Self.incompleteLetter(
                        vehicle: row.vehicle, timestamp: row.timestamp, provider: row.provider, fields: row.fields,
                        sequence: row.gatewaySequence, receivedAt: receivedAt)
                {
                    prepared.incomplete.append((offset + i, letter))
                    if let s = row.gatewaySequence { prepared.highestSequence = Swift.max(prepared.highestSequence ?? 0, s) }
                    continue
                }
                let record: Result<ProviderRecord, StatusError>
                if let error = decoded.rejected[i] {
                    record = .failure(error)
                } else if let r = row.providerRecord {
                    record = .success(r)
                } else {
                    record = .failure(StatusError(.invalidArgument, "vehicle_id is not valid"))
                }
                candidates.append((offset + i, record, row.gatewaySequence != nil, row.gatewaySequence ?? 0))
            }
        }
        let now = clock()
        let latestAccepted = now > Int64.max - configuration.maxFutureSkewMs ? Int64.max : now + configuration.maxFutureSkewMs
        prepared.valid.reserveCapacity(count)
        for candidate in candidates {
            if candidate.hasSequence {
                prepared.highestSequence = Swift.max(prepared.highestSequence ?? 0, candidate.sequence)
            }
            do throws(StatusError) {
                if candidate.hasSequence && gatewayID == nil {
                    throw StatusError(.invalidArgument, "gateway_sequence is set but the hello gave no gateway_id")
                }
                let record = try candidate.record.get()
                if record.timestamp > latestAccepted {
                    throw StatusError(
                        .invalidArgument,
                        "timestamp_ms \(record.timestamp) is more than \(configuration.maxFutureSkewMs) ms ahead of the server clock (\(now))")
                }
                if let min = configuration.minTimestampMs, record.timestamp < min {
                    throw StatusError(.invalidArgument, "timestamp_ms \(record.timestamp) is before the accepted minimum \(min)")
                }
                prepared.valid.append((candidate.index, record))
            } catch {
                var r = Telemetry_V1_RejectedRecord()
                r.index = UInt32(candidate.index)
                r.code = UInt32(error.code.rawValue)
                r.reason = "records[\(candidate.index)]: \(error.message)"
                prepared.rejected.append(r)
            }
        }
        return prepared
    }

    /// The dead letter of a record that has no vehicle id or no timestamp, when its provider
    /// and fields are otherwise sound (a record broken in more ways is rejected as before).
    static func incompleteLetter(
        vehicle: String, timestamp: Int64, provider: String, fields: [Field], sequence: UInt64?, receivedAt: Int64
    ) -> DeadLetter? {
        guard !provider.isEmpty, provider.utf8.count <= WireLimits.maxProviderBytes, !fields.isEmpty,
            vehicle.utf8.count <= VehicleID.maxByteCount
        else { return nil }
        let what = vehicle.isEmpty && timestamp == 0 ? "no vehicle_id and no timestamp_ms" : vehicle.isEmpty ? "no vehicle_id" : "no timestamp_ms"
        return DeadLetter(
            vehicleID: vehicle, timestamp: timestamp == 0 ? nil : timestamp, provider: provider, fields: fields,
            gatewaySequence: sequence, receivedAt: receivedAt, reason: MappingFailure.Reason.missingVehicleOrTimestamp.rawValue,
            message: "record has \(what)", mappingVersion: "")
    }

    /// Maps and writes a prepared batch; answers only after the write returned, so an OK
    /// answer means stored. Batches of one connection come here in order.
    func commitIngest(_ prepared: PreparedIngest) async -> Telemetry_V1_ResponseEnvelope {
        if let refusal = prepared.refusal {
            metrics.requestAnswered(.ingest, code: refusal.status.code)
            return refusal
        }
        let receivedAt = clock()
        do {
            let (summary, mapped, writeNanos) = try await threadPool.runIfActive { [store, pipeline] in
                var mapped = pipeline.map(prepared.valid, receivedAt: receivedAt, store: store)
                for (index, letter) in prepared.incomplete {
                    mapped.write.deadLetters.append(letter)
                    mapped.deadLettered.append((index, StatusError(.invalidArgument, "dead-lettered: \(letter.reason): \(letter.message)")))
                }
                if let gateway = prepared.gatewayID, let sequence = prepared.highestSequence {
                    mapped.write.gatewaySequences[gateway] = sequence
                }
                let start = ContinuousClock.now
                let summary: WriteSummary
                do { summary = try store.write(mapped.write) } catch {
                    pipeline.writeFailed(mapped)
                    throw error
                }
                let elapsed = ContinuousClock.now - start
                return (summary, mapped, elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            }
            let mappingRejects = mapped.rejected
            metrics.writeLatency.recordNanoseconds(writeNanos)
            metrics.requestAnswered(.ingest, code: 0)
            var rejected = prepared.rejected
            for (index, error) in mappingRejects {
                var r = Telemetry_V1_RejectedRecord()
                r.index = UInt32(index)
                r.code = UInt32(error.code.rawValue)
                r.reason = "records[\(index)]: \(error.message)"
                rejected.append(r)
            }
            metrics.ingestBatches.increment()
            metrics.recordsIngested.increment(by: Int64(summary.written))
            metrics.recordsDuplicate.increment(by: Int64(summary.duplicates))
            metrics.recordsRejected.increment(by: Int64(rejected.count))
            // Mapping failures are counted by the mapping service, by provider and reason; records
            // without a vehicle id or timestamp never reach it.
            if !prepared.incomplete.isEmpty { mappings?.countIncomplete(prepared.incomplete.map(\.letter)) }
            metrics.ingestTally.record(stored: summary.written, rejected: rejected.count, late: summary.late)
            return .ok(prepared.requestID) { r in
                var ack = Telemetry_V1_IngestResponse()
                ack.accepted = UInt32(summary.written)
                ack.duplicates = UInt32(summary.duplicates)
                ack.replaced = UInt32(summary.replaced)
                ack.deadLettered = UInt32(summary.deadLettered)
                ack.rejected = rejected.sorted { $0.index < $1.index }
                ack.deadLetters = mapped.deadLettered.sorted { $0.index < $1.index }.map { d in
                    var r = Telemetry_V1_RejectedRecord()
                    r.index = UInt32(d.index)
                    r.code = UInt32(d.error.code.rawValue)
                    r.reason = "records[\(d.index)]: \(d.error.message)"
                    return r
                }
                ack.durability = summary.durability.wire
                if let gateway = prepared.gatewayID, let sequence = store.lastCommittedSequence(gateway: gateway) {
                    ack.committedSequence = sequence
                }
                r.ingest = ack
            }
        } catch {
            return failure(prepared.requestID, error, kind: .ingest)
        }
    }

    // MARK: - Queries

    /// Serves a read request, streaming large results as several frames.
    func serveQuery(_ body: Telemetry_V1_RequestEnvelope.OneOf_Body, requestID: UInt64, sink: some ResponseSink) async throws {
        switch body {
        case .rangeQuery(let q): try await range(q, requestID: requestID, sink: sink)
        case .latest(let q): try await latest(q, requestID: requestID, sink: sink)
        case .aggregate(let q): try await aggregate(q, requestID: requestID, sink: sink)
        case .listVehicles: try await listVehicles(requestID: requestID, sink: sink)
        case .ping:
            try await sink.send(.ok(requestID) { r in r.ping = Telemetry_V1_PingResponse.with { $0.serverTimeMs = clock() } })
        case .admin(let a): try await admin(a, requestID: requestID, sink: sink)
        case .hello, .ingest:
            // The connection routes these itself; reaching here is a routing bug, answered, not trapped.
            try await sink.send(.status(requestID, .internal, "request routed to the wrong handler"))
        }
    }

    /// Runs a query's storage work on the thread pool, unless its connection closed while it
    /// waited there (`ConnectionClosedError`).
    private func runQuery<T: Sendable>(
        for sink: some ResponseSink, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await threadPool.runIfActive {
            guard sink.isOpen else { throw ConnectionClosedError() }
            return try body()
        }
    }

    private func vehicle(_ id: String, field: String = "vehicle_id") throws(StatusError) -> VehicleID {
        do { return try VehicleID(id) } catch { throw StatusError(.invalidArgument, "\(field): \(error)") }
    }

    private func range(_ q: Telemetry_V1_RangeQueryRequest, requestID: UInt64, sink: some ResponseSink) async throws {
        let query: RangeQuery
        do {
            let v = try vehicle(q.vehicleID)
            guard q.fromMs < q.toMs else {
                throw StatusError(.invalidArgument, "from_ms \(q.fromMs) must be before to_ms \(q.toMs)")
            }
            query = RangeQuery(
                vehicle: v, from: q.fromMs, to: q.toMs, fields: q.fields.isEmpty ? nil : q.fields,
                limit: q.limit == 0 ? nil : Int(q.limit), order: q.order == .descending ? .descending : .ascending,
                cursor: q.cursor.isEmpty ? nil : q.cursor)
        } catch {
            try await sink.send(failure(requestID, error, kind: .rangeQuery))
            return
        }
        // Pages of recordsPerFrame, each fetched when the previous one is written: memory
        // stays bounded whatever the range, and a slow reader slows the scan.
        var remaining = query.limit ?? .max
        var cursor = query.cursor
        while true {
            var page = query
            page.limit = Swift.min(remaining, configuration.recordsPerFrame)
            page.cursor = cursor
            // The answer is built on the thread pool with the page: in columns, a sealed
            // block's values go straight into the message's typed lists.
            let result: (body: Telemetry_V1_RangeQueryResponse, count: Int, nextCursor: String?)
            do {
                result = try await runQuery(for: sink) { [store, page] in
                    var body = Telemetry_V1_RangeQueryResponse()
                    if q.columnar {
                        let p = try store.rangeColumns(page)
                        body.columnar = Columnar.encode(p.columns)
                        return (body, p.columns.count, p.nextCursor)
                    }
                    let p = try store.range(page)
                    body.records = p.records.map(\.wire)
                    return (body, p.records.count, p.nextCursor)
                }
            } catch let closed as ConnectionClosedError {
                throw closed
            } catch {
                try await sink.send(failure(requestID, error, kind: .rangeQuery))
                return
            }
            remaining -= result.count
            let last = result.nextCursor == nil || remaining == 0
            try await sink.send(
                .ok(requestID, more: !last) { r in
                    var body = result.body
                    if last, let next = result.nextCursor { body.nextCursor = next }
                    r.rangeQuery = body
                })
            if last {
                metrics.requestAnswered(.rangeQuery, code: 0)
                return
            }
            cursor = result.nextCursor
        }
    }

    private func latest(_ q: Telemetry_V1_LatestRequest, requestID: UInt64, sink: some ResponseSink) async throws {
        let states: [LatestState]
        let unknown: [String]
        do {
            guard !q.vehicleIds.isEmpty else { throw StatusError(.invalidArgument, "vehicle_ids is empty") }
            guard q.vehicleIds.count <= configuration.maxRecordsPerBatch else {
                throw StatusError(
                    .resourceExhausted,
                    "\(q.vehicleIds.count) vehicle_ids exceed the limit of \(configuration.maxRecordsPerBatch) per request; split it")
            }
            var vehicles = [VehicleID]()
            for (i, id) in q.vehicleIds.enumerated() { vehicles.append(try vehicle(id, field: "vehicle_ids[\(i)]")) }
            let fields = q.fields.isEmpty ? nil : q.fields
            // Latest state lives in memory (TelemetryStore.latest never reads the disk), so it is
            // served here: a hop to the thread pool would cost more than the lookup.
            states = try store.latest(vehicles, fields: fields)
            let known = Set(states.map(\.vehicle))
            unknown = vehicles.filter { !known.contains($0) }.map(\.rawValue)
        } catch {
            try await sink.send(failure(requestID, error, kind: .latest))
            return
        }
        // Streamed like range results, so that thousands of vehicles never make one huge frame;
        // the unknown ids travel in the last frame.
        let size = configuration.recordsPerFrame
        var start = 0
        repeat {
            let end = Swift.min(start + size, states.count)
            let last = end == states.count
            let chunk = states[start..<end]
            try await sink.send(
                .ok(requestID, more: !last) { r in
                    var body = Telemetry_V1_LatestResponse()
                    body.states = chunk.map(\.wire)
                    if last { body.unknownVehicleIds = unknown }
                    r.latest = body
                })
            start = end
        } while start < states.count
        metrics.requestAnswered(.latest, code: 0)
    }

    private func aggregate(_ q: Telemetry_V1_AggregateRequest, requestID: UInt64, sink: some ResponseSink) async throws {
        let buckets: [AggregateBucket]
        do {
            let v = try vehicle(q.vehicleID)
            guard q.fromMs < q.toMs else { throw StatusError(.invalidArgument, "from_ms \(q.fromMs) must be before to_ms \(q.toMs)") }
            guard q.bucketMs > 0 else { throw StatusError(.invalidArgument, "bucket_ms must be positive, got \(q.bucketMs)") }
            guard !q.fields.isEmpty else { throw StatusError(.invalidArgument, "fields is empty: name at least one numeric field") }
            buckets = try await runQuery(for: sink) { [store] in
                try store.aggregate(vehicle: v, from: q.fromMs, to: q.toMs, bucketMs: q.bucketMs, fields: q.fields)
            }
        } catch let closed as ConnectionClosedError {
            throw closed
        } catch {
            try await sink.send(failure(requestID, error, kind: .aggregate))
            return
        }
        try await sendChunked(buckets, requestID: requestID, sink: sink) { r, chunk in
            r.aggregate = Telemetry_V1_AggregateResponse.with { $0.buckets = chunk.map(\.wire) }
        }
        metrics.requestAnswered(.aggregate, code: 0)
    }

    private func listVehicles(requestID: UInt64, sink: some ResponseSink) async throws {
        let vehicles: [VehicleSummary]
        do {
            vehicles = try await runQuery(for: sink) { [store] in try store.vehicles() }
        } catch let closed as ConnectionClosedError {
            throw closed
        } catch {
            try await sink.send(failure(requestID, error, kind: .listVehicles))
            return
        }
        try await sendChunked(vehicles, requestID: requestID, sink: sink) { r, chunk in
            r.listVehicles = Telemetry_V1_ListVehiclesResponse.with { $0.vehicles = chunk.map(\.wire) }
        }
        metrics.requestAnswered(.listVehicles, code: 0)
    }

    /// Sends `items` in frames of at most recordsPerFrame; always at least one frame.
    private func sendChunked<T>(
        _ items: [T], requestID: UInt64, sink: some ResponseSink,
        fill: (inout Telemetry_V1_ResponseEnvelope, ArraySlice<T>) -> Void
    ) async throws {
        let size = configuration.recordsPerFrame
        var start = 0
        repeat {
            let end = Swift.min(start + size, items.count)
            let chunk = items[start..<end]
            try await sink.send(.ok(requestID, more: end < items.count) { r in fill(&r, chunk) })
            start = end
        } while start < items.count
    }

    // MARK: - Errors

    /// The answer for a failed request. Errors that know their status keep it; anything
    /// else is INTERNAL with a generic message, its detail only in the log.
    func failure(_ requestID: UInt64, _ error: any Error, kind: RequestKind) -> Telemetry_V1_ResponseEnvelope {
        let code: StatusCode
        let message: String
        if let restoring = stores.statusDuringRestore(for: error) {
            code = restoring.code
            message = restoring.message
        } else if let known = error as? any StatusCodeConvertible {
            code = known.statusCode
            message = known.statusMessage
        } else if error is NIOThreadPoolError.ThreadPoolInactive {
            code = .unavailable
            message = "the server is shutting down; retry on another connection"
        } else if error is CancellationError {
            // The connection closed while the request ran (its tasks are cancelled): the
            // client left, nothing failed on the server. Counted as CANCELLED, not INTERNAL,
            // so that client churn does not look like server errors.
            code = .cancelled
            message = "the request was cancelled: its connection closed"
            logger.debug(
                "request cancelled", metadata: RequestContext.metadata.merging(["telemetry.request.kind": "\(kind.rawValue)"]) { $1 })
        } else {
            code = .internal
            message = "internal error while serving \(kind.rawValue); see the server log"
            logger.error(
                "request failed",
                metadata: RequestContext.metadata.merging(["telemetry.request.kind": "\(kind.rawValue)", "error": "\(error)"]) { $1 })
        }
        metrics.requestAnswered(kind, code: UInt32(code.rawValue))
        return .status(requestID, code, message)
    }
}

extension Role {
    var wire: Telemetry_V1_Role {
        switch self {
        case .ingest: return .ingest
        case .query: return .query
        case .admin: return .admin
        }
    }
}
