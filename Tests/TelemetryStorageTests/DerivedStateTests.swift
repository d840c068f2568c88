import Foundation
import Testing
import TelemetryCore
@testable import TelemetryStorage

/// The mapping layer's per-vehicle state in its own keyspace (format 4), and the upgrade of a
/// format 3 folder, which kept it inside the latest state.
@Suite("Store: derived states")
struct DerivedStateTests {
    /// Every key and value of one keyspace, read from the folder with the store closed.
    static func entries(_ path: String, _ keyspace: Keyspace) throws -> [[UInt8]: [UInt8]] {
        let db = try LevelDB(path: path, options: LevelDBOptions())
        var out: [[UInt8]: [UInt8]] = [:]
        db.withIterator { it in
            it.seek(keyspace.lowerBound)
            while it.isValid, it.key.first == keyspace.rawValue {
                out[it.key] = it.value
                it.next()
            }
        }
        return out
    }

    @Test("a derived state is its own key: it survives a reopen, a delete of every record, and is counted by stats")
    func ownKey() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([record("v0", 1000, ["a": .int(1)]), record("v0", 2000, ["a": .int(2)])])
                _ = try store.write(StoreWrite(records: [record("v0", 3000, ["a": .int(3)])], derivedStates: [vid("v0"): [7, 7]]))
                // A vehicle the mapping layer knows before any record of it is stored.
                _ = try store.write(StoreWrite(derivedStates: [vid("v1"): [1]]))
                #expect(try store.derivedState(of: vid("v0")) == [7, 7])
                let stats = try store.storageStats()
                #expect(stats.keyspaces.first { $0.keyspace == .derived }?.entries == 2)
                #expect(stats.keyspaces.first { $0.keyspace == .latest }?.entries == 1)
                store.close()
            }
            let derived = try Self.entries(path, .derived)
            // Vehicle codes start at 1: v0 is 1, v1 is 2.
            #expect(derived[KeyLayout.derivedKey(vehicle: 1)] == [7, 7])
            #expect(derived[KeyLayout.derivedKey(vehicle: 2)] == [1])
            #expect(derived.count == 2)
            // The latest state no longer carries it: its last field (a length-prefixed derived
            // state) is empty.
            let latest = try Self.entries(path, .latest)
            #expect(latest.count == 1)
            #expect(latest.values.allSatisfy { $0.last == 0 })
            do {
                let store = try TelemetryStore(path: path)
                #expect(try store.derivedState(of: vid("v0")) == [7, 7])
                #expect(try store.derivedState(of: vid("v1")) == [1])
                #expect(try store.latest(vid("v0"))?.timestamp == 3000)
                // Every record of v0 goes; its derived state stays, and its latest key goes.
                #expect(try store.deleteRecords(vehicle: vid("v0"), from: .min, to: .max) == 3)
                #expect(try store.derivedState(of: vid("v0")) == [7, 7])
                store.close()
            }
            #expect(try Self.entries(path, .latest).isEmpty)
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            #expect(try store.derivedState(of: vid("v0")) == [7, 7])
            #expect(try store.latest(vid("v0")) == nil)
            #expect(Set(try store.derivedStates().map(\.vehicle.rawValue)) == ["v0", "v1"])
        }
    }

    @Test("a format 3 folder is upgraded in place: each derived state moves from the latest state into its own key")
    func upgradeFromFormat3() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/store"
            do {
                let store = try TelemetryStore(path: path)
                try store.write([record("v0", 1000, ["a": .int(1)]), record("v0", 2000, ["a": .int(2)])])
                _ = try store.write(StoreWrite(derivedStates: [vid("v0"): [5, 5, 5], vid("v1"): [9]]))
                store.close()
            }
            do {
                // What a format 3 build leaves: the derived state as the latest state's last
                // field, a latest key for v1 although it has no records, no derived keyspace.
                let db = try LevelDB(path: path, options: LevelDBOptions())
                let batch = WriteBatch()
                batch.put(KeyLayout.metadataKey(KeyLayout.Meta.format), UInt32(3).bigEndianBytes)
                var latest0 = try #require(try db.get(KeyLayout.latestKey(vehicle: 1)))
                #expect(latest0.last == 0)
                latest0.removeLast()
                latest0.appendLengthPrefixed([5, 5, 5])
                batch.put(KeyLayout.latestKey(vehicle: 1), latest0)
                var empty = VehicleState(code: 2, vehicle: vid("v1")).encoded()
                empty.removeLast()
                empty.appendLengthPrefixed([9])
                batch.put(KeyLayout.latestKey(vehicle: 2), empty)
                batch.delete(KeyLayout.derivedKey(vehicle: 1))
                batch.delete(KeyLayout.derivedKey(vehicle: 2))
                try db.write(batch, sync: true)
            }
            do {
                let store = try TelemetryStore(path: path)
                #expect(try store.derivedState(of: vid("v0")) == [5, 5, 5])
                #expect(try store.derivedState(of: vid("v1")) == [9])
                #expect(try allRecords(store, "v0").map(\.timestamp) == [1000, 2000])
                store.close()
            }
            #expect(try Self.entries(path, .metadata)[KeyLayout.metadataKey(KeyLayout.Meta.format)] == TelemetryStore.formatVersion.bigEndianBytes)
            let derived = try Self.entries(path, .derived)
            #expect(derived[KeyLayout.derivedKey(vehicle: 1)] == [5, 5, 5])
            #expect(derived[KeyLayout.derivedKey(vehicle: 2)] == [9])
            // v1's latest key existed only to carry its derived state.
            #expect(try Self.entries(path, .latest).keys.sorted { $0.lexicographicallyPrecedes($1) } == [KeyLayout.latestKey(vehicle: 1)])
            // Format 4 reads the derived keyspace only: a newer state there wins over the copy
            // the latest state still holds.
            do {
                let store = try TelemetryStore(path: path)
                _ = try store.write(StoreWrite(derivedStates: [vid("v0"): [6]]))
                store.close()
            }
            let store = try TelemetryStore(path: path)
            defer { store.close() }
            #expect(try store.derivedState(of: vid("v0")) == [6])
        }
    }
}
