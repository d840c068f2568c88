public import Logging
import NIOPosix
public import ServiceLifecycle
public import TelemetryStorage

/// Runs the connectivity rule's offline sweep every `interval` (SPEC section 4): a vehicle
/// that stops sending never produces the record that would mark it offline, so a timer must.
/// The transition is stamped when the threshold passed, so the result does not depend on
/// the interval.
public struct ConnectivitySweepService: Service {
    let service: MappingService
    let store: @Sendable () -> TelemetryStore
    let interval: Duration
    let logger: Logger

    /// - Parameter store: the store to sweep (a closure: a restore may swap it).
    public init(service: MappingService, store: @escaping @Sendable () -> TelemetryStore, interval: Duration, logger: Logger) {
        self.service = service
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while true {
            let interval = self.interval
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return  // cancellation: nothing is half done between passes
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            do {
                let written = try await NIOThreadPool.singleton.runIfActive { [service, store] in
                    try service.sweepAndWrite(now: service.clock(), store: store())
                }
                if written > 0 { logger.info("connectivity sweep", metadata: ["telemetry.vehicles.offline": "\(written)"]) }
            } catch {
                // Nothing is lost: the next sweep finds the same vehicles (their states were
                // forgotten with the failed write and are read back from the store).
                logger.warning("connectivity sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension MappingService {
    /// Sweeps and writes the transitions; returns how many vehicles went offline.
    public func sweepAndWrite(now: Int64, store: TelemetryStore) throws -> Int {
        let write = try sweep(now: now, store: store)
        guard !write.records.isEmpty else { return 0 }
        do { _ = try store.write(write) } catch {
            forget(write.derivedStates.keys)
            throw error
        }
        return write.records.count
    }
}
