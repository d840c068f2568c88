import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycleTestKit
import SwiftProtobuf
import TelemetryClient
import TelemetryCore
import TelemetryServer
import TelemetryStorage
import TelemetryWire

/// A fresh folder under the system temp directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("telemetry-it-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// A running server on 127.0.0.1 with an ephemeral port and its own store.
struct TestServer {
    let port: Int
    let store: TelemetryStore
    let storePath: String
    /// Starts the server's graceful shutdown (as SIGTERM does) while the test goes on.
    let trigger: GracefulShutdownTestTrigger

    func clientConfiguration(token: String = "", gateway: String? = nil) -> ClientConfiguration {
        var c = ClientConfiguration(host: "127.0.0.1", port: port, token: token, clientName: "integration-test")
        c.gatewayID = gateway
        c.retry = RetryPolicy(maxAttempts: 1)
        c.requestTimeout = .seconds(20)
        return c
    }
}

let quietLogger: Logger = {
    var l = Logger(label: "integration-test", factory: { _ in SwiftLogNoOpLogHandler() })
    l.logLevel = .critical
    return l
}()

/// Runs `body` against a live server, then shuts it down gracefully and waits for it.
func withServer(
    _ configure: (inout ServerConfiguration) -> Void = { _ in }, storePath: String? = nil,
    _ body: (TestServer) async throws -> Void
) async throws {
    try await withTemporaryDirectory { dir in
        let path = storePath ?? dir + "/store"
        let store = try TelemetryStore(path: path)
        defer { store.close() }
        try await serve(store: store, path: path, configure, body)
    }
}

/// A store and a fixed loopback port on which a test starts and stops servers (`serve(store:path:port:)`),
/// with a client configuration that keeps retrying for a couple of seconds: for clients
/// that outlive a server.
func withRestartableServer(
    clientName: String, _ body: (TelemetryStore, String, Int, ClientConfiguration) async throws -> Void
) async throws {
    try await withTemporaryDirectory { dir in
        let path = dir + "/store"
        let store = try TelemetryStore(path: path)
        defer { store.close() }
        // A port that was free a moment ago: a server is started and stopped on it to learn it.
        var port = 0
        try await serve(store: store, path: path) { server in port = server.port }
        var configuration = ClientConfiguration(host: "127.0.0.1", port: port, clientName: clientName)
        // About 20 s of retries: the server comes back after a fraction of a second, but on a
        // CI machine where the whole run shares two cores, starting it can take seconds. Only a
        // failing test waits the full span.
        configuration.retry = RetryPolicy(maxAttempts: 100, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(200))
        try await body(store, path, port, configuration)
    }
}

/// Serves an open store until `body` returns.
func serve(
    store: TelemetryStore, path: String, port: Int = 0, metrics: ServerMetrics = ServerMetrics(),
    mappings: MappingService? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> Void
) async throws {
    try await serve(stores: StoreHandle(store), path: path, port: port, metrics: metrics, mappings: mappings, configure) { server in
        try await body(TestServer(port: server.port, store: store, storePath: path, trigger: server.trigger))
    }
}

/// Serves whichever store `stores` holds (an online restore swaps it) until `body` returns.
func serve(
    stores: StoreHandle, path: String, port: Int = 0, metrics: ServerMetrics = ServerMetrics(),
    mappings: MappingService? = nil, _ configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> Void
) async throws {
    var configuration = ServerConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = port
    configure(&configuration)
    let server = try await Server.bind(
        configuration: configuration, stores: stores, mappings: mappings, metrics: metrics, logger: quietLogger)
    try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            do {
                try await body(TestServer(port: server.localPort, store: stores.current, storePath: path, trigger: trigger))
            } catch {
                trigger.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
            trigger.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}

/// A bare connection that sends any bytes and reads answer frames: for what a well-behaved
/// client never sends.
struct RawConnection {
    var inbound: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let channel: any Channel
    let allocator = ByteBufferAllocator()

    static func with<T>(port: Int, _ body: (inout RawConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 64 << 20)))
                    return try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = RawConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: channel.channel)
            return try await body(&connection)
        }
    }

    /// Pipelines `list_vehicles` requests with the ids `ids`, reading nothing.
    func sendListVehicles(_ ids: ClosedRange<UInt64>) async throws {
        for id in ids {
            var request = Telemetry_V1_RequestEnvelope()
            request.requestID = id
            request.listVehicles = .init()
            try await send(request)
        }
    }

    /// A store's worth of vehicles: `count` of them, one record each.
    static func vehicles(_ count: Int) -> [TelemetryRecord] {
        (0..<count).map {
            TelemetryRecord(
                vehicle: vid("veh-\($0)"), timestamp: 1, fields: [Field("x", .int(1))],
                provenance: Provenance(provider: "p", mappingVersion: "1", receivedAt: 1))
        }
    }

    /// Shuts the connection's sending side (TCP half-close); answers can still be read.
    func halfClose() async throws {
        try await channel.close(mode: .output)
    }

    func send(bytes: [UInt8]) async throws {
        try await outbound.write(allocator.buffer(bytes: bytes))
    }

    func send(_ envelope: Telemetry_V1_RequestEnvelope, flags: UInt8 = 0) async throws {
        let payload: [UInt8] = try envelope.serializedBytes()
        try await send(bytes: [flags] + withUnsafeBytes(of: UInt32(payload.count).bigEndian, Array.init) + payload)
    }

    /// The next answer, or nil when the server closed the connection.
    mutating func receive() async throws -> Telemetry_V1_ResponseEnvelope? {
        guard let frame = try await inbound.next() else { return nil }
        return try EnvelopeCodec.decode(frame, maxBytes: 64 << 20, allocator: allocator)
    }

    /// Sends a hello and expects it accepted.
    mutating func hello(token: String = "", gateway: String = "") async throws -> Telemetry_V1_ResponseEnvelope? {
        var env = Telemetry_V1_RequestEnvelope()
        env.requestID = 1
        env.hello = .with {
            $0.protocolVersion = 1
            $0.token = token
            $0.clientName = "raw"
            $0.gatewayID = gateway
        }
        try await send(env)
        return try await receive()
    }
}

func record(_ vehicle: String, _ ts: Int64, _ fields: [Field], provider: String = "generic", sequence: UInt64? = nil) -> ProviderRecord {
    ProviderRecord(vehicle: try! VehicleID(vehicle), timestamp: ts, provider: provider, fields: fields, gatewaySequence: sequence)  // test literals are valid
}

func vid(_ s: String) -> VehicleID { try! VehicleID(s) }  // test literals are valid

/// GETs `path` from 127.0.0.1:`port` over HTTP/1.1; returns the status code and body.
func httpGet(port: Int, _ path: String) async throws -> (Int, String) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    let text = try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
        var all = ""
        for try await chunk in inbound { all += String(buffer: chunk) }
        return all
    }
    let parts = text.components(separatedBy: "\r\n\r\n")
    let status = Int(parts[0].split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, parts.dropFirst().joined(separator: "\r\n\r\n"))
}
