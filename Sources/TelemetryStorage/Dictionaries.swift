import TelemetryCore

/// The provider and mapping version a record was produced by: dictionary-coded, since
/// millions of records share a handful of them.
struct ProvenanceKey: Hashable, Sendable {
    var provider: String
    var mappingVersion: String
}

/// Name <-> code tables. Codes are assigned once, persisted in the metadata keyspace in
/// the same batch as the first record that uses them, and never reused.
struct Dictionaries: Sendable {
    var vehicleCodes: [VehicleID: UInt32] = [:]
    var vehicles: [UInt32: VehicleID] = [:]
    var fieldIDs: [String: UInt32] = [:]
    var fieldNames: [UInt32: String] = [:]
    var provenanceIDs: [ProvenanceKey: UInt32] = [:]
    var provenances: [UInt32: ProvenanceKey] = [:]
    var nextVehicleCode: UInt32 = 1
    var nextFieldID: UInt32 = 1
    var nextProvenanceID: UInt32 = 1

    /// The code of `vehicle`, assigning one (and adding its metadata put to `batch`) if new.
    mutating func vehicleCode(_ vehicle: VehicleID, batch: WriteBatch) -> UInt32 {
        if let code = vehicleCodes[vehicle] { return code }
        let code = nextVehicleCode
        nextVehicleCode += 1
        vehicleCodes[vehicle] = code
        vehicles[code] = vehicle
        var value = [UInt8]()
        value.appendBigEndian(code)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.vehiclePrefix, Array(vehicle.rawValue.utf8)), value)
        return code
    }

    mutating func fieldID(_ name: String, batch: WriteBatch) -> UInt32 {
        if let id = fieldIDs[name] { return id }
        let id = nextFieldID
        nextFieldID += 1
        fieldIDs[name] = id
        fieldNames[id] = name
        var value = [UInt8]()
        value.appendBigEndian(id)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.fieldPrefix, Array(name.utf8)), value)
        return id
    }

    mutating func provenanceID(_ key: ProvenanceKey, batch: WriteBatch) -> UInt32 {
        if let id = provenanceIDs[key] { return id }
        let id = nextProvenanceID
        nextProvenanceID += 1
        provenanceIDs[key] = id
        provenances[id] = key
        var suffix = [UInt8]()
        suffix.appendBigEndian(id)
        var value = [UInt8]()
        value.appendLengthPrefixed(Array(key.provider.utf8))
        value.appendLengthPrefixed(Array(key.mappingVersion.utf8))
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.provenancePrefix, suffix), value)
        return id
    }

    /// Loads one metadata entry; returns false when the key is not a dictionary entry.
    mutating func load(key: [UInt8], value: [UInt8]) throws(StorageError) -> Bool {
        let name = key.dropFirst()
        func suffix(after prefix: String) -> ArraySlice<UInt8>? {
            let p = Array(prefix.utf8)
            guard name.starts(with: p) else { return nil }
            return name.dropFirst(p.count)
        }
        func code() throws(StorageError) -> UInt32 {
            guard value.count == 4 else {
                throw StorageError(code: .dataLoss, message: "damaged dictionary entry in metadata (\(value.count) bytes)")
            }
            return value.reduce(0) { ($0 << 8) | UInt32($1) }
        }
        if let raw = suffix(after: KeyLayout.Meta.vehiclePrefix) {
            guard let vehicle = try? VehicleID(utf8Bytes: raw) else {
                throw StorageError(code: .dataLoss, message: "damaged vehicle dictionary entry in metadata")
            }
            let c = try code()
            vehicleCodes[vehicle] = c
            vehicles[c] = vehicle
            nextVehicleCode = max(nextVehicleCode, c + 1)
            return true
        }
        if let raw = suffix(after: KeyLayout.Meta.fieldPrefix) {
            guard let field = String(validating: raw, as: UTF8.self) else {
                throw StorageError(code: .dataLoss, message: "damaged field dictionary entry in metadata")
            }
            let c = try code()
            fieldIDs[field] = c
            fieldNames[c] = field
            nextFieldID = max(nextFieldID, c + 1)
            return true
        }
        if let raw = suffix(after: KeyLayout.Meta.provenancePrefix) {
            guard raw.count == 4 else {
                throw StorageError(code: .dataLoss, message: "damaged provenance key in metadata")
            }
            let id = raw.reduce(0) { ($0 << 8) | UInt32($1) }
            let parsed: ProvenanceKey? = value.withReader { r in
                guard let p = try? r.readLengthPrefixed(), let v = try? r.readLengthPrefixed() else { return nil }
                return ProvenanceKey(provider: String(decoding: p, as: UTF8.self), mappingVersion: String(decoding: v, as: UTF8.self))
            }
            guard let parsed else { throw StorageError(code: .dataLoss, message: "damaged provenance entry \(id) in metadata") }
            provenanceIDs[parsed] = id
            provenances[id] = parsed
            nextProvenanceID = max(nextProvenanceID, id + 1)
            return true
        }
        return false
    }
}
