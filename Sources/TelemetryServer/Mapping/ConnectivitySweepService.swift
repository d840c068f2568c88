public import Logging
import NIOPosix
public import ServiceLifecycle
public import TelemetryStorage

/// Every `interval`: runs the connectivity rule's offline sweep (SPEC section 4: a vehicle
/// that stops sending never produces the record that would mark it offline, so a timer must;
/// the transition is stamped when the threshold passed, so the result does not depend on the
/// interval), then drops from memory the mapping states of vehicles idle for `stateIdle`
/// (`MappingService.evictIdleStates`), so that memory follows the vehicles that send, not
/// every vehicle ever seen.
public struct ConnectivitySweepService: Service {
    let service: MappingService
    let store: @Sendable () -> TelemetryStore
    let interval: Duration
    let sweep: Bool
    let stateIdle: Duration?
    let logger: Logger

    /// - Parameters:
    ///   - store: the store to sweep (a closure: a restore may swap it).
    ///   - sweep: whether to run the offline sweep (`mapping.sweep_interval_seconds: off` turns it off).
    ///   - stateIdle: how long a vehicle's state stays in memory without a record; nil keeps
    ///     every state.
    public init(
        service: MappingService, store: @escaping @Sendable () -> TelemetryStore, interval: Duration, sweep: Bool = true,
        stateIdle: Duration? = nil, logger: Logger
    ) {
        self.service = service
        self.store = store
        self.interval = interval
        self.sweep = sweep
        self.stateIdle = stateIdle
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
            if sweep {
                do {
                    let written = try await MaintenanceThreads.pool.runIfActive { [service, store] in
                        try service.sweepAndWrite(now: service.clock(), store: store())
                    }
                    if written > 0 { logger.info("connectivity sweep", metadata: ["telemetry.vehicles.offline": "\(written)"]) }
                } catch {
                    // Nothing is lost: the next sweep finds the same vehicles (their states were
                    // forgotten with the failed write and are read back from the store).
                    logger.warning("connectivity sweep failed", metadata: ["error": "\(error)"])
                }
            }
            if let stateIdle {
                let idleMs = stateIdle.components.seconds * 1000 + stateIdle.components.attoseconds / 1_000_000_000_000_000
                do {
                    let evicted = try await MaintenanceThreads.pool.runIfActive { [service, store] in
                        service.evictIdleStates(idleSince: service.clock() - idleMs, store: store())
                    }
                    if evicted > 0 {
                        logger.debug("idle mapping states dropped from memory", metadata: ["telemetry.vehicles": "\(evicted)"])
                    }
                } catch {
                    // Only a thread pool that has shut down refuses the work: the server is stopping.
                    logger.debug("idle mapping states not dropped", metadata: ["error": "\(error)"])
                }
            } else {
                service.recordStatesInMemory()
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
