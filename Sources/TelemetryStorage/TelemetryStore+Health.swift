import Foundation
import Glibc
public import TelemetryCore
import Synchronization

extension TelemetryStore {
    /// Bytes the reopen probe writes and fsyncs in the data folder before the database is
    /// touched: room for LevelDB's next log and manifest records, so a reopen on a disk that is
    /// still full fails here, with the old handle still serving reads.
    static let reopenProbeBytes = 1 << 20
    /// How long a reopen waits for reads still running on the old handle.
    static let reopenDrainTimeout: Duration = .seconds(10)

    /// Brings a degraded store back: checks the data folder takes writes again (a probe file
    /// written and fsynced), closes the LevelDB handle that failed, opens the folder again and
    /// reloads its state from disk, so that the writer's view is exactly what is stored
    /// (LevelDB must not be written again through a handle that reported a write error).
    ///
    /// A store that is ready is left as it is. While the handle is swapped (milliseconds, once
    /// the reads in flight have finished) calls fail with `.io` ("being reopened"); writes are refused until
    /// the new handle is open, as they were while degraded.
    /// - Returns: the health afterwards.
    /// - Throws: `StorageError`: `.diskFull` or `.io` when the folder still cannot be written
    ///   (the store stays degraded and keeps serving reads), `.unavailable`-mapped `.io` when reads
    ///   did not finish in time or another reopen is running, `.closed`, or what opening the folder reports.
    @discardableResult
    public func reopen() throws -> StoreHealth {
        // One reopen at a time (the admin request and the maintenance probe may meet): a second
        // one would find the folder locked by the first one's new handle.
        guard reopening.withLock({ busy -> Bool in
            defer { busy = true }
            return !busy
        }) else {
            throw StorageError(code: .io, message: "the store at \(path) is being reopened already; retry shortly")
        }
        defer { reopening.withLock { $0 = false } }
        let failure = writer.withLock { w -> StorageError? in w.closed ? nil : w.failure }
        guard failure != nil else { return health }
        try Self.probeWritable(path)

        // Take the handle out: no new call can reach it; then wait for the calls that hold it.
        // No handle: an earlier reopen could not open the folder; open it now.
        if var old = handle.withLock({ h -> LevelDB? in defer { h = nil }; return h }) {
            let deadline = ContinuousClock.now + Self.reopenDrainTimeout
            while !isKnownUniquelyReferenced(&old) {
                if ContinuousClock.now > deadline {
                    // Back in place for the reads, unless the store was closed meanwhile (an
                    // online restore): a closed store must not get a live handle back.
                    let closed = writer.withLock { $0.closed }
                    if !closed { handle.withLock { $0 = old } }
                    throw StorageError(code: .io, message: "reads on \(path) did not finish within \(Self.reopenDrainTimeout); try reopen again")
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            _ = consume old  // the last reference: leveldb_close releases the folder's lock
        }
        // Closed while the reads drained (an online restore may be moving the folder): opening
        // it now would create or lock the folder under the restore.
        if writer.withLock({ $0.closed }) { throw StorageError(code: .closed, message: "the store at \(path) is closed") }

        let db: LevelDB
        let loaded: Loaded
        let highestSealed: Int64?
        do throws(StorageError) {
            do {
                db = try LevelDB(path: path, options: configuration.leveldb)
            } catch {
                throw StorageError(code: error.code == .corruption ? .dataLoss : .io, message: "cannot reopen the store in \(path): \(error.message)")
            }
            loaded = try Self.load(db, path: path, configuration: configuration)
            do { highestSealed = try Self.highestSealedPartition(db) } catch { throw Self.readError(error, what: "the sealed keyspace") }
        } catch {
            // No handle now: reads fail with `.io` ("being reopened") until a later reopen succeeds.
            let reason = StorageError(code: .degraded, message: "reopen failed: \(error.message)")
            writer.withLock { $0.failure = reason }
            view.withLock { $0.failure = reason }
            throw error
        }
        // The state as stored, the failure kept until the latest states are recovered: writes
        // still find the store degraded meanwhile. A store closed meanwhile stays closed.
        let closed = writer.withLock { w -> Bool in
            guard !w.closed else { return true }
            w.dictionaries = loaded.dictionaries
            w.vehicles = VehicleTable(loaded.vehicles)
            w.gatewaySequences = loaded.gateways
            w.deadLetterSequence = loaded.deadLetterSequence
            w.highestSealedPartition = highestSealed
            // Under the writer lock, as `close()` takes it: a close cannot slip in between.
            view.withLock { v in
                v.dictionaries = loaded.dictionaries
                v.vehicles = VehicleTable(loaded.vehicles)
                v.gatewaySequences = loaded.gateways
            }
            handle.withLock { $0 = db }
            return false
        }
        if closed { throw StorageError(code: .closed, message: "the store at \(path) is closed") }
        try recoverLatestStates(db)
        writer.withLock { $0.failure = nil }
        view.withLock { $0.failure = nil }
        return health
    }

    /// Writes and fsyncs `reopenProbeBytes` in `folder`, then removes the file.
    /// - Throws: `.diskFull` when the device has no space, `.io` for any other failure.
    static func probeWritable(_ folder: String) throws(StorageError) {
        let probe = folder + "/REOPEN-PROBE"
        let fd = Glibc.open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw probeError(folder, errno) }
        defer {
            Glibc.close(fd)
            // Removing a file frees space; it cannot fail for want of it. A leftover probe file is
            // harmless (LevelDB ignores names it does not know) and truncated by the next probe.
            unlink(probe)
        }
        let chunk = [UInt8](repeating: 0, count: 64 << 10)
        var written = 0
        while written < reopenProbeBytes {
            let n = chunk.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw probeError(folder, errno)
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw probeError(folder, errno) }
    }

    private static func probeError(_ folder: String, _ code: Int32) -> StorageError {
        let text = String(cString: strerror(code))
        return StorageError(
            code: code == ENOSPC || code == EDQUOT ? .diskFull : .io,
            message: "the data folder \(folder) still cannot be written (\(text)); free space and reopen again")
    }
}

/// What `compact(_:progress:)` works on.
public enum CompactionScope: Sendable, Hashable {
    /// Every keyspace, after sealing the closed partitions (as `compact()`).
    case all
    case keyspace(Keyspace)
    /// One vehicle's keys in [from, to): its canonical, raw and sealed keys and its partition index.
    case vehicle(VehicleID, from: Int64, to: Int64)
}

extension TelemetryStore {
    /// Compacts the scope, one keyspace after the other, telling `progress` each keyspace as it
    /// starts (done = keyspaces finished, total = keyspaces). Writes and reads go on meanwhile:
    /// LevelDB compacts in the background thread and only the memtable flush at the start
    /// briefly holds writers.
    ///
    /// For a vehicle, each keyspace is compacted over one key range from the vehicle's first to
    /// its last partition in [from, to). LevelDB rewrites whole table files, so the other
    /// vehicles' keys in the same files are rewritten too; what is bounded is the range.
    /// - Parameter sealClosed: for `.all` with `sealOnCompact`, seal the closed partitions first.
    ///   False when the caller has just sealed every partition, so that no empty step is reported.
    /// - Throws: `StorageError` (`.closed`, `.invalidArgument` for an empty range, what sealing reports).
    public func compact(
        _ scope: CompactionScope, sealClosed: Bool = true, progress: (_ phase: String, _ done: UInt64, _ total: UInt64) throws -> Void
    ) throws {
        let db = try database()
        var ranges: [(String, [UInt8], [UInt8])] = []
        switch scope {
        case .all:
            if configuration.sealOnCompact && sealClosed {
                try progress("sealing closed partitions", 0, 0)
                try sealPartitions()
            }
            ranges = Keyspace.allCases.map { ($0.description, $0.lowerBound, $0.upperBound) }
        case .keyspace(let k):
            ranges = [(k.description, k.lowerBound, k.upperBound)]
        case .vehicle(let vehicle, let from, let to):
            guard from < to else {
                throw StorageError(code: .invalidArgument, message: "range start \(from) must be before its end \(to)")
            }
            guard let code = view.withLock({ $0.dictionaries.vehicleCodes[vehicle] }),
                let state = view.withLock({ $0.vehicleState(for: vehicle) }), state.count > 0
            else {
                throw StorageError(code: .notFound, message: "vehicle \(vehicle) has no records")
            }
            // Clamped to the vehicle's own span: an open range (from .min, to .max) would
            // otherwise cover every partition, and so every vehicle's keys between them.
            let first = max(from, state.first)
            guard let end = Self.lastIncluded(before: to) else { break }
            let last = min(end, state.last)
            guard first <= last else { break }
            let p0 = KeyLayout.partition(of: first, width: partitionWidthMs)
            let p1 = KeyLayout.partition(of: last, width: partitionWidthMs)
            for k in [Keyspace.canonical, .raw] {
                ranges.append(
                    (k.description, KeyLayout.recordKey(k, slot: recordKeys.slots(of: p0).lowerBound, vehicle: code, timestamp: .min),
                        KeyLayout.recordKey(k, slot: recordKeys.slots(of: p1).upperBound, vehicle: code, timestamp: .max)))
            }
            ranges.append(
                (Keyspace.sealed.description, KeyLayout.blockKey(partition: p0, vehicle: code), KeyLayout.blockKey(partition: p1, vehicle: code)))
            ranges.append(
                (Keyspace.partitionIndex.description, KeyLayout.partitionIndexKey(vehicle: code, partition: p0),
                    KeyLayout.partitionIndexKey(vehicle: code, partition: p1)))
        }
        for (i, (name, begin, end)) in ranges.enumerated() {
            try progress("compacting \(name)", UInt64(i), UInt64(ranges.count))
            try compactFully(db: db, begin: begin, end: end)
        }
        try progress("done", UInt64(ranges.count), UInt64(ranges.count))
    }
}
