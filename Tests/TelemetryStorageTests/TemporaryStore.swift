import Foundation
import TelemetryCore
import TelemetryStorage

/// A fresh folder under the system temp directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("telemetry-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A new, empty store in its own temporary folder.
func withTemporaryStore<T>(
    configuration: StoreConfiguration = StoreConfiguration(), _ body: (TelemetryStore, String) throws -> T
) throws -> T {
    try withTemporaryDirectory { dir in
        let path = dir + "/store"
        let store = try TelemetryStore(path: path, configuration: configuration)
        defer { store.close() }
        return try body(store, path)
    }
}

func vid(_ s: String) -> VehicleID { try! VehicleID(s) }  // test literals are valid ids

/// A canonical record with the given fields.
func record(_ vehicle: String, _ ts: Int64, _ fields: [String: FieldValue], provider: String = "test", version: String = "1.0.0", receivedAt: Int64? = nil) -> TelemetryRecord {
    TelemetryRecord(
        vehicle: vid(vehicle), timestamp: ts,
        fields: fields.map { Field($0.key, $0.value) },
        provenance: Provenance(provider: provider, mappingVersion: version, receivedAt: receivedAt ?? ts &+ 5))
}

extension TelemetryRecord {
    /// Fields as a dictionary, order-free, for comparisons.
    var fieldMap: [String: FieldValue] { Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.value) }) }
}

/// All records of a vehicle, every field.
func allRecords(_ store: TelemetryStore, _ vehicle: String, order: TimeOrder = .ascending) throws -> [TelemetryRecord] {
    try store.range(RangeQuery(vehicle: vid(vehicle), from: .min, to: .max, order: order)).records
}
