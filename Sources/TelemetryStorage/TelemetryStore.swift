import TelemetryCore
import Synchronization
import Foundation

/// A telemetry store in one folder: canonical records, latest state, raw records and dead
/// letters in one LevelDB (docs/storage-format.md).
///
/// Synchronous and thread-safe; every call blocks on disk, so servers call it from a
/// thread pool, never from an event loop. Writes are serialized (one writer at a time);
/// reads run concurrently with each other and with writes.
public final class TelemetryStore: Sendable {
    /// The on-disk format this build writes and reads.
    public static let formatVersion: UInt32 = 1

    public let path: String
    public let configuration: StoreConfiguration
    /// The partition width the store was created with.
    public let partitionWidthMs: Int64

    let handle: Mutex<LevelDB?>
    /// The writer's state: dictionaries and vehicles as it assigns and updates them.
    /// Held for the whole of a write, which serializes writes.
    let writer: Mutex<WriterState>
    /// What readers see: updated by the writer after each successful write.
    let view: Mutex<ReadView>
    /// Test hook: makes writes fail on demand (see FaultInjection).
    package let faultInjection = FaultInjection()

    struct WriterState: ~Copyable {
        var dictionaries: Dictionaries
        var vehicles: [UInt32: VehicleState]
        var gatewaySequences: [String: UInt64]
        var deadLetterSequence: UInt64
        var failure: StorageError?
        var closed = false
    }

    struct ReadView: Sendable {
        var dictionaries: Dictionaries
        var vehicles: [UInt32: VehicleState]
        var gatewaySequences: [String: UInt64]
        var failure: StorageError?
        var closed = false
    }

