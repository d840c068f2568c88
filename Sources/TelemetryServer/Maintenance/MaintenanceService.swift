import Foundation
import CMalloc
public import Logging
import NIOPosix
public import ServiceLifecycle
public import TelemetryStorage

/// Background upkeep of a store, each job on its own interval:
/// - seal: seals closed time partitions, so records settle into their compact, column-encoded
///   blocks without an operator's help;
/// - retention: removes what the retention policy says has expired;
/// - reopen probe: while the store is degraded (a write error, a full disk), tries to reopen it
///   (`TelemetryStore.reopen()` first checks the folder takes writes), so writes resume on
///   their own once space is freed;
/// - memory trim: gives the pages the allocator holds free back to the system
///   (`malloc_trim`), so resident memory follows what is in use, not what a burst once took.
/// Work runs on the thread pool (it blocks); shutdown interrupts the wait, never a job.
public struct MaintenanceService: Service {
    /// Which jobs run, and how often; nil turns a job off.
    public struct Schedule: Sendable, Hashable {
        public var seal: Duration?
        public var retention: Duration?
        public var reopenProbe: Duration?
        public var memoryTrim: Duration?
        public var policy: RetentionPolicy

        public init(
            seal: Duration? = nil, retention: Duration? = nil, reopenProbe: Duration? = nil, memoryTrim: Duration? = nil,
            policy: RetentionPolicy = RetentionPolicy()
        ) {
            self.seal = seal
            self.retention = retention
            self.reopenProbe = reopenProbe
            self.memoryTrim = memoryTrim
            self.policy = policy
        }

        /// The schedule a server configuration asks for.
        public init(_ c: ServerConfiguration) {
            self.init(
                seal: c.sealIntervalSeconds.map { .seconds($0) },
                retention: c.retention.keepsEverything ? nil : c.retentionIntervalSeconds.map { .seconds($0) },
                reopenProbe: c.reopenProbeSeconds.map { .seconds($0) }, memoryTrim: c.memoryTrimSeconds.map { .seconds($0) },
                policy: c.retention)
        }
    }

    /// What a job did, for metrics and tests.
    public enum Pass: Sendable, Hashable {
        case sealed(SealSummary)
        case retention(RetentionSummary)
        /// A reopen attempt: the health afterwards, or why it failed.
        case reopen(Result<StoreHealth, StorageError>)
        /// A memory trim: whether the allocator gave memory back.
        case memoryTrimmed(released: Bool)
    }

    let stores: StoreHandle
    /// Read at each pass: an online restore swaps the store.
    var store: TelemetryStore { stores.current }
    let schedule: Schedule
    let logger: Logger
    let metrics: ServerMetrics?
    let clock: @Sendable () -> Int64
    let onPass: (@Sendable (Pass) -> Void)?

    /// - Parameters:
    ///   - metrics: where retention removals are counted.
    ///   - clock: "now" for retention, ms since 1970 (default: the system clock).
    ///   - onPass: told what each job did (tests).
    public init(
        stores: StoreHandle, schedule: Schedule, logger: Logger, metrics: ServerMetrics? = nil,
        clock: (@Sendable () -> Int64)? = nil, onPass: (@Sendable (Pass) -> Void)? = nil
    ) {
        self.stores = stores
        self.schedule = schedule
        self.logger = logger
        self.metrics = metrics
        self.clock = clock ?? { Int64(Date().timeIntervalSince1970 * 1000) }
        self.onPass = onPass
    }

    /// Upkeep of one store that is never swapped.
    public init(
        store: TelemetryStore, schedule: Schedule, logger: Logger, metrics: ServerMetrics? = nil,
        clock: (@Sendable () -> Int64)? = nil, onPass: (@Sendable (Pass) -> Void)? = nil
    ) {
        self.init(stores: StoreHandle(store), schedule: schedule, logger: logger, metrics: metrics, clock: clock, onPass: onPass)
    }

    /// Sealing only, every `interval`; `onPass` is told what each successful pass sealed.
    public init(store: TelemetryStore, interval: Duration, logger: Logger, onPass: (@Sendable (SealSummary) -> Void)? = nil) {
        self.init(
            store: store, schedule: Schedule(seal: interval), logger: logger,
            onPass: { pass in
                if case .sealed(let summary) = pass { onPass?(summary) }
            })
    }

