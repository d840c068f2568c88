import TelemetryCore

/// Builds a range answer's columns (`TelemetryStore.rangeColumns`) straight from sealed
/// block rows and individual record values: field names are resolved once per block column
/// or per field layout, provenances once per provenance id, and values go into typed
/// columns without a `TelemetryRecord` or `Field` being made for them.
///
/// Columns are created lazily, when a field's first value arrives, so they come in the
/// order `RecordColumns(vehicle:records:)` lays out the same records.
///
/// A class: the scan hands each row to a closure that reaches the builder through an
/// optional it captured, and a struct there was copied (every column's arrays retained and
/// released) once per row.
final class ColumnPageBuilder {
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
    private var lastProvenance: (id: Int64, provider: UInt32, mappingVersion: UInt32)? = nil
    /// Consecutive rows of one block visited one after another (ascending or descending),
    /// not yet appended: they are copied column by column in `flush`, each column's arrays
    /// read once per run instead of once per row.
    /// The run holds rows `start..<end`, visited upwards or, when `descending`, downwards.
    private var run: (block: SealedBlock, start: Int, end: Int, descending: Bool)? = nil

    init(vehicle: VehicleID, names: [UInt32: String], provenances: [UInt32: ProvenanceKey]) {
        self.vehicle = vehicle
        self.names = names
        self.provenances = provenances
        builder = RecordColumns.Builder(vehicle: vehicle)
    }

    /// Rows so far, the pending run of block rows included.
    var count: Int { builder.count + (run.map { $0.end - $0.start } ?? 0) }

    /// The last row's timestamp; call after `flush`.
    var lastTimestamp: Int64? { builder.lastTimestamp }

    /// The columns; call after `flush`.
    func build() -> RecordColumns { builder.build() }

    private func column(of id: UInt32, at timestamp: Int64) throws(StorageError) -> Int {
        if let k = columnOfID[id] { return k }
        guard let name = names[id] else {
            throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) uses field id \(id), which has no dictionary entry")
        }
        let k = builder.column(named: name)
        columnOfID[id] = k
        return k
    }

    private func appendRow(timestamp: Int64, provenance id: Int64, receivedDelta: Int64) throws(StorageError) {
        guard id >= 0, id <= Int64(UInt32.max) else {
            throw StorageError(code: .dataLoss, message: "record of vehicle \(vehicle) at \(timestamp) has provenance id \(id) out of range")
        }
        // Rows of one vehicle nearly always share one provenance: the previous row's is
        // reused without hashing.
        if let last = lastProvenance, last.id == id {
            builder.appendRow(timestamp: timestamp, provider: last.provider, mappingVersion: last.mappingVersion, receivedAt: timestamp &+ receivedDelta)
            return
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
        lastProvenance = (id, indexes.provider, indexes.mappingVersion)
        builder.appendRow(
            timestamp: timestamp, provider: indexes.provider, mappingVersion: indexes.mappingVersion, receivedAt: timestamp &+ receivedDelta)
    }

    /// Appends row `row` of a sealed block; rows that continue the previous one's run (the
    /// next row in the scan's order) are gathered and appended by `flush`.
    func append(block: SealedBlock, row: Int, descending: Bool) throws(StorageError) {
        if var r = run, r.block === block, r.descending == descending {
            if !descending && row == r.end {
                r.end += 1
                run = r
                return
            }
            if descending && row == r.start - 1 {
                r.start -= 1
                run = r
                return
            }
        }
        try flush()
        run = (block, row, row + 1, descending)
    }

    /// Appends the pending run of block rows: the rows first, then column by column. New
    /// columns are created in the order their first value appears row by row, as if the
    /// rows had been appended one at a time.
    func flush() throws(StorageError) {
        guard let r = run else { return }
        run = nil
        let d = r.block.decoded
        if lastBlock !== r.block {
            lastBlock = r.block
            blockColumns = [Int](repeating: -1, count: d.columns.count)
        }
        let rows = r.descending ? Array((r.start..<r.end).reversed()) : Array(r.start..<r.end)
        let firstRow = builder.count
        for row in rows { try appendRow(timestamp: d.timestamps[row], provenance: d.provenances[row], receivedDelta: d.receivedDeltas[row]) }
        var created: [(position: Int, column: Int)] = []
        for (i, column) in d.columns.enumerated() where blockColumns[i] < 0 {
            if let position = rows.firstIndex(where: { column.value(row: $0) != nil }) { created.append((position, i)) }
        }
        for c in created.sorted(by: { ($0.position, $0.column) < ($1.position, $1.column) }) {
            blockColumns[c.column] = try column(of: d.columns[c.column].id, at: d.timestamps[rows[c.position]])
        }
        for (i, column) in d.columns.enumerated() {
            let k = blockColumns[i]
            guard k >= 0 else { continue }
            // A typed column with a value in every row (the common case: a field every record
            // of the vehicle has) is copied as one slice.
            if column.valueIndex == nil {
                let span = r.start..<r.end
                switch column.values {
                case .doubles(let v):
                    builder.append(doubles: v[span], reversed: r.descending, toColumn: k, firstRow: firstRow)
                    continue
                case .ints(let v):
                    builder.append(ints: v[span], reversed: r.descending, toColumn: k, firstRow: firstRow)
                    continue
                case .bools(let v):
                    builder.append(bools: v[span], reversed: r.descending, toColumn: k, firstRow: firstRow)
                    continue
                case .tagged:
                    break
                }
            }
            for (j, row) in rows.enumerated() {
                if let value = column.value(row: row) { builder.append(value, toColumn: k, row: firstRow + j) }
            }
        }
    }

    /// Appends an individual record value (RecordCodec) at `timestamp`.
    func append(timestamp: Int64, value: UnsafeBufferPointer<UInt8>, keep: ((UInt32) -> Bool)?) throws(StorageError) {
        try flush()
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

