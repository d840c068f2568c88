import NIOPosix

/// Threads for long storage work: backups, verification, restore copies, compaction, and the
/// background seal, retention and connectivity passes. Requests (ingest, queries) run on
/// `NIOThreadPool.singleton`, one thread per core; with that work on the same pool, a backup
/// and a seal pass at once held both threads of a 2-core machine, and ingest and range
/// queries stopped for as long as they ran (about 30 s in a soak test). Here such work
/// competes for the CPU, not for the request threads. Like NIO's own singletons, the pool
/// lives as long as the process.
enum MaintenanceThreads {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()
}
