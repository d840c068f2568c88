import Logging
import NIOCore
import NIOPosix
import Synchronization
import TelemetryCore
import TelemetryWire

extension TelemetryClient {
    /// One open, greeted connection.
    struct Link: Sendable {
        let channel: any Channel
        let session: SessionInfo
        /// Which connection this is: answers are only expected on the connection that carried the request.
        let generation: Int
    }

    struct Pending {
        var continuation: CheckedContinuation<[Telemetry_V1_ResponseEnvelope], any Error>
        var generation: Int
        var frames: [Telemetry_V1_ResponseEnvelope] = []
        var deadline: Scheduled<Void>? = nil
        /// Told each progress frame of a long admin operation; each one also restarts the
        /// deadline (`rearm`), so the timeout bounds the silence, not the whole operation.
        var onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
        var rearm: (@Sendable () -> Scheduled<Void>)? = nil
    }

    enum LinkState {
        case disconnected
        case connected(Link)
        /// The server refused this client for good (bad token, unsupported version).
        case failed(StatusError)
        /// `run()` ended.
        case shutdown
    }

    struct State {
        var link: LinkState = .disconnected
        var pending: [UInt64: Pending] = [:]
        var waiters: [CheckedContinuation<Link, any Error>] = []
        var nextRequestID: UInt64 = 1
        var generation = 0
        /// What the server said about a connection as a whole (request id 0) before closing it.
        var connectionErrors: [Int: StatusError] = [:]
    }

    /// Keeps the client connected until the task is cancelled: connects, greets, and after a
    /// lost connection reconnects with the retry policy's backoff (without giving up).
    /// - Throws: `ClientError` when the server refuses the hello (UNAUTHENTICATED,
    ///   FAILED_PRECONDITION): retrying cannot help, so waiting calls fail with it too.
    public func run() async throws {
        var failures = 0
        defer { shutDown() }
        while !Task.isCancelled {
            let connected: Bool
            do {
                connected = try await connectAndServe()
            } catch let error as StatusError where [.unauthenticated, .permissionDenied, .failedPrecondition, .invalidArgument].contains(error.code) {
                fail(with: error)
                throw error
            } catch is CancellationError {
                return
            } catch {
                connected = false
                // A status the server sent while turning the connection away (its connection
                // limit, draining) stays the server's: the caller can tell it from no server.
                let reason = StatusError(
                    .unavailable, "\(Self.unreachablePrefix)\(configuration.host):\(configuration.port): \(Self.describeConnectFailure(error))",
                    fromServer: (error as? StatusError)?.fromServer ?? false)
                logger.debug("connection attempt failed", metadata: ["error": "\(error)"])
                failWaiters(with: reason)
            }
            failures = connected ? 1 : failures + 1
            do {
                try await Task.sleep(for: configuration.retry.backoff(beforeAttempt: Swift.min(failures + 1, 8)))
            } catch {
                return
            }
        }
    }

