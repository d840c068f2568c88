public import Logging
import NIOPosix
public import ServiceLifecycle
public import TelemetryStorage

/// Background upkeep of a store: seals closed time partitions every `interval`, so that
/// records settle into their compact, column-encoded blocks without an operator's help.
/// Work runs on the thread pool (it blocks); shutdown interrupts the wait, never a seal.
public struct MaintenanceService: Service {
    let stores: StoreHandle
    /// Read at each pass: an online restore swaps the store.
    var store: TelemetryStore { stores.current }
    let interval: Duration
    let logger: Logger
    let onPass: (@Sendable (SealSummary) -> Void)?

    /// - Parameters:
    ///   - interval: time between seal passes; the first runs one interval after start.
    ///   - onPass: told what each successful pass sealed (metrics, tests).
    public init(store: TelemetryStore, interval: Duration, logger: Logger, onPass: (@Sendable (SealSummary) -> Void)? = nil) {
        self.init(stores: StoreHandle(store), interval: interval, logger: logger, onPass: onPass)
    }

    /// Upkeep of whichever store `stores` holds.
    public init(stores: StoreHandle, interval: Duration, logger: Logger, onPass: (@Sendable (SealSummary) -> Void)? = nil) {
        self.stores = stores
        self.interval = interval
        self.logger = logger
        self.onPass = onPass
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
                let start = ContinuousClock.now
                let summary = try await NIOThreadPool.singleton.runIfActive { [store] in try store.sealPartitions() }
                onPass?(summary)
                logger.debug(
                    "sealed closed partitions",
                    metadata: ["telemetry.seal": "\(summary)", "telemetry.duration": "\(ContinuousClock.now - start)"])
            } catch {
                // A seal that fails leaves the records as they were (each block is one atomic
                // batch); the next pass tries again. A degraded store reports itself elsewhere.
                logger.warning("sealing closed partitions failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
