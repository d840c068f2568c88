import TelemetryCore

/// Builds a range answer's columns (`TelemetryStore.rangeColumns`) straight from sealed
/// block rows and individual record values: field names are resolved once per block column
/// or per field layout, provenances once per provenance id, and values go into typed
/// columns without a `TelemetryRecord` or `Field` being made for them.
///
/// Columns are created lazily, when a field's first value arrives, so they come in the
/// order `RecordColumns(vehicle:records:)` lays out the same records.
struct ColumnPageBuilder {
    let vehicle: VehicleID
    let names: [UInt32: String]
    let provenances: [UInt32: ProvenanceKey]
    private var builder: RecordColumns.Builder
    private var columnOfID: [UInt32: Int] = [:]
    /// Held strongly: an identifier alone could match a later block at the same address.
    private var lastBlock: SealedBlock? = nil
    /// Per column of `lastBlock`, its page column, or -1 until its first value.
    private var blockColumns: [Int] = []
    private var lastIDs: [UInt32] = []
    private var lastColumns: [Int] = []
    private var provenanceIndexes: [UInt32: (provider: UInt32, mappingVersion: UInt32)] = [:]

    init(vehicle: VehicleID, names: [UInt32: String], provenances: [UInt32: ProvenanceKey]) {
        self.vehicle = vehicle
        self.names = names
        self.provenances = provenances
        builder = RecordColumns.Builder(vehicle: vehicle)
    }

    var count: Int { builder.count }
    var lastTimestamp: Int64? { builder.lastTimestamp }

    func build() -> RecordColumns { builder.build() }

    private mutating func column(of id: UInt32, at timestamp: Int64) throws(StorageError) -> Int {
        if let k = columnOfID[id] { return k }
        guard let name = names[id] else {
            throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) uses field id \(id), which has no dictionary entry")
        }
        let k = builder.column(named: name)
        columnOfID[id] = k
        return k
    }

    private mutating func appendRow(timestamp: Int64, provenance id: Int64, receivedDelta: Int64) throws(StorageError) {
        guard id >= 0, id <= Int64(UInt32.max) else {
            throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) has provenance id \(id) out of range")
        }
        let indexes: (provider: UInt32, mappingVersion: UInt32)
        if let known = provenanceIndexes[UInt32(id)] {
            indexes = known
        } else {
            guard let p = provenances[UInt32(id)] else {
                throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) has unknown provenance id \(id)")
            }
            indexes = builder.provenanceIndexes(provider: p.provider, mappingVersion: p.mappingVersion)
            provenanceIndexes[UInt32(id)] = indexes
        }
        builder.appendRow(
            timestamp: timestamp, provider: indexes.provider, mappingVersion: indexes.mappingVersion, receivedAt: timestamp &+ receivedDelta)
    }

    /// Appends row `row` of a sealed block.
    mutating func append(block: SealedBlock, row: Int) throws(StorageError) {
        let d = block.decoded
        let timestamp = d.timestamps[row]
        if lastBlock !== block {
            lastBlock = block
            blockColumns = [Int](repeating: -1, count: d.columns.count)
        }
        try appendRow(timestamp: timestamp, provenance: d.provenances[row], receivedDelta: d.receivedDeltas[row])
        for i in 0..<d.columns.count {
            guard let value = d.columns[i].value(row: row) else { continue }
            var k = blockColumns[i]
            if k < 0 {
                k = try column(of: d.columns[i].id, at: timestamp)
                blockColumns[i] = k
            }
            builder.append(value, toColumn: k)
        }
    }

    /// Appends an individual record value (RecordCodec) at `timestamp`.
    mutating func append(timestamp: Int64, value: UnsafeBufferPointer<UInt8>, keep: ((UInt32) -> Bool)?) throws(StorageError) {
        let decoded = try RecordCodec.decodeStored(value, keep: keep, vehicle: vehicle, timestamp: timestamp)
        try appendRow(timestamp: timestamp, provenance: Int64(decoded.provenance), receivedDelta: decoded.receivedDelta)
        let same = decoded.fields.count == lastIDs.count && zip(decoded.fields, lastIDs).allSatisfy { $0.id == $1 }
        if !same {
            lastIDs = decoded.fields.map(\.id)
            lastColumns = []
            for id in lastIDs { lastColumns.append(try column(of: id, at: timestamp)) }
        }
        for (i, f) in decoded.fields.enumerated() { builder.append(f.value, toColumn: lastColumns[i]) }
    }
}

extension RecordCodec {
    /// `decode` for a value read from the canonical keyspace: damage is data loss, named by
    /// vehicle and time.
    static func decodeStored(
        _ value: UnsafeBufferPointer<UInt8>, keep: ((UInt32) -> Bool)?, vehicle: VehicleID, timestamp: Int64
    ) throws(StorageError) -> Decoded {
        do throws(ByteDecodingError) {
            return try decode(value, keep: keep)
        } catch {
            throw StorageError(code: .dataLoss, message: "damaged record of vehicle \(vehicle) at \(timestamp): \(error.reason)")
        }
    }
}
