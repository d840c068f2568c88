public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle

/// What `/health` and `/ready` report.
public enum HealthState: String, Sendable, Hashable {
    /// Serving reads and writes.
    case ready
    /// Reads work, writes are refused (a write error, a full disk): see the reason.
    case degraded
    /// Shutting down: finishing requests in flight, taking no new ones.
    case draining
    case closed
}

/// A health answer: the state and, when not ready, why.
public struct HealthReport: Sendable, Hashable {
    public var state: HealthState
    public var reason: String?

    public init(state: HealthState, reason: String? = nil) {
        self.state = state
        self.reason = reason
    }
}

/// The HTTP side door for monitoring, on its own port (default 127.0.0.1:7401):
/// `GET /metrics` (Prometheus text format), `GET /health` (200 while the process serves,
/// 503 once closed; the body says ready, degraded or draining) and `GET /ready` (200 only
/// when ready: a load balancer or orchestrator sends no traffic to a degraded store).
public final class ObservabilityServer: Service {
    public let localPort: Int
    private let channel: any Channel
    private let logger: Logger

    private init(channel: any Channel, logger: Logger) {
        self.channel = channel
        self.localPort = channel.localAddress?.port ?? 0
        self.logger = logger
    }

    /// Opens the HTTP listener.
    /// - Parameters:
    ///   - health: called per request, cheap.
    ///   - metrics: renders the Prometheus text exposition, called per scrape.
    public static func bind(
        host: String, port: Int, logger: Logger, health: @escaping @Sendable () -> HealthReport,
        metrics: @escaping @Sendable () -> String
    ) async throws -> ObservabilityServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTPHandler(health: health, metrics: metrics))
                    }
                }
            }
            .bind(host: host, port: port).get()
        let server = ObservabilityServer(channel: channel, logger: logger)
        logger.info("monitoring endpoint listening", metadata: ["telemetry.http.address": "\(host):\(server.localPort)"])
        return server
    }

    /// Serves until graceful shutdown, or until cancelled: when another service fails, its
    /// group cancels the rest, and an endpoint that outlived the listener would keep answering
    /// `ready` for a server that no longer serves (and hold the process up).
    public func run() async throws {
        let channel = self.channel
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await channel.closeFuture.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

/// One HTTP/1.1 exchange at a time (NIO's pipeline keeps them in order).
final class HTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let health: @Sendable () -> HealthReport
    private let metrics: @Sendable () -> String
    private var request: HTTPRequestHead?

    init(health: @escaping @Sendable () -> HealthReport, metrics: @escaping @Sendable () -> String) {
        self.health = health
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard head.method == .GET || head.method == .HEAD else {
            return send(.methodNotAllowed, "only GET is served\n", type: "text/plain", head: head, context: context)
        }
        switch path {
        case "/metrics":
            send(.ok, metrics(), type: "text/plain; version=0.0.4; charset=utf-8", head: head, context: context)
        case "/health", "/ready":
            let report = health()
            let ok = path == "/health" ? report.state != .closed : report.state == .ready
            var body = "{\"status\":\"\(report.state.rawValue)\""
            if let reason = report.reason { body += ",\"reason\":\(Self.jsonString(reason))" }
            body += "}\n"
            send(ok ? .ok : .serviceUnavailable, body, type: "application/json", head: head, context: context)
        default:
            send(.notFound, "not found: try /metrics, /health or /ready\n", type: "text/plain", head: head, context: context)
        }
    }

    private func send(_ status: HTTPResponseStatus, _ body: String, type: String, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: type)
        headers.add(name: "content-length", value: String(body.utf8.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

@available(*, unavailable)
extension HTTPHandler: Sendable {}

import Foundation
