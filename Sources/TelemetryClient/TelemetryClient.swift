public import Logging
import NIOCore
import NIOPosix
import Synchronization
public import TelemetryCore
import TelemetryWire

/// An async client of telemetryd: domain types in, domain types out.
///
/// The client keeps one connection, opened and re-opened by `run()` (with backoff); calls
/// made from any number of tasks are pipelined on it and matched to their answers by
/// request id. A call that fails with UNAVAILABLE (connection lost, server restarting) is
/// retried per `RetryPolicy`: every request of the protocol is safe to repeat.
///
/// ```swift
/// try await withTelemetryClient(configuration) { client in
///     let ack = try await client.ingest(records)
/// }
/// ```
public final class TelemetryClient: Sendable {
    public let configuration: ClientConfiguration
    let logger: Logger
    let state = Mutex(State())
    /// Every connection of this client lives on this loop (reconnects too), so that
    /// `taskExecutor` keeps naming the loop that serves its calls.
    let eventLoop: any EventLoop
    private let executor: EventLoopTaskExecutor

    /// - Parameter logger: the client logs connection changes at debug and info level.
    public init(configuration: ClientConfiguration, logger: Logger = Logger(label: "telemetry-client")) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        self.executor = EventLoopTaskExecutor(eventLoop)
    }

    /// The executor of the thread that carries this client's connection.
    ///
    /// Calls made from a task that prefers it skip two thread hand-offs each (the request is
    /// written from the same thread, and the answer resumes the caller there): about a
    /// third of a small request's round trip on a busy machine. Use it for latency-bound
    /// loops of small calls, and do no blocking work in such a task: it would stall the
    /// connection (and any other connection on that thread).
    ///
    /// ```swift
    /// try await withTaskExecutorPreference(client.taskExecutor) {
    ///     for v in vehicles { _ = try await client.latest([v]) }
    /// }
    /// ```
    public var taskExecutor: any TaskExecutor { executor }

    /// What the server granted on the current connection, once connected.
    public var session: SessionInfo? {
        state.withLock { s in
            if case .connected(let c) = s.link { return c.session }
            return nil
        }
    }

    // MARK: - Calls

    /// Sends provider records; returns once the server has stored them (or refused them).
    /// Batches larger than the server's limit are split and sent in order.
    /// - Throws: `ClientError` with the server's status for a refused batch, UNAVAILABLE
    ///   when the server stayed unreachable through every retry.
    public func ingest(_ records: [ProviderRecord]) async throws -> IngestResult {
        guard !records.isEmpty else { return IngestResult() }
        try Self.checkNesting(records)
        let limit = try await withRetries { try await connection() }.session.maxRecordsPerBatch
        var total = IngestResult()
        var offset = 0
        while offset < records.count {
            let end = Swift.min(offset + Swift.max(limit, 1), records.count)
            var request = Telemetry_V1_IngestRequest()
            request.columnar = Columnar.encode(records[offset..<end])
            let answer = try await call(.ingest(request)).first?.ingest ?? Telemetry_V1_IngestResponse()
            total.accepted += Int(answer.accepted)
            total.duplicates += Int(answer.duplicates)
            total.replaced += Int(answer.replaced)
            total.deadLettered += Int(answer.deadLettered)
            total.deadLetters += answer.deadLetters.map {
                RejectedRecord(index: offset + Int($0.index), code: StatusCode(rawValue: UInt8(clamping: $0.code)) ?? .unknown, reason: $0.reason)
            }
            total.rejected += answer.rejected.map {
                RejectedRecord(index: offset + Int($0.index), code: StatusCode(rawValue: UInt8(clamping: $0.code)) ?? .unknown, reason: $0.reason)
            }
            total.durability = answer.durability == .synced ? .sync : .buffered
            if answer.hasCommittedSequence { total.committedSequence = answer.committedSequence }
            offset = end
        }
        return total
    }

    /// The deepest array nesting a field value can have in this client's ingest requests: one
    /// more and the server's protobuf decoder (nesting limit 100) cannot read the envelope, so
    /// it answers with request id 0 (PROTOCOL section 2), which names no request: the client
    /// then closes the connection and fails every unanswered request with it. Such a batch is
    /// refused here instead, naming the field.
    static let maxArrayNesting = 47

    static func checkNesting(_ records: [ProviderRecord]) throws {
        func depth(_ v: FieldValue) -> Int {
            guard case .array(let items) = v else { return 0 }
            return 1 + (items.map(depth).max() ?? 0)
        }
        for (i, record) in records.enumerated() {
            for field in record.fields {
                guard case .array = field.value else { continue }
                let d = depth(field.value)
                if d > maxArrayNesting {
                    throw StatusError(
                        .invalidArgument,
                        "record \(i) (vehicle \(record.vehicle)), field \(field.name): a value nested \(d) arrays deep; "
                            + "the protocol carries at most \(maxArrayNesting)")
                }
            }
        }
    }

    /// One vehicle's records in [from, to): the whole answer, or one page when the query
    /// has a limit (then `nextCursor` continues).
    public func range(_ query: RangeQuery) async throws -> RangePage {
        var records = [TelemetryRecord]()
        var next: String? = nil
        try await range(query) { page, cursor in
            records.append(contentsOf: page)
            next = cursor
        }
        return RangePage(records: records, nextCursor: next)
    }

    /// Streams a range query: `onPage` gets each frame's records as it arrives, and the
    /// cursor on the last one.
    public func range(_ query: RangeQuery, onPage: (_ records: [TelemetryRecord], _ nextCursor: String?) throws -> Void) async throws {
        try await rangeColumns(query) { columns, cursor in try onPage(columns.records, cursor) }
    }

    /// `range` as columns: the whole answer, or one page when the query has a limit. Cheaper
    /// than records when the values are used column by column: the answer is decoded into
    /// typed arrays, with no `TelemetryRecord` made per row (`records` makes them).
    public func rangeColumns(_ query: RangeQuery) async throws -> ColumnarRangePage {
        var columns = RecordColumns(vehicle: query.vehicle)
        var next: String? = nil
        var first = true
        try await rangeColumns(query) { page, cursor in
            if first {
                columns = page
                first = false
            } else {
                columns.append(page)
            }
            next = cursor
        }
        return ColumnarRangePage(columns: columns, nextCursor: next)
    }

    /// Streams a range query as columns: `onPage` gets each frame's rows as they arrive, and
    /// the cursor on the last one.
    public func rangeColumns(_ query: RangeQuery, onPage: (_ columns: RecordColumns, _ nextCursor: String?) throws -> Void) async throws {
        var request = Telemetry_V1_RangeQueryRequest()
        request.vehicleID = query.vehicle.rawValue
        request.fromMs = query.from
        request.toMs = query.to
        request.fields = query.fields ?? []
        request.limit = UInt32(clamping: query.limit ?? 0)
        request.order = query.order == .descending ? .descending : .ascending
        request.cursor = query.cursor ?? ""
        request.columnar = true
        for frame in try await call(.rangeQuery(request)) {
            var columns = try Columnar.decodeColumns(frame.rangeQuery.columnar, vehicle: query.vehicle)
            // A server answers in columns when asked to; records in the per-record form are
            // still taken, ahead of the columns, as the protocol allows both in one frame.
            if !frame.rangeQuery.records.isEmpty {
                var records = [TelemetryRecord]()
                for r in frame.rangeQuery.records {
                    let record = try TelemetryRecord(wire: r)
                    guard record.vehicle == query.vehicle else {
                        throw StatusError(.internal, "the server answered a query of vehicle \(query.vehicle) with a record of vehicle \(record.vehicle)")
                    }
                    records.append(record)
                }
                var merged = RecordColumns(vehicle: query.vehicle, records: records)
                merged.append(columns)
                columns = merged
            }
            try onPage(columns, frame.more || frame.rangeQuery.nextCursor.isEmpty ? nil : frame.rangeQuery.nextCursor)
        }
    }

    /// The latest state of each vehicle (per field, the newest value), in the order asked;
    /// ids the store does not know are listed in `unknownVehicles`. Any number of ids: more than
    /// the server takes per request (its `max_records_per_batch`) go as several requests.
    public func latest(_ vehicles: [VehicleID], fields: [String]? = nil) async throws -> LatestResult {
        // The server takes at most max_records_per_batch ids per request (its hello says how
        // many): more are sent as several requests, in order, as ingest splits its batches.
        let limit = vehicles.count <= 1 ? 1 : Swift.max(try await withRetries { try await connection() }.session.maxRecordsPerBatch, 1)
        var states = [LatestState]()
        var unknown = [String]()
        var offset = 0
        repeat {
            let end = Swift.min(offset + limit, vehicles.count)
            var request = Telemetry_V1_LatestRequest()
            request.vehicleIds = vehicles[offset..<end].map(\.rawValue)
            request.fields = fields ?? []
            for frame in try await call(.latest(request)) {
                for s in frame.latest.states { states.append(try LatestState(wire: s)) }
                unknown += frame.latest.unknownVehicleIds
            }
            offset = end
        } while offset < vehicles.count
        return LatestResult(states: states, unknownVehicles: unknown)
    }

    /// Downsampling: per bucket of `bucketMs`, count/min/max/sum/avg/first/last of each field.
    public func aggregate(vehicle: VehicleID, from: Int64, to: Int64, bucketMs: Int64, fields: [String]) async throws -> [AggregateBucket] {
        var request = Telemetry_V1_AggregateRequest()
        request.vehicleID = vehicle.rawValue
        request.fromMs = from
        request.toMs = to
        request.bucketMs = bucketMs
        request.fields = fields
        return try await call(.aggregate(request)).flatMap { $0.aggregate.buckets.map(AggregateBucket.init(wire:)) }
    }

    /// Every vehicle the store holds, with its time span and record count.
    public func vehicles() async throws -> [VehicleSummary] {
        var out = [VehicleSummary]()
        for frame in try await call(.listVehicles(Telemetry_V1_ListVehiclesRequest())) {
            for v in frame.listVehicles.vehicles { out.append(try VehicleSummary(wire: v)) }
        }
        return out
    }

    /// A round trip; returns the server's clock (ms since 1970).
    public func ping() async throws -> Int64 {
        try await call(.ping(Telemetry_V1_PingRequest())).first?.ping.serverTimeMs ?? 0
    }

    // MARK: - Request plumbing

    /// Sends a request and collects every frame of its answer, retrying on UNAVAILABLE.
    /// - Parameter onProgress: told each progress frame (admin operations); the request timeout
    ///   then runs from the latest frame.
    func call(
        _ body: Telemetry_V1_RequestEnvelope.OneOf_Body, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> [Telemetry_V1_ResponseEnvelope] {
        try await withRetries { try await callOnce(body, onProgress: onProgress) }
    }

    /// Runs `operation`, again after the policy's backoff while it fails with UNAVAILABLE.
    func withRetries<T>(_ operation: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as StatusError where error.code == .unavailable && attempt < configuration.retry.maxAttempts {
                attempt += 1
                let wait = configuration.retry.backoff(beforeAttempt: attempt)
                logger.debug("retrying after UNAVAILABLE", metadata: ["attempt": "\(attempt)", "error": "\(error.message)"])
                try await Task.sleep(for: wait)
            }
        }
    }

    func callOnce(
        _ body: Telemetry_V1_RequestEnvelope.OneOf_Body, onProgress: (@Sendable (ProgressUpdate) -> Void)?
    ) async throws -> [Telemetry_V1_ResponseEnvelope] {
        let link = try await connection()
        var envelope = Telemetry_V1_RequestEnvelope()
        envelope.body = body
        return try await send(envelope, on: link, onProgress: onProgress)
    }

    /// Writes `envelope` (numbering it) on `link` and waits for its whole answer.
    func send(
        _ envelope: Telemetry_V1_RequestEnvelope, on link: Link, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> [Telemetry_V1_ResponseEnvelope] {
        var envelope = envelope
        let frames: [Telemetry_V1_ResponseEnvelope] = try await withCheckedThrowingContinuation { continuation in
            let id = state.withLock { s -> UInt64 in
                let id = s.nextRequestID
                s.nextRequestID &+= 1
                s.pending[id] = Pending(continuation: continuation, generation: link.generation, onProgress: onProgress)
                return id
            }
            envelope.requestID = id
            let buffer: ByteBuffer
            do {
                buffer = try EnvelopeCodec.encode(
                    envelope, compress: configuration.compress, allocator: link.channel.allocator,
                    maxPayloadBytes: link.session.maxFrameBytes)
            } catch let error as PayloadTooLarge {
                complete(
                    id,
                    with: .failure(
                        StatusError(
                            .resourceExhausted,
                            "request of \(error.size) bytes exceeds the server's maximum frame size of \(error.limit) bytes; send smaller batches")))
                return
            } catch {
                complete(id, with: .failure(StatusError(.internal, "cannot encode the request: \(error)")))
                return
            }
            let timeout = configuration.requestTimeout
            let eventLoop = link.channel.eventLoop
            let arm: @Sendable () -> Scheduled<Void> = { [weak self] in
                eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [weak self] () -> Void in
                    self?.complete(id, with: .failure(StatusError(.deadlineExceeded, "no answer within \(timeout)")))
                }
            }
            let deadline = arm()
            state.withLock {
                $0.pending[id]?.deadline = deadline
                if onProgress != nil { $0.pending[id]?.rearm = arm }
            }
            link.channel.writeAndFlush(buffer).whenFailure { [weak self] error in
                guard let self else { return }
                // A failed write means a broken connection. The request fails when it has
                // closed: by then a frame the server sent before closing (request id 0, such as
                // "at its limit of N connections") has been read, and `connectionLost` fails
                // the request with that reason; this generic one is for when there was none.
                link.channel.close(promise: nil)
                link.channel.closeFuture.whenComplete { _ in
                    // The connection may have closed before this request was pending, with a
                    // reason already told to the requests that were: this one gets it too.
                    let reason = self.state.withLock { $0.connectionErrors[link.generation] }
                    self.complete(id, with: .failure(reason ?? StatusError(.unavailable, "cannot send the request: \(error)")))
                }
            }
        }
        return frames
    }

    /// Resolves a pending request once.
    func complete(_ id: UInt64, with result: Result<[Telemetry_V1_ResponseEnvelope], any Error>) {
        guard let pending = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        pending.deadline?.cancel()
        pending.continuation.resume(with: result)
    }

    /// An answer frame arrived (on the event loop) on the connection of `generation`.
    func frameReceived(_ frame: Frame, on channel: any Channel, generation: Int) {
        let allocator = channel.allocator
        let envelope: Telemetry_V1_ResponseEnvelope
        do {
            envelope = try EnvelopeCodec.decode(
                frame, maxBytes: configuration.maxFrameBytes, allocator: allocator, messageDepthLimit: EnvelopeCodec.answerDepthLimit)
        } catch {
            // Which request it answers is unknown, so no request could end with it, and each
            // would wait out its timeout: the connection is dropped, and its requests fail now
            // with this reason (INTERNAL: a retry would get the same answer).
            logger.error("undecodable answer from the server", metadata: ["error": "\(error)"])
            let reason = StatusError(.internal, "undecodable answer from the server: \(error)")
            state.withLock { s in
                if s.connectionErrors[generation] == nil { s.connectionErrors[generation] = reason }
            }
            channel.close(promise: nil)
            return
        }
        let id = envelope.requestID
        let status = envelope.status.statusCode
        if id == 0 && status != .ok {
            // About the connection, not one request (connection limit, framing error): when the
            // connection then closes, its pending requests fail with this status, not a generic one.
            // The server closes after most of these; after a request it could not decode it
            // keeps the connection, and that request would never be answered. Which one it was
            // cannot be told, so, as PROTOCOL section 3 says, the connection is closed and every
            // unanswered request fails with this reason.
            logger.warning("server reported a connection error", metadata: ["status": "\(status)", "error": "\(envelope.status.message)"])
            state.withLock { $0.connectionErrors[generation] = StatusError(status, envelope.status.message, fromServer: true) }
            channel.close(promise: nil)
            return
        }
        if envelope.more, envelope.admin.progress.phase != "" {
            // A progress frame: told to the caller, never collected as part of the answer.
            let onProgress = state.withLock { s -> (@Sendable (ProgressUpdate) -> Void)? in
                guard var pending = s.pending[id] else { return nil }
                if let rearm = pending.rearm {
                    pending.deadline?.cancel()
                    pending.deadline = rearm()
                    s.pending[id] = pending
                }
                return pending.onProgress
            }
            let p = envelope.admin.progress
            onProgress?(ProgressUpdate(phase: p.phase, done: p.done, total: p.total, unit: p.unit))
            return
        }
        let finished: Result<[Telemetry_V1_ResponseEnvelope], any Error>? = state.withLock { s in
            guard var pending = s.pending[id] else { return nil }
            if status != .ok {
                return .failure(StatusError(status, envelope.status.message, fromServer: true))
            }
            pending.frames.append(envelope)
            if envelope.more {
                s.pending[id] = pending
                return nil
            }
            return .success(pending.frames)
        }
        if let finished { complete(id, with: finished) }
    }
}

extension Duration {
    /// The duration in whole nanoseconds, for NIO's timers.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Runs a client for the duration of `body`: connects, serves `body`'s calls, and closes.
public func withTelemetryClient<T: Sendable>(
    _ configuration: ClientConfiguration, logger: Logger = Logger(label: "telemetry-client"),
    _ body: (TelemetryClient) async throws -> T
) async throws -> T {
    let client = TelemetryClient(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
