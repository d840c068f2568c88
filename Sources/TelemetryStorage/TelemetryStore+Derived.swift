public import TelemetryCore
import Synchronization

/// Per-vehicle derived state (the mapping layer's state machines) and single dead letters.
extension TelemetryStore {
    /// The derived state last written for a vehicle, or nil when none was.
    ///
    /// Reads memory only (the writer keeps every vehicle's state), like `latest`.
    public func derivedState(of vehicle: VehicleID) throws -> [UInt8]? {
        _ = try database()
        return view.withLock { v in
            guard let state = v.vehicleState(for: vehicle), !state.derived.isEmpty else { return nil }
            return state.derived
        }
    }

    /// Every vehicle's derived state (vehicles without one are left out), for a layer that
    /// sweeps all its state machines (the connectivity rule).
    public func derivedStates() throws -> [(vehicle: VehicleID, state: [UInt8])] {
        _ = try database()
        return view.withLock { v in
            v.vehicles.values.filter { !$0.derived.isEmpty }.map { ($0.vehicle, $0.derived) }
        }
    }

    /// The generation a derived state starts with (docs/storage-format.md, section 9): the
    /// first 8 bytes, big-endian; nil for a shorter state, which has none.
    static func derivedGeneration(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        var g: UInt64 = 0
        for b in bytes[0..<8] { g = g << 8 | UInt64(b) }
        return g
    }

    /// One dead letter by id, or nil when there is none (never was, or purged).
    public func deadLetter(id: String) throws -> StoredDeadLetter? {
        guard let (t, s) = Self.parseDeadLetterID(id) else {
            throw StorageError(code: .invalidArgument, message: "\"\(id)\" is not a dead letter id (expected <received-ms>-<sequence>)")
        }
        let db = try database()
        let value: [UInt8]?
        do throws(LevelDBError) {
            value = try db.get(KeyLayout.deadLetterKey(receivedAt: t, sequence: s))
        } catch {
            throw Self.readError(error, what: "dead letter \(id)")
        }
        guard let value else { return nil }
        do throws(ByteDecodingError) {
            let letter = try value.withUnsafeBufferPointer { v throws(ByteDecodingError) in
                try DeadLetterCodec.decode(v, receivedAt: t)
            }
            return StoredDeadLetter(id: id, letter: letter)
        } catch {
            throw StorageError(code: .dataLoss, message: "damaged dead letter \(id): \(error.reason)")
        }
    }
}