    /// Connects, greets and serves one connection until it closes. Returns whether it got
    /// as far as a greeted connection.
    private func connectAndServe() async throws -> Bool {
        let maxFrame = configuration.maxFrameBytes
        let client = self
        let timeout = configuration.connectTimeout
        let generation = state.withLock { s -> Int in
            s.generation += 1
            return s.generation
        }
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelOption(SocketOptions.noDelay, value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrame)))
                    try channel.pipeline.syncOperations.addHandler(ClientChannelHandler(client: client, generation: generation))
                }
            }
            .connect(host: configuration.host, port: configuration.port).get()
        // Whenever it closes (even during the hello), its requests fail at once.
        channel.closeFuture.whenComplete { _ in client.connectionLost(generation: generation) }
        return try await withTaskCancellationHandler {
            // Greet: the hello travels like any request, on a link that is not yet public.
            let provisional = Link(
                channel: channel,
                session: SessionInfo(serverVersion: "", role: "", maxFrameBytes: maxFrame, maxInFlight: 1, maxRecordsPerBatch: 1, lastCommittedSequence: nil),
                generation: generation)
            var hello = Telemetry_V1_Hello()
            hello.protocolVersion = 1
            hello.token = configuration.token
            hello.clientName = configuration.clientName
            hello.gatewayID = configuration.gatewayID ?? ""
            var envelope = Telemetry_V1_RequestEnvelope()
            envelope.hello = hello
            let answer: Telemetry_V1_HelloResponse
            do {
                answer = try await send(envelope, on: provisional).first?.hello ?? Telemetry_V1_HelloResponse()
            } catch {
                channel.close(promise: nil)
                throw error
            }
            let session = SessionInfo(
                serverVersion: answer.serverVersion, role: Self.roleName(answer.role), maxFrameBytes: Int(answer.maxFrameBytes),
                maxInFlight: Int(answer.maxInFlight), maxRecordsPerBatch: Int(answer.maxRecordsPerBatch),
                lastCommittedSequence: answer.hasLastCommittedSequence ? answer.lastCommittedSequence : nil)
            let link = Link(channel: channel, session: session, generation: generation)
            let waiters = state.withLock { s -> [CheckedContinuation<Link, any Error>] in
                s.link = .connected(link)
                defer { s.waiters.removeAll() }
                return s.waiters
            }
            for w in waiters { w.resume(returning: link) }
            logger.debug("connected", metadata: ["telemetry.server": "\(session.serverVersion)", "telemetry.role": "\(session.role)"])
            try? await channel.closeFuture.get()
            return true
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// The connection of `generation` closed: its requests fail with UNAVAILABLE (and are
    /// retried by their callers).
    func connectionLost(generation: Int) {
        let (lost, reason) = state.withLock { s -> ([Pending], StatusError?) in
            if case .connected(let link) = s.link, link.generation == generation { s.link = .disconnected }
            let ids = s.pending.filter { $0.value.generation == generation }.map(\.key)
            // The reason stays (older connections' are dropped) for a request whose write
            // fails after this: it was not pending yet, and fails with the same reason.
            s.connectionErrors = s.connectionErrors.filter { $0.key >= generation }
            return (ids.compactMap { s.pending.removeValue(forKey: $0) }, s.connectionErrors[generation])
        }
        if !lost.isEmpty { logger.info("connection lost", metadata: ["telemetry.requests.failed": "\(lost.count)"]) }
        let error = reason ?? StatusError(.unavailable, "the connection to the server was lost before the answer came")
        for p in lost {
            p.deadline?.cancel()
            p.continuation.resume(throwing: error)
        }
    }

    /// A greeted connection: at once when there is one, else when `run()` makes one.
    func connection() async throws -> Link {
        try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<Link, any Error>? = state.withLock { s in
                switch s.link {
                case .connected(let link): return .success(link)
                case .failed(let error): return .failure(error)
                case .shutdown: return .failure(StatusError(.cancelled, "the client is closed"))
                case .disconnected:
                    s.waiters.append(continuation)
                    return nil
                }
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }

    private func failWaiters(with error: StatusError) {
        let waiters = state.withLock { s -> [CheckedContinuation<Link, any Error>] in
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume(throwing: error) }
    }

    private func fail(with error: StatusError) {
        state.withLock { $0.link = .failed(error) }
        failWaiters(with: error)
    }

    private func shutDown() {
        let (waiters, pending) = state.withLock { s -> ([CheckedContinuation<Link, any Error>], [Pending]) in
            if case .connected(let link) = s.link { link.channel.close(promise: nil) }
            if case .failed = s.link {} else { s.link = .shutdown }
            defer {
                s.waiters.removeAll()
                s.pending.removeAll()
            }
            return (s.waiters, Array(s.pending.values))
        }
        let error = StatusError(.cancelled, "the client is closed")
        for w in waiters { w.resume(throwing: error) }
        for p in pending {
            p.deadline?.cancel()
            p.continuation.resume(throwing: error)
        }
    }

    static func roleName(_ role: Telemetry_V1_Role) -> String {
        switch role {
        case .ingest: return "ingest"
        case .query: return "query"
        case .admin: return "admin"
        case .unspecified, .UNRECOGNIZED: return "unknown"
        }
    }
}

/// Routes frames from the socket to the client (runs on the event loop).
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = Frame

    private let client: TelemetryClient
    private let generation: Int

    init(client: TelemetryClient, generation: Int) {
        self.client = client
        self.generation = generation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.frameReceived(unwrapInboundIn(data), on: context.channel, generation: generation)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ClientChannelHandler: Sendable {}

extension TelemetryClient {
    /// How the client's own UNAVAILABLE begins when no connection could be made, so that a
    /// caller can tell "never connected, nothing sent" from a connection that broke.
    public static let unreachablePrefix = "cannot reach "

    /// A connect failure in words a user reads: NIO's error lists every address it tried with
    /// its internal types (`Connection errors: SingleConnectionFailure(target: ...)`); the
    /// reasons behind them (`Connection refused`, a failed name lookup) are what matters.
    static func describeConnectFailure(_ error: any Error) -> String {
        // A connection made, then lost before the hello was answered (not a telemetryd there):
        // the status's own message, without a second "UNAVAILABLE:".
        if let status = error as? StatusError { return status.message }
        guard let failure = error as? NIOConnectionError else { return "\(error)" }
        var reasons: [String] = []
        func add(_ reason: String) { if !reasons.contains(reason) { reasons.append(reason) } }
        if failure.dnsAError != nil && failure.dnsAAAAError != nil && failure.connectionErrors.isEmpty {
            add("the host name could not be resolved")
        }
        for attempt in failure.connectionErrors {
            if let io = attempt.error as? IOError {
                add(String(cString: strerror(io.errnoCode)))
            } else {
                add("\(attempt.error)")
            }
        }
        return reasons.isEmpty ? "\(error)" : reasons.joined(separator: "; ")
    }
}
