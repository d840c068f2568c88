import TelemetryCore

/// The provider and mapping version a record was produced by: dictionary-coded, since
/// millions of records share a handful of them.
struct ProvenanceKey: Hashable, Sendable {
    var provider: String
    var mappingVersion: String
}

/// Name <-> code tables. Codes are assigned once, persisted in the metadata keyspace in
/// the same batch as the first record that uses them, and never reused.
///
/// Codes run from 1 to `UInt32.max - 1`: 0 is never assigned, and `UInt32.max` is never
/// handed out, so that "the next code" always fits a UInt32. A stored code outside that range
/// can only be damage.
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

    /// Whether this holds codes that `other` (an earlier copy of the same tables) lacks.
    /// Codes are assigned in order, so a new one always moves a `next` counter.
    func hasCodes(beyond other: Dictionaries) -> Bool {
        nextVehicleCode != other.nextVehicleCode || nextFieldID != other.nextFieldID
            || nextProvenanceID != other.nextProvenanceID
    }

    /// Takes the next free code of one dictionary.
    /// - Throws: `.dataLoss` when none is left. Four billion names would take terabytes of
    ///   metadata, so in practice only a damaged entry (a stored code near `UInt32.max`) gets
    ///   here; it must not trap.
    private static func take(_ next: inout UInt32, _ dictionary: String) throws(StorageError) -> UInt32 {
        guard next < UInt32.max else {
            throw StorageError(
                code: .dataLoss,
                message: "the \(dictionary) dictionary has no code left (highest stored code \(next - 1)); its metadata is probably damaged")
        }
        defer { next += 1 }
        return next
    }

    /// The code of `vehicle`, assigning one (and adding its metadata put to `batch`) if new.
    mutating func vehicleCode(_ vehicle: VehicleID, batch: WriteBatch) throws(StorageError) -> UInt32 {
        if let code = vehicleCodes[vehicle] { return code }
        let code = try Self.take(&nextVehicleCode, "vehicle")
        vehicleCodes[vehicle] = code
        vehicles[code] = vehicle
        var value = [UInt8]()
        value.appendBigEndian(code)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.vehiclePrefix, Array(vehicle.rawValue.utf8)), value)
        return code
    }

    mutating func fieldID(_ name: String, batch: WriteBatch) throws(StorageError) -> UInt32 {
        if let id = fieldIDs[name] { return id }
        let id = try Self.take(&nextFieldID, "field")
        fieldIDs[name] = id
        fieldNames[id] = name
        var value = [UInt8]()
        value.appendBigEndian(id)
        batch.put(KeyLayout.metadataKey(KeyLayout.Meta.fieldPrefix, Array(name.utf8)), value)
        return id
    }

    mutating func provenanceID(_ key: ProvenanceKey, batch: WriteBatch) throws(StorageError) -> UInt32 {
        if let id = provenanceIDs[key] { return id }
        let id = try Self.take(&nextProvenanceID, "provenance")
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
    /// - Throws: `.dataLoss` for a damaged entry: a bad name or value, a code outside
    ///   1 ..< UInt32.max, or a code that a second name claims (its records would be read as
    ///   the other name's).
    mutating func load(key: [UInt8], value: [UInt8]) throws(StorageError) -> Bool {
        let name = key.dropFirst()
        func suffix(after prefix: String) -> ArraySlice<UInt8>? {
            let p = Array(prefix.utf8)
            guard name.starts(with: p) else { return nil }
            return name.dropFirst(p.count)
        }
        func code(_ bytes: some Collection<UInt8>, _ dictionary: String) throws(StorageError) -> UInt32 {
            guard bytes.count == 4 else {
                throw StorageError(code: .dataLoss, message: "damaged \(dictionary) dictionary entry in metadata (\(bytes.count) bytes)")
            }
            let c = bytes.reduce(0) { ($0 << 8) | UInt32($1) }
            guard c != 0, c != UInt32.max else {
                throw StorageError(code: .dataLoss, message: "damaged \(dictionary) dictionary entry in metadata (code \(c))")
            }
            return c
        }
        func claimed(_ c: UInt32, _ dictionary: String) -> StorageError {
            StorageError(code: .dataLoss, message: "damaged \(dictionary) dictionary in metadata: code \(c) is stored for two names")
        }
        if let raw = suffix(after: KeyLayout.Meta.vehiclePrefix) {
            guard let vehicle = try? VehicleID(utf8Bytes: raw) else {
                throw StorageError(code: .dataLoss, message: "damaged vehicle dictionary entry in metadata")
            }
            let c = try code(value, "vehicle")
            guard vehicles[c] == nil else { throw claimed(c, "vehicle") }
            vehicleCodes[vehicle] = c
            vehicles[c] = vehicle
            nextVehicleCode = max(nextVehicleCode, c + 1)
            return true
        }
        if let raw = suffix(after: KeyLayout.Meta.fieldPrefix) {
            guard let field = String(validating: raw, as: UTF8.self) else {
                throw StorageError(code: .dataLoss, message: "damaged field dictionary entry in metadata")
            }
            let c = try code(value, "field")
            guard fieldNames[c] == nil else { throw claimed(c, "field") }
            fieldIDs[field] = c
            fieldNames[c] = field
            nextFieldID = max(nextFieldID, c + 1)
            return true
        }
        if let raw = suffix(after: KeyLayout.Meta.provenancePrefix) {
            let id = try code(raw, "provenance")
            let parsed: ProvenanceKey? = value.withReader { r in
                guard let p = try? r.readString("provider"), let v = try? r.readString("mapping version"), r.isAtEnd
                else { return nil }
                return ProvenanceKey(provider: p, mappingVersion: v)
            }
            guard let parsed else { throw StorageError(code: .dataLoss, message: "damaged provenance entry \(id) in metadata") }
            guard provenances[id] == nil else { throw claimed(id, "provenance") }
            provenanceIDs[parsed] = id
            provenances[id] = parsed
            nextProvenanceID = max(nextProvenanceID, id + 1)
            return true
        }
        return false
    }
}