    private enum Job: CaseIterable { case seal, retention, reopenProbe, memoryTrim }

    public func run() async throws {
        var due: [Job: ContinuousClock.Instant] = [:]
        let start = ContinuousClock.now
        for job in Job.allCases {
            if let every = interval(job) { due[job] = start + every }
        }
        while let (job, when) = due.min(by: { $0.value < $1.value }) {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(until: when, clock: .continuous) }
            } catch {
                return  // cancellation: nothing is half done between jobs
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            await perform(job)
            // The next run is an interval after this one ended: a slow job never piles up.
            if let every = interval(job) { due[job] = ContinuousClock.now + every }
        }
        // No job configured: wait for shutdown.
        try? await gracefulShutdown()  // throws only on cancellation, which ends the service as well
    }

    private func interval(_ job: Job) -> Duration? {
        switch job {
        case .seal: return schedule.seal
        case .retention: return schedule.retention
        case .reopenProbe: return schedule.reopenProbe
        case .memoryTrim: return schedule.memoryTrim
        }
    }

    private func perform(_ job: Job) async {
        let store = self.store
        switch job {
        case .seal:
            guard case .ready = store.health else { return }
            do {
                let start = ContinuousClock.now
                let summary = try await MaintenanceThreads.pool.runIfActive { try store.sealPartitions() }
                onPass?(.sealed(summary))
                logger.debug(
                    "sealed closed partitions",
                    metadata: ["telemetry.seal": "\(summary)", "telemetry.duration": "\(ContinuousClock.now - start)"])
            } catch {
                // A seal that fails leaves the records as they were (each block is one atomic
                // batch); the next pass tries again. A degraded store reports itself elsewhere.
                logger.warning("sealing closed partitions failed", metadata: ["error": "\(error)"])
            }
        case .retention:
            guard case .ready = store.health else { return }
            let policy = schedule.policy
            let now = clock()
            do {
                let start = ContinuousClock.now
                let summary = try await MaintenanceThreads.pool.runIfActive { try store.applyRetention(policy, now: now) }
                metrics?.retentionApplied(summary)
                onPass?(.retention(summary))
                logger.info(
                    "retention applied",
                    metadata: [
                        "telemetry.retention.canonical_records": "\(summary.canonicalRecords)",
                        "telemetry.retention.canonical_partitions": "\(summary.canonicalPartitions)",
                        "telemetry.retention.raw_records": "\(summary.rawRecords)",
                        "telemetry.retention.dead_letters": "\(summary.deadLetters)",
                        "telemetry.duration": "\(ContinuousClock.now - start)",
                    ])
            } catch {
                // What was removed stays removed (each step is atomic and consistent); the next
                // pass removes the rest.
                logger.warning("retention failed", metadata: ["error": "\(error)"])
            }
        case .memoryTrim:
            // Walks the allocator's free lists and gives whole free pages back (madvise); a
            // few milliseconds on a heap of a few hundred MiB, on the thread pool.
            // runIfActive throws only when the pool is shutting down: nothing to trim then.
            let released = (try? await NIOThreadPool.singleton.runIfActive { malloc_trim(0) != 0 }) ?? false
            onPass?(.memoryTrimmed(released: released))
        case .reopenProbe:
            guard case .degraded(let reason) = store.health else { return }
            // Said once per probe while it lasts: the log shows when writes stopped and why.
            logger.error("store degraded: writes are refused", metadata: ["telemetry.failure": "\(reason)"])
            do {
                let health = try await NIOThreadPool.singleton.runIfActive { try store.reopen() }
                onPass?(.reopen(.success(health)))
                logger.notice("store reopened after a write failure; writes resume", metadata: ["telemetry.failure": "\(reason)"])
            } catch let error as StorageError {
                onPass?(.reopen(.failure(error)))
                logger.warning("store still degraded", metadata: ["error": "\(error)"])
            } catch {
                logger.warning("store still degraded", metadata: ["error": "\(error)"])
            }
        }
    }
}