    /// Opens the store in `path`, creating the folder and an empty store if needed.
    /// - Throws: `StorageError`: `.unsupportedFormat` for a folder of another or newer format,
    ///   `.io` when LevelDB cannot open it (held lock, permissions), `.dataLoss` for damage.
    public init(path: String, configuration: StoreConfiguration = StoreConfiguration()) throws {
        self.path = path
        self.configuration = configuration
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StorageError(code: .io, message: "cannot create data folder \(path): \(error.localizedDescription)")
        }
        let db: LevelDB
        do {
            db = try LevelDB(path: path, options: configuration.leveldb)
        } catch {
            let code: StorageError.Code = error.code == .corruption ? .dataLoss : .io
            throw StorageError(code: code, message: "cannot open the store in \(path): \(error.message)")
        }
        let loaded = try Self.load(db, path: path, configuration: configuration)
        self.partitionWidthMs = loaded.partitionWidth
        self.handle = Mutex(db)
        self.writer = Mutex(
            WriterState(
                dictionaries: loaded.dictionaries, vehicles: loaded.vehicles, gatewaySequences: loaded.gateways,
                deadLetterSequence: loaded.deadLetterSequence, failure: nil))
        self.view = Mutex(
            ReadView(
                dictionaries: loaded.dictionaries, vehicles: loaded.vehicles, gatewaySequences: loaded.gateways,
                failure: nil))
    }

    /// Closes the store: later calls fail with `.closed`. LevelDB's files are released
    /// once calls already running have returned.
    public func close() {
        writer.withLock { $0.closed = true }
        view.withLock { $0.closed = true }
        handle.withLock { $0 = nil }
    }

    /// Whether the store takes writes.
    public var health: StoreHealth {
        view.withLock { v in
            if v.closed { return .closed }
            if let f = v.failure { return .degraded(reason: f.message) }
            return .ready
        }
    }

    /// The database, or `.closed`.
    func database() throws(StorageError) -> LevelDB {
        guard let db = handle.withLock({ $0 }) else {
            throw StorageError(code: .closed, message: "the store at \(path) is closed")
        }
        return db
    }

    /// The gateway's last committed sequence, if it ever committed one.
    public func lastCommittedSequence(gateway: String) -> UInt64? {
        view.withLock { $0.gatewaySequences[gateway] }
    }

    // MARK: - Opening

    private struct Loaded {
        var partitionWidth: Int64
        var dictionaries = Dictionaries()
        var vehicles: [UInt32: VehicleState] = [:]
        var gateways: [String: UInt64] = [:]
        var deadLetterSequence: UInt64 = 0
    }

    private static func load(_ db: LevelDB, path: String, configuration: StoreConfiguration) throws(StorageError) -> Loaded {
        let formatKey = KeyLayout.metadataKey(KeyLayout.Meta.format)
        let widthKey = KeyLayout.metadataKey(KeyLayout.Meta.partitionWidth)
        let stored: [UInt8]?
        do { stored = try db.get(formatKey) } catch { throw Self.readError(error, what: "the format version") }
        var loaded: Loaded
        if let stored {
            guard stored.count == 4 else {
                throw StorageError(code: .unsupportedFormat, message: "\(path): the format version entry is damaged (\(stored.count) bytes)")
            }
            let version = stored.withReader { r in (try? r.readBigEndianUInt32()) ?? 0 }
            guard version == formatVersion else {
                let hint = version > formatVersion ? "written by a newer TelemetryStore; upgrade this build" : "unknown version"
                throw StorageError(
                    code: .unsupportedFormat,
                    message: "\(path) holds storage format \(version); this build reads format \(formatVersion) only (\(hint))")
            }
            let width: [UInt8]?
            do { width = try db.get(widthKey) } catch { throw Self.readError(error, what: "the partition width") }
            guard let width, width.count == 8,
                case let w = Int64(bitPattern: width.withReader { r in (try? r.readBigEndianUInt64()) ?? 0 }), w > 0
            else {
                throw StorageError(code: .dataLoss, message: "\(path): the partition width entry is missing or damaged")
            }
            loaded = Loaded(partitionWidth: w)
        } else {
            // No format entry: a new, empty folder becomes a store; anything else is refused.
            let empty = db.withIterator { it in
                it.seekToFirst()
                return !it.isValid
            }
            guard empty else {
                throw StorageError(
                    code: .unsupportedFormat,
                    message: "\(path) holds a LevelDB database that is not a TelemetryStore (no format version)")
            }
            guard configuration.partitionWidthMs > 0 else {
                throw StorageError(code: .invalidArgument, message: "partition width must be positive")
            }
            let batch = WriteBatch()
            var v = [UInt8]()
            v.appendBigEndian(formatVersion)
            batch.put(formatKey, v)
            var w = [UInt8]()
            w.appendBigEndian(UInt64(bitPattern: configuration.partitionWidthMs))
            batch.put(widthKey, w)
            do { try db.write(batch, sync: true) } catch {
                throw StorageError(code: .io, message: "cannot initialise the store in \(path): \(error.message)")
            }
            return Loaded(partitionWidth: configuration.partitionWidthMs)
        }

        // Dictionaries and gateway resume points from the metadata keyspace.
        let gatewayPrefix = Array(KeyLayout.Meta.gatewayPrefix.utf8)
        try db.withIterator { it throws(StorageError) in
            it.seek(Keyspace.metadata.lowerBound)
            while it.isValid {
                let key = it.key
                guard key.first == Keyspace.metadata.rawValue else { break }
                let value = it.value
                if try !loaded.dictionaries.load(key: key, value: value) {
                    let name = key.dropFirst()
                    if name.starts(with: gatewayPrefix), value.count == 8 {
                        let id = String(decoding: name.dropFirst(gatewayPrefix.count), as: UTF8.self)
                        loaded.gateways[id] = value.reduce(0) { ($0 << 8) | UInt64($1) }
                    }
                }
                it.next()
            }
            try it.checkStatus(reading: "the metadata keyspace")

            // Vehicle states from the latest keyspace.
            it.seek(Keyspace.latest.lowerBound)
            while it.isValid {
                let key = it.key
                guard key.first == Keyspace.latest.rawValue else { break }
                guard key.count == 5 else {
                    throw StorageError(code: .dataLoss, message: "damaged key in the latest keyspace")
                }
                let code = key.dropFirst().reduce(0) { ($0 << 8) | UInt32($1) }
                guard let vehicle = loaded.dictionaries.vehicles[code] else {
                    throw StorageError(code: .dataLoss, message: "latest state for vehicle code \(code) has no dictionary entry")
                }
                let decoded: Result<VehicleState, ByteDecodingError> = it.value.withUnsafeBufferPointer { v in
                    Result { () throws(ByteDecodingError) in try VehicleState.decode(code: code, vehicle: vehicle, v) }
                }
                switch decoded {
                case .success(let state): loaded.vehicles[code] = state
                case .failure(let e):
                    throw StorageError(code: .dataLoss, message: "damaged latest state of vehicle \(vehicle): \(e.reason)")
                }
                it.next()
            }
            try it.checkStatus(reading: "the latest keyspace")

            // The dead-letter sequence continues after the highest one stored.
            it.seek(Keyspace.deadLetter.upperBound)
            if it.isValid { it.previous() } else { it.seekToLast() }
            if it.isValid {
                let key = it.key
                if key.first == Keyspace.deadLetter.rawValue, key.count == 17 {
                    loaded.deadLetterSequence = key[9...].reduce(0) { ($0 << 8) | UInt64($1) }
                }
            }
        }
        return loaded
    }

    /// A LevelDB read error as a storage error: corruption is data loss.
    static func readError(_ error: LevelDBError, what: String) -> StorageError {
        if error.code == .corruption {
            return StorageError(code: .dataLoss, message: "data loss while reading \(what): \(error.message)")
        }
        return StorageError(code: .io, message: "cannot read \(what): \(error.message)")
    }
}

extension TelemetryStore {
    /// Compacts the whole store (every keyspace); blocks until LevelDB is done. Reads and
    /// writes keep working meanwhile.
    public func compact() throws {
        try database().compactRange(begin: nil, end: nil)
    }

    /// Compacts one keyspace.
    public func compact(_ keyspace: Keyspace) throws {
        try database().compactRange(begin: keyspace.lowerBound, end: keyspace.upperBound)
    }
}

extension TelemetryStore {
    /// A LevelDB property such as `leveldb.stats`, `leveldb.sstables`,
    /// `leveldb.num-files-at-level0` or `leveldb.approximate-memory-usage`.
    public func leveldbProperty(_ name: String) throws -> String? {
        try database().property(name)
    }
}
