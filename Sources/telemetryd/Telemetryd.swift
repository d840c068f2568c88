import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TelemetryCore
import TelemetryServer
import TelemetryStorage
import UnixSignals

/// telemetryd: flags and the configuration file become a ServerConfiguration; the store
/// opens, the server runs until SIGTERM or SIGINT, then the store closes cleanly.
@main
struct Telemetryd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetryd",
        abstract: "The TelemetryStore server: vehicle telemetry in LevelDB, served over TCP.",
        discussion: "Flags override the configuration file; the file overrides the defaults (docs/configuration.md).",
        version: "telemetryd \(ReleaseVersion.current)")

    @Option(name: .long, help: "Configuration file (YAML).")
    var config: String?

    @Option(name: .long, help: "Data folder. Default: ./data")
    var data: String?

    @Option(name: .long, help: "Address to listen on. Default: 127.0.0.1")
    var listen: String?

    @Option(name: .long, help: "TCP port. Default: 7400; 0 picks a free port.")
    var port: Int?

    @Option(name: .long, help: "Port of the monitoring HTTP endpoint (/metrics, /health, /ready), or off. Default: 7401")
    var httpPort: String?

    @Option(name: .long, help: "buffered (survives a server crash) or sync (fsync per batch; survives power loss). Default: buffered")
    var durability: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical. Default: info")
    var logLevel: String?

    @Option(name: .long, help: "Largest frame payload accepted, in bytes. Default: 4194304")
    var maxFrameBytes: Int?

    @Option(name: .long, help: "Requests in flight per connection before reading pauses. Default: 32")
    var maxInFlight: Int?

    @Option(name: .long, help: "Connections served at once. Default: 1024")
    var maxConnections: Int?

    @Option(name: .long, help: "Seconds without traffic before a connection is closed. Default: 300")
    var idleTimeout: Int?

    @Option(name: .long, help: "Records per ingest batch. Default: 10000")
    var maxRecordsPerBatch: Int?

    @Option(name: .long, help: "fleeti (map provider fields to canonical fields) or identity (store them as they come). Default: fleeti")
    var mapping: String?

    @Option(name: .long, help: "Folder of the operator's mapping files, re-read on SIGHUP. Default: <data>/mappings")
    var mappings: String?

    @Option(name: .long, help: "Asset registry file (YAML or JSON), re-read on SIGHUP. Default: <data>/assets.yaml")
    var assets: String?

    func run() async throws {
        var file = ConfigurationFile()
        if let config {
            do { file = try ConfigurationFile.load(path: config) } catch { throw ValidationError(error.message) }
        }
        var server = file.server
        if let listen { server.host = listen }
        if let port { server.port = port }
        if let maxFrameBytes { server.maxFrameBytes = maxFrameBytes }
        if let maxInFlight { server.maxInFlightPerConnection = maxInFlight }
        if let maxConnections { server.maxConnections = maxConnections }
        if let idleTimeout { server.idleTimeoutSeconds = idleTimeout }
        if let maxRecordsPerBatch { server.maxRecordsPerBatch = maxRecordsPerBatch }
        if let httpPort {
            if httpPort == "off" {
                server.httpPort = nil
            } else {
                guard let n = Int(httpPort) else { throw ValidationError("--http-port takes a port number or off") }
                server.httpPort = n
            }
        }
        do { try server.validate() } catch { throw ValidationError(error.message) }

        let levelName = logLevel ?? file.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("log level \"\(levelName)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
        var storeConfiguration = StoreConfiguration()
        if let name = durability ?? file.durability?.rawValue {
            guard let d = Durability(rawValue: name) else { throw ValidationError("durability must be buffered or sync, not \"\(name)\"") }
            storeConfiguration.durability = d
        }
        if let compression = file.compression { storeConfiguration.leveldb.compression = compression }
        let dataPath = data ?? file.dataPath ?? "./data"

        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "telemetryd")
        // Before the first large allocation: the thresholds apply to what is allocated after.
        for refused in AllocatorSettings.apply(memoryTrimSeconds: server.memoryTrimSeconds) {
            logger.warning("the allocator refused a setting", metadata: ["telemetry.setting": "\(refused.name)=\(refused.value)"])
        }

        let store: TelemetryStore
        do {
            store = try TelemetryStore(path: dataPath, configuration: storeConfiguration)
        } catch {
            logger.critical("cannot open the store", metadata: ["telemetry.data": "\(dataPath)", "error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info(
            "store open",
            metadata: [
                "telemetry.data": "\(dataPath)", "telemetry.durability": "\(storeConfiguration.durability.rawValue)",
                "telemetry.compression": "\(storeConfiguration.leveldb.compression ? "snappy" : "none")",
            ])
        // An online restore (admin restore) swaps the store: everything reads it from here.
        let stores = StoreHandle(store)
        defer {
            stores.current.close()
            logger.info("store closed")
        }
        let monitoring = Monitoring(stores: stores)
        let metrics = ServerMetrics()
        let mode = mapping ?? file.mapping.mode ?? "fleeti"
        guard mode == "fleeti" || mode == "identity" else { throw ValidationError("--mapping must be fleeti or identity, not \"\(mode)\"") }
        var mappingService: MappingService?
        if mode == "fleeti" {
            let folder = mappings ?? file.mapping.folder ?? (dataPath as NSString).appendingPathComponent("mappings")
            let assetsFile = assets ?? file.mapping.assets ?? (dataPath as NSString).appendingPathComponent("assets.yaml")
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let service = try MappingService(
                    configuration: .init(folder: folder, assetsFile: assetsFile), logger: logger)
                mappingService = service
                let active = service.list().filter(\.active).map { "\($0.file.provider)@\($0.file.version)" }
                logger.info(
                    "mappings loaded",
                    metadata: ["telemetry.mappings.folder": "\(folder)", "telemetry.mappings.active": "\(active.joined(separator: ", "))"])
            } catch {
                // With the line of each problem, as validate and load report them.
                let reason = (error as? any StatusCodeConvertible)?.statusMessage ?? "\(error)"
                logger.critical("cannot load the mappings", metadata: ["telemetry.mappings.folder": "\(folder)", "error": "\(reason)"])
                throw ExitCode(1)
            }
        } else {
            logger.notice("identity mapping: provider fields are stored as they come")
        }
        let listener: Server
        do {
            listener = try await Server.bind(configuration: server, stores: stores, mappings: mappingService, metrics: metrics, logger: logger)
        } catch {
            logger.critical("cannot listen", metadata: ["telemetry.address": "\(server.host):\(server.port)", "error": "\(error)"])
            throw ExitCode(1)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: listener)]
        if let mappingService {
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            services.append(.init(service: MappingReloadService(service: mappingService, signals: hangups, logger: logger)))
            let stateIdle: Duration? = file.mapping.stateIdleOff ? nil : .seconds(file.mapping.stateIdleSeconds ?? 3600)
            if !file.mapping.sweepOff || stateIdle != nil {
                services.append(
                    .init(
                        service: ConnectivitySweepService(
                            service: mappingService, store: { stores.current }, interval: .seconds(file.mapping.sweepIntervalSeconds ?? 60),
                            sweep: !file.mapping.sweepOff, stateIdle: stateIdle, logger: logger)))
            }
        }
        services.append(.init(service: MaintenanceService(stores: stores, schedule: .init(server), logger: logger, metrics: metrics)))
        if let httpPort = server.httpPort {
            do {
                let http = try await ObservabilityServer.bind(
                    host: server.host, port: httpPort, logger: logger,
                    health: {
                        if listener.isDraining { return HealthReport(state: .draining) }
                        switch stores.current.health {
                        case .ready: return HealthReport(state: .ready)
                        case .degraded(let reason): return HealthReport(state: .degraded, reason: reason)
                        case .closed: return HealthReport(state: .closed)
                        }
                    },
                    metrics: { monitoring.render() })
                services.append(.init(service: http))
            } catch {
                logger.critical("cannot listen for monitoring", metadata: ["telemetry.address": "\(server.host):\(httpPort)", "error": "\(error)"])
                throw ExitCode(1)
            }
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
