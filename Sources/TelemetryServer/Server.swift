public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
public import TelemetryStorage
import TelemetryWire

/// A connection as accepted: its channel and its in-flight count (shared with the idle check).
struct AcceptedConnection: Sendable {
    let channel: NIOAsyncChannel<Frame, ByteBuffer>
    let limiter: InFlightLimiter
}

/// telemetryd's TCP server: accepts connections and serves them until shutdown.
///
/// `bind` opens the listener (so a taken port fails at once, before anything runs); `run`
/// serves until graceful shutdown, when it stops accepting, lets every connection finish
/// the requests it has in flight, and returns. The caller closes the store afterwards.
public final class Server: Service {
    /// The port actually bound (useful with port 0).
    public let localPort: Int
    private let serverChannel: NIOAsyncChannel<AcceptedConnection, Never>
    private let handler: ConnectionHandler
    private let registry: ConnectionRegistry
    private let logger: Logger
    private let nextConnectionID = Atomic<UInt64>(1)

    private init(
        serverChannel: NIOAsyncChannel<AcceptedConnection, Never>, handler: ConnectionHandler,
        registry: ConnectionRegistry, logger: Logger
    ) {
        self.serverChannel = serverChannel
        self.localPort = serverChannel.channel.localAddress?.port ?? 0
        self.handler = handler
        self.registry = registry
        self.logger = logger
    }

    /// Opens the listener.
    /// - Parameters:
    ///   - mappings: the mappings applied while ingesting; nil stores provider fields as they
    ///     come (the identity mapping).
    ///   - metrics: where counters go; defaults to the process's metrics system.
    /// - Throws: `ConfigurationError` for inconsistent settings; NIO's error when the address cannot be bound.
    public static func bind(
        configuration: ServerConfiguration, store: TelemetryStore, mappings: MappingService? = nil,
        metrics: ServerMetrics = ServerMetrics(), logger: Logger
    ) async throws -> Server {
        try await bind(configuration: configuration, stores: StoreHandle(store), mappings: mappings, metrics: metrics, logger: logger)
    }

    /// Opens the listener, serving whichever store `stores` holds (an online restore swaps it).
    public static func bind(
        configuration: ServerConfiguration, stores: StoreHandle, mappings: MappingService? = nil,
        metrics: ServerMetrics = ServerMetrics(), logger: Logger
    ) async throws -> Server {
        try configuration.validate()
        let registry = ConnectionRegistry(limit: configuration.maxConnections)
        let dispatcher = RequestDispatcher(
            stores: stores, configuration: configuration, mappings: mappings, threadPool: .singleton, metrics: metrics,
            logger: logger, isDraining: { registry.isDraining })
        let handler = ConnectionHandler(dispatcher: dispatcher, registry: registry, logger: logger)
        let maxFrame = configuration.maxFrameBytes
        let idle = TimeAmount.seconds(Int64(configuration.idleTimeoutSeconds))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(SocketOptions.noDelay, value: 1)
            // Lets shutdown close a connection's input while its answers are still written.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let limiter = InFlightLimiter(limit: configuration.maxInFlightPerConnection)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: idle))
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrame)))
                    try sync.addHandler(IdleCloseHandler(limiter: limiter))
                    let wrapped = try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
                    return AcceptedConnection(channel: wrapped, limiter: limiter)
                }
            }
        let server = Server(serverChannel: channel, handler: handler, registry: registry, logger: logger)
        logger.info(
            "listening",
            metadata: [
                "telemetry.address": "\(configuration.host):\(server.localPort)",
                "telemetry.auth": "\(configuration.tokens.isEmpty ? "off (loopback only)" : "\(configuration.tokens.count) tokens")",
            ])
        return server
    }

    /// True once shutdown began: connections finish their requests and take no new ones.
    public var isDraining: Bool { registry.isDraining }

    /// Connections open now.
    public var connectionCount: Int { registry.count }

    /// Serves connections until graceful shutdown (or cancellation).
    public func run() async throws {
        let handler = self.handler
        let registry = self.registry
        let serverChannel = self.serverChannel
        let logger = self.logger
        do {
            try await serve(handler: handler, registry: registry, serverChannel: serverChannel, logger: logger)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // The service group stops every service after this and telemetryd exits non-zero,
            // for a supervisor to restart it; the group itself logs it at debug level only.
            logger.critical("the listener failed; the server stops", metadata: ["error": "\(error)"])
            throw error
        }
        logger.info("all connections closed")
    }

    private func serve(
        handler: ConnectionHandler, registry: ConnectionRegistry,
        serverChannel: NIOAsyncChannel<AcceptedConnection, Never>, logger: Logger
    ) async throws {
        try await withGracefulShutdownHandler {
            try await serverChannel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        let id = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
                        // The connection's tasks run on its event loop (EventLoopTaskExecutor).
                        let executor = EventLoopTaskExecutor(connection.channel.channel.eventLoop)
                        group.addTask(executorPreference: executor) {
                            await handler.serve(connection.channel, limiter: connection.limiter, id: id)
                        }
                    }
                    logger.info("listener closed; finishing the requests in flight", metadata: ["telemetry.connections": "\(registry.count)"])
                }
            }
        } onGracefulShutdown: {
            logger.info("shutting down: no new connections or requests")
            registry.startDraining()
            serverChannel.channel.close(promise: nil)
        }
    }
}
