import CoreMetrics
import Logging
import NIOCore
import SwiftProtobuf
import TelemetryCore
import TelemetryWire

/// Serves one connection: reads frames, answers each request, and never lets one bad
/// peer affect another (every error ends in a status or in closing this connection only).
///
/// Ingest batches of a connection are written strictly in the order they arrived (a
/// gateway's sequence numbers must commit in order), through one ordered lane; while one
/// batch is written the reader already validates the next. Queries run concurrently. At
/// most `maxInFlightPerConnection` requests are in flight; past that the reader waits.
struct ConnectionHandler: Sendable {
    /// Ingest batches of one connection decoded at once: the one being written and the next.
    static let preparedIngestBatches = 2

    let dispatcher: RequestDispatcher
    let registry: ConnectionRegistry
    let logger: Logger

    var configuration: ServerConfiguration { dispatcher.configuration }

    func serve(_ channel: NIOAsyncChannel<Frame, ByteBuffer>, limiter: InFlightLimiter, id: UInt64) async {
        var logger = self.logger
        logger[metadataKey: "telemetry.connection.id"] = "\(id)"
        let metrics = dispatcher.metrics
        let raw = channel.channel
        guard registry.register(raw) else {
            metrics.connectionsRejected.increment()
            logger.warning("connection refused: the server is at its limit of \(configuration.maxConnections) connections")
            try? await channel.executeThenClose { inbound, _ in
                let sink = ChannelResponseSink(channel: raw)
                try await sink.send(
                    .status(0, .unavailable, "the server is at its limit of \(configuration.maxConnections) connections; retry later"))
                // A lingering close: the client's hello is probably on its way. Closed at once,
                // the socket would answer it with a reset, and the client's kernel would drop
                // the frame above before the client read it. So the server stops sending, reads
                // and discards until the client closes, for a second at most.
                try? await raw.close(mode: .output).get()
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do { for try await _ in inbound {} } catch {}  // gone or garbage: closing either way
                    }
                    group.addTask { try? await Task.sleep(for: .seconds(1)) }
                    await group.next()
                    group.cancelAll()
                }
            }
            return
        }
        metrics.connectionsOpened.increment()
        metrics.connectionsActive.record(registry.count)
        logger.debug("connection opened", metadata: ["telemetry.peer": "\(raw.remoteAddress.map { "\($0)" } ?? "?")"])
        defer {
            registry.unregister(raw)
            metrics.connectionsActive.record(registry.count)
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                let sink = ChannelResponseSink(channel: raw)
                // A client that pipelined queries and left: the ones still waiting for a
                // thread are skipped instead of computed for nobody.
                raw.closeFuture.whenComplete { _ in sink.markClosed() }
                try await serveRequests(inbound, sink: sink, limiter: limiter, allocator: raw.allocator, logger: logger)
            }
            logger.debug("connection closed")
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// The body fields of `RequestEnvelope`, numbers 2 on, for messages.
    static let bodyNames = ["hello", "ingest", "range_query", "latest", "aggregate", "list_vehicles", "ping", "admin"]

    /// The request loop, separate from the channel so tests can drive it with any stream.
    func serveRequests<Inbound: AsyncSequence>(
        _ inbound: Inbound, sink: ChannelResponseSink, limiter: InFlightLimiter, allocator: ByteBufferAllocator,
        logger: Logger
    ) async throws where Inbound.Element == Frame {
        let dispatcher = self.dispatcher
        // Carried into the dispatcher's log lines with each request's id (RequestContext).
        let connectionMetadata: Logger.Metadata = logger[metadataKey: "telemetry.connection.id"].map { ["telemetry.connection.id": $0] } ?? [:]
        var machine = ConnectionStateMachine()
        var gatewayID: String? = nil
        let inFlight = RequestsInFlight(meter: dispatcher.metrics.requestsInFlight)
        defer { inFlight.connectionEnded() }
        try await withThrowingDiscardingTaskGroup { group in
            let (lane, laneInput) = AsyncStream.makeStream(of: RequestDispatcher.PreparedIngest.self)
            defer { laneInput.finish() }
            // A prepared batch is several times its frame's size (a record and a field array
            // per row), and batches are written one at a time: one being written and one
            // prepared keep the lane busy. Later ingest frames wait undecoded, which keeps a
            // connection's share of memory at two decoded batches, not one per request in flight.
            let prepared = InFlightLimiter(limit: Self.preparedIngestBatches)
            group.addTask {
                for await batch in lane {
                    let started = ContinuousClock.now
                    let answer = await RequestContext.$metadata.withValue(
                        connectionMetadata.merging(["telemetry.request.id": "\(batch.requestID)"]) { $1 }
                    ) { await dispatcher.commitIngest(batch) }
                    dispatcher.metrics.requestLatency[.ingest]?.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
                    prepared.release()
                    do { try await sink.send(answer) } catch {
                        // The write is done either way; a gateway that lost the answer re-sends,
                        // and the retry is counted as duplicates.
                        logger.debug("ingest answer not delivered", metadata: ["error": "\(error)"])
                    }
                    inFlight.finished()
                    limiter.release()
                }
            }
            do {
                for try await frame in inbound {
                    if registry.isDraining { machine.drainStarted() }
                    await limiter.acquire()
                    let envelope: Telemetry_V1_RequestEnvelope
                    do {
                        envelope = try EnvelopeCodec.decode(frame, maxBytes: configuration.maxFrameBytes, allocator: allocator)
                    } catch {
                        // The frame was well delimited, so the stream is still in step: answer and go on.
                        try await sink.send(.status(0, .invalidArgument, "\(error)"))
                        limiter.release()
                        continue
                    }
                    if frame.flags & FrameFlags.compressed != 0 { sink.peerSentCompressedFrame() }
                    // Envelope fields sent with another wire type: protobuf keeps them as unknown
                    // and sets nothing, which would read as request id 0 or as no body.
                    let misread = MisreadFields.find(in: envelope.unknownFields.data, numbers: 1...Self.bodyNames.count + 1)
                    if let id = misread.first(where: { $0.number == 1 }) {
                        // Its id unknown, the request is answered as one that did not decode (§3).
                        try await sink.send(
                            .status(
                                0, .invalidArgument,
                                "request_id (field 1) came with wire type \(MisreadFields.wireTypeName(id.wireType)); it is a varint (wire type 0)"
                            ))
                        limiter.release()
                        continue
                    }
                    let requestID = envelope.requestID
                    // Checked even when another body field decoded: which of the two the client
                    // meant cannot be known, so neither is served.
                    if let field = misread.first {
                        try await sink.send(
                            .status(
                                requestID, .invalidArgument,
                                "request \(requestID): field \(field.number) (\(Self.bodyNames[field.number - 2])) came with wire type "
                                    + "\(MisreadFields.wireTypeName(field.wireType)); a request body is a message (wire type 2)"))
                        limiter.release()
                        continue
                    }
                    guard let body = envelope.body else {
                        if envelope.unknownFields.data.isEmpty {
                            try await sink.send(.status(requestID, .invalidArgument, "request \(requestID) has no body"))
                        } else {
                            try await sink.send(
                                .status(
                                    requestID, .unimplemented,
                                    "request \(requestID) is of a type this server does not know (it speaks protocol version \(RequestDispatcher.protocolVersion))"
                                ))
                        }
                        limiter.release()
                        continue
                    }
                    let kind = RequestKind(body)
                    switch machine.requestReceived(kind) {
                    case .authenticate:
                        guard case .hello(let hello) = body else { preconditionFailure("authenticate is only returned for hello") }
                        let outcome = dispatcher.hello(hello, requestID: requestID)
                        if let role = outcome.role {
                            machine.helloAccepted(role: role)
                            gatewayID = outcome.gatewayID
                            logger.debug(
                                "hello accepted",
                                metadata: ["telemetry.client.name": "\(hello.clientName)", "telemetry.role": "\(role)"])
                        } else {
                            machine.helloRefused()
                        }
                        dispatcher.metrics.requestAnswered(.hello, code: outcome.response.status.code)
                        try await sink.send(outcome.response)
                        limiter.release()
                        if machine.isClosed { return }
                    case .reject(let code, let message):
                        let status = StatusCode(rawValue: code) ?? .unknown
                        dispatcher.metrics.requestAnswered(kind, code: UInt32(code))
                        try await sink.send(.status(requestID, status, message))
                        limiter.release()
                    case .dispatch:
                        if case .ingest(let request) = body {
                            dispatcher.metrics.ingestBytes.increment(by: Int64(frame.payload.readableBytes + 5))
                            inFlight.started()
                            await prepared.acquire()
                            laneInput.yield(dispatcher.prepareIngest(request, requestID: requestID, gatewayID: gatewayID))
                        } else {
                            inFlight.started()
                            group.addTask {
                                let started = ContinuousClock.now
                                let context = connectionMetadata.merging(["telemetry.request.id": "\(requestID)"]) { $1 }
                                do {
                                    try await RequestContext.$metadata.withValue(context) {
                                        try await dispatcher.serveQuery(body, requestID: requestID, sink: sink)
                                    }
                                } catch is ConnectionClosedError {
                                    dispatcher.metrics.queriesSkipped.increment()
                                } catch {
                                    logger.debug("answer not delivered", metadata: ["error": "\(error)", "telemetry.request.id": "\(requestID)"])
                                }
                                dispatcher.metrics.requestLatency[kind]?.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
                                inFlight.finished()
                                limiter.release()
                            }
                        }
                    }
                }
            } catch let error as FrameError {
                // The stream cannot be trusted past a bad header: answer, then close.
                logger.notice("closing connection after a framing error", metadata: ["error": "\(error)"])
                try? await sink.send(.status(0, .resourceExhausted, error.description))
            }
        }
    }
}

extension RequestKind {
    init(_ body: Telemetry_V1_RequestEnvelope.OneOf_Body) {
        switch body {
        case .hello: self = .hello
        case .ingest: self = .ingest
        case .rangeQuery: self = .rangeQuery
        case .latest: self = .latest
        case .aggregate: self = .aggregate
        case .listVehicles: self = .listVehicles
        case .ping: self = .ping
        case .admin: self = .admin
        }
    }
}

/// The connection and request a task serves, for the log lines written below the connection
/// (the dispatcher logs with the server's logger; this adds the ids).
enum RequestContext {
    @TaskLocal static var metadata: Logger.Metadata = [:]
}

extension Duration {
    /// Whole nanoseconds, for metrics timers.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
