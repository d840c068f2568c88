/// One vehicle's records as columns: a timestamp per row and, per field name, the rows
/// that have the field and their values in one typed array.
///
/// It is the form a range answer travels in (protocol/PROTOCOL.md, "Columnar records") and
/// the store reads sealed blocks in, so an analyst who works column by column (a chart, a
/// sum, a CSV export) never pays for a `TelemetryRecord` and a `Field` per value;
/// `records` builds those when they are wanted.
public struct RecordColumns: Sendable, Hashable {
    public var vehicle: VehicleID
    /// One per row, in the query's order.
    public var timestamps: [Int64]
    /// Provenance, per row: the provider `providers[providerIndex[row]]`; `providerIndex`
    /// is empty when `providers` has a single entry (or none, with no rows).
    public var providers: [String]
    public var providerIndex: [UInt32]
    /// Like `providers`.
    public var mappingVersions: [String]
    public var mappingVersionIndex: [UInt32]
    /// One per row: when the store received the record.
    public var receivedAt: [Int64]
    /// In the order their fields first appear, row by row.
    public var columns: [FieldColumn]

    public init(
        vehicle: VehicleID, timestamps: [Int64] = [], providers: [String] = [], providerIndex: [UInt32] = [],
        mappingVersions: [String] = [], mappingVersionIndex: [UInt32] = [], receivedAt: [Int64] = [], columns: [FieldColumn] = []
    ) {
        self.vehicle = vehicle
        self.timestamps = timestamps
        self.providers = providers
        self.providerIndex = providerIndex
        self.mappingVersions = mappingVersions
        self.mappingVersionIndex = mappingVersionIndex
        self.receivedAt = receivedAt
        self.columns = columns
    }

    /// The number of rows (records).
    public var count: Int { timestamps.count }

    /// The column of the named field, if any row has it.
    public subscript(name: String) -> FieldColumn? {
        columns.first(where: { $0.name == name })
    }

    /// The provenance of `row`.
    public func provenance(row: Int) -> Provenance {
        Provenance(
            provider: providers[providerIndex.isEmpty ? 0 : Int(providerIndex[row])],
            mappingVersion: mappingVersions[mappingVersionIndex.isEmpty ? 0 : Int(mappingVersionIndex[row])],
            receivedAt: receivedAt[row])
    }

    /// The rows as records, each with its fields in column order.
    public var records: [TelemetryRecord] {
        var fields = [[Field]](repeating: [], count: count)
        for i in fields.indices { fields[i].reserveCapacity(columns.count) }
        for column in columns {
            for j in 0..<column.values.count {
                fields[column.row(ofValue: j)].append(Field(column.name, column.values[j]))
            }
        }
        var out = [TelemetryRecord]()
        out.reserveCapacity(count)
        for row in 0..<count {
            out.append(TelemetryRecord(vehicle: vehicle, timestamp: timestamps[row], fields: fields[row], provenance: provenance(row: row)))
        }
        return out
    }

    /// Columns holding `records` (all of `vehicle`), in the same layout a store answer has:
    /// `RecordColumns(vehicle:records:).records == records`.
    public init(vehicle: VehicleID, records: some Collection<TelemetryRecord>) {
        var builder = Builder(vehicle: vehicle)
        for record in records {
            builder.appendRow(timestamp: record.timestamp, provenance: record.provenance)
            for field in record.fields { builder.append(field.value, toColumnNamed: field.name) }
        }
        self = builder.build()
    }

    /// Appends the rows of `other` (the next page of the same vehicle's answer) after these.
    public mutating func append(_ other: RecordColumns) {
        let offset = UInt32(count)
        let providerMap = other.providers.map { Self.index(of: $0, in: &providers) }
        let versionMap = other.mappingVersions.map { Self.index(of: $0, in: &mappingVersions) }
        Self.appendIndexes(&providerIndex, old: count, new: other.count, from: other.providerIndex, map: providerMap, size: providers.count)
        Self.appendIndexes(
            &mappingVersionIndex, old: count, new: other.count, from: other.mappingVersionIndex, map: versionMap, size: mappingVersions.count)
        let oldCount = count
        timestamps += other.timestamps
        receivedAt += other.receivedAt
        // Row lists are spelled out while merging, then dropped again where complete.
        for k in columns.indices where columns[k].rows == nil { columns[k].rows = Array(0..<UInt32(oldCount)) }
        for column in other.columns {
            let rows = (column.rows ?? Array(0..<UInt32(other.count))).map { $0 + offset }
            if let k = columns.firstIndex(where: { $0.name == column.name }) {
                columns[k].rows! += rows
                columns[k].values.append(contentsOf: column.values)
            } else {
                columns.append(FieldColumn(name: column.name, rows: rows, values: column.values))
            }
        }
        // A column present in every row needs no row list.
        for k in columns.indices where columns[k].rows?.count == count { columns[k].rows = nil }
    }

    private static func index(of text: String, in list: inout [String]) -> UInt32 {
        if let i = list.firstIndex(of: text) { return UInt32(i) }
        list.append(text)
        return UInt32(list.count - 1)
    }

    /// Appends `new` rows' indexes (remapped through `map`) after `old` rows' to a per-row
    /// index list that may be empty while its dictionary has at most one entry.
    private static func appendIndexes(_ indexes: inout [UInt32], old: Int, new: Int, from other: [UInt32], map: [UInt32], size: Int) {
        if indexes.isEmpty && other.isEmpty && size <= 1 { return }
        if indexes.isEmpty { indexes = [UInt32](repeating: 0, count: old) }
        if other.isEmpty {
            indexes += [UInt32](repeating: map.first ?? 0, count: new)
        } else {
            indexes += other.map { map[Int($0)] }
        }
    }

    /// Builds columns row by row, each column staying typed while its values share a type.
    package struct Builder: Sendable {
        private var columns: RecordColumns
        private var accumulators: [ColumnAccumulator] = []
        private var columnIndex: [String: Int] = [:]
        private var providerIndex: [String: UInt32] = [:]
        private var versionIndex: [String: UInt32] = [:]

        package init(vehicle: VehicleID) {
            columns = RecordColumns(vehicle: vehicle)
        }

        /// Starts a row: the fields appended next belong to it.
        package mutating func appendRow(timestamp: Int64, provenance: Provenance) {
            let p = provenanceIndexes(provider: provenance.provider, mappingVersion: provenance.mappingVersion)
            appendRow(timestamp: timestamp, provider: p.provider, mappingVersion: p.mappingVersion, receivedAt: provenance.receivedAt)
        }

        /// The dictionary indexes of a provenance, for `appendRow(timestamp:provider:mappingVersion:receivedAt:)`:
        /// a caller that knows its provenances by id looks each up once, not once per row.
        package mutating func provenanceIndexes(provider: String, mappingVersion: String) -> (provider: UInt32, mappingVersion: UInt32) {
            (
                columns.providers.dictionaryIndex(of: provider, positions: &providerIndex),
                columns.mappingVersions.dictionaryIndex(of: mappingVersion, positions: &versionIndex)
            )
        }

        /// Starts a row whose provenance `provenanceIndexes` gave.
        package mutating func appendRow(timestamp: Int64, provider: UInt32, mappingVersion: UInt32, receivedAt: Int64) {
            columns.timestamps.append(timestamp)
            columns.providerIndex.append(provider)
            columns.mappingVersionIndex.append(mappingVersion)
            columns.receivedAt.append(receivedAt)
        }

        /// Rows so far.
        package var count: Int { columns.timestamps.count }

        /// The timestamp of the last row.
        package var lastTimestamp: Int64? { columns.timestamps.last }

        /// The index of the named column, created when new: a caller looks it up once per
        /// field layout and appends with `append(_:toColumn:)`.
        package mutating func column(named name: String) -> Int {
            if let k = columnIndex[name] { return k }
            accumulators.append(ColumnAccumulator(name: name))
            columnIndex[name] = accumulators.count - 1
            return accumulators.count - 1
        }

        /// Adds a value of the current row to column `k`.
        @inline(__always)
        package mutating func append(_ value: FieldValue, toColumn k: Int) {
            accumulators[k].append(row: UInt32(columns.timestamps.count - 1), value)
        }

        /// Adds a value of row `row` (an earlier row than the current one, or it) to column
        /// `k`; rows of one column must be appended in ascending order.
        @inline(__always)
        package mutating func append(_ value: FieldValue, toColumn k: Int, row: Int) {
            accumulators[k].append(row: UInt32(row), value)
        }

        /// Adds a run of typed values, one per row from `firstRow` on, to column `k`, in
        /// reverse order when `reversed` (a sealed block's column copied into a range answer
        /// without a `FieldValue` each).
        package mutating func append(doubles values: ArraySlice<Double>, reversed: Bool, toColumn k: Int, firstRow: Int) {
            accumulators[k].append(firstRow: UInt32(firstRow), doubles: values, reversed: reversed)
        }

        /// `append(doubles:reversed:toColumn:firstRow:)` for integers.
        package mutating func append(ints values: ArraySlice<Int64>, reversed: Bool, toColumn k: Int, firstRow: Int) {
            accumulators[k].append(firstRow: UInt32(firstRow), ints: values, reversed: reversed)
        }

        /// `append(doubles:reversed:toColumn:firstRow:)` for booleans.
        package mutating func append(bools values: ArraySlice<Bool>, reversed: Bool, toColumn k: Int, firstRow: Int) {
            accumulators[k].append(firstRow: UInt32(firstRow), bools: values, reversed: reversed)
        }

        package mutating func append(_ value: FieldValue, toColumnNamed name: String) {
            append(value, toColumn: column(named: name))
        }

        package func build() -> RecordColumns {
            var out = columns
            out.columns = accumulators.filter { !$0.rows.isEmpty }.map { $0.build(rowCount: out.count) }
            if out.providers.count <= 1 { out.providerIndex = [] }
            if out.mappingVersions.count <= 1 { out.mappingVersionIndex = [] }
            return out
        }

    }
}

/// Collects one column's values row by row, in typed arrays while every value has the same
/// type, tagged once a second type (or a null, or an array) arrives. Shared by the store's
/// answers, the client and the wire encoder, so that all three lay columns out alike.
package struct ColumnAccumulator: Sendable {
    package enum Kind: Sendable { case empty, doubles, ints, bools, strings, bytes, mixed }
    package let name: String
    package private(set) var kind = Kind.empty
    package private(set) var rows: [UInt32] = []
    package private(set) var doubles: [Double] = []
    package private(set) var ints: [Int64] = []
    package private(set) var bools: [Bool] = []
    package private(set) var strings: [String] = []
    package private(set) var bytes: [[UInt8]] = []
    package private(set) var mixed: [FieldValue] = []

    package init(name: String) {
        self.name = name
    }

    @inline(__always)
    package mutating func append(row: UInt32, _ value: FieldValue) {
        rows.append(row)
        switch (kind, value) {
        case (.doubles, .double(let d)), (.empty, .double(let d)):
            kind = .doubles
            doubles.append(d)
        case (.ints, .int(let x)), (.empty, .int(let x)):
            kind = .ints
            ints.append(x)
        case (.bools, .bool(let b)), (.empty, .bool(let b)):
            kind = .bools
            bools.append(b)
        case (.strings, .string(let s)), (.empty, .string(let s)):
            kind = .strings
            strings.append(s)
        case (.bytes, .bytes(let b)), (.empty, .bytes(let b)):
            kind = .bytes
            bytes.append(b)
        case (.mixed, _):
            mixed.append(value)
        default:
            // A second type (or a null, or an array): every value becomes tagged.
            mixed = values.fieldValues + [value]
            doubles = []
            ints = []
            bools = []
            strings = []
            bytes = []
            kind = .mixed
        }
    }

    /// Appends `values` (reversed when asked) at rows `firstRow`, `firstRow + 1`, ...
    package mutating func append(firstRow: UInt32, doubles values: ArraySlice<Double>, reversed: Bool) {
        append(firstRow: firstRow, values, reversed: reversed, as: .doubles, in: \.doubles, tag: FieldValue.double)
    }

    /// `append(firstRow:doubles:reversed:)` for integers.
    package mutating func append(firstRow: UInt32, ints values: ArraySlice<Int64>, reversed: Bool) {
        append(firstRow: firstRow, values, reversed: reversed, as: .ints, in: \.ints, tag: FieldValue.int)
    }

    /// `append(firstRow:doubles:reversed:)` for booleans.
    package mutating func append(firstRow: UInt32, bools values: ArraySlice<Bool>, reversed: Bool) {
        append(firstRow: firstRow, values, reversed: reversed, as: .bools, in: \.bools, tag: FieldValue.bool)
    }

    /// Appends `values` (reversed when asked) at rows `firstRow`, `firstRow + 1`, ...: in one
    /// copy into `storage` while the column is of `target`'s kind (or still empty), else value
    /// by value.
    private mutating func append<T>(
        firstRow: UInt32, _ values: ArraySlice<T>, reversed: Bool, as target: Kind,
        in storage: WritableKeyPath<ColumnAccumulator, [T]>, tag: (T) -> FieldValue
    ) {
        guard kind == target || kind == .empty else {
            let ordered = reversed ? Array(values.reversed()) : Array(values)
            for (j, v) in ordered.enumerated() { append(row: firstRow + UInt32(j), tag(v)) }
            return
        }
        kind = target
        rows.append(contentsOf: firstRow..<(firstRow + UInt32(values.count)))
        if reversed {
            self[keyPath: storage].append(contentsOf: values.reversed())
        } else {
            self[keyPath: storage].append(contentsOf: values)
        }
    }

    /// The values so far.
    package var values: ColumnValues {
        switch kind {
        case .empty, .mixed: return .mixed(mixed)
        case .doubles: return .doubles(doubles)
        case .ints: return .ints(ints)
        case .bools: return .bools(bools)
        case .strings: return .strings(strings)
        case .bytes: return .bytes(bytes)
        }
    }

    /// The column; rows are left out when every one of `rowCount` rows has the field.
    package func build(rowCount: Int) -> FieldColumn {
        FieldColumn(name: name, rows: rows.count == rowCount ? nil : rows, values: values)
    }
}

/// One field name's values over the rows of a `RecordColumns` that have it.
public struct FieldColumn: Sendable, Hashable {
    public var name: String
    /// Ascending indexes of the rows that have the field; nil when every row has it.
    public var rows: [UInt32]?
    /// One value per row that has the field.
    public var values: ColumnValues

    public init(name: String, rows: [UInt32]?, values: ColumnValues) {
        self.name = name
        self.rows = rows
        self.values = values
    }

    /// The row of the `j`-th value.
    @inlinable public func row(ofValue j: Int) -> Int {
        rows.map { Int($0[j]) } ?? j
    }

    /// The value of `row`, nil when the row does not have the field (a binary search when
    /// the column is sparse).
    public func value(row: Int) -> FieldValue? {
        guard let rows else { return values[row] }
        var lo = 0
        var hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(rows[mid]) < row { lo = mid + 1 } else { hi = mid }
        }
        return lo < rows.count && Int(rows[lo]) == row ? values[lo] : nil
    }
}

/// A column's values: typed while they all share one type, else tagged one by one.
public enum ColumnValues: Sendable, Hashable {
    case doubles([Double])
    case ints([Int64])
    case bools([Bool])
    case strings([String])
    case bytes([[UInt8]])
    /// Values of several types, nulls or arrays.
    case mixed([FieldValue])

    public var count: Int {
        switch self {
        case .doubles(let v): return v.count
        case .ints(let v): return v.count
        case .bools(let v): return v.count
        case .strings(let v): return v.count
        case .bytes(let v): return v.count
        case .mixed(let v): return v.count
        }
    }

    public subscript(i: Int) -> FieldValue {
        switch self {
        case .doubles(let v): return .double(v[i])
        case .ints(let v): return .int(v[i])
        case .bools(let v): return .bool(v[i])
        case .strings(let v): return .string(v[i])
        case .bytes(let v): return .bytes(v[i])
        case .mixed(let v): return v[i]
        }
    }

    /// Every value as a `FieldValue`.
    public var fieldValues: [FieldValue] {
        if case .mixed(let v) = self { return v }
        return (0..<count).map { self[$0] }
    }

    /// Appends another column's values, turning this one into `.mixed` when the types differ.
    public mutating func append(contentsOf other: ColumnValues) {
        switch (self, other) {
        case (.doubles(let a), .doubles(let b)): self = .doubles(a + b)
        case (.ints(let a), .ints(let b)): self = .ints(a + b)
        case (.bools(let a), .bools(let b)): self = .bools(a + b)
        case (.strings(let a), .strings(let b)): self = .strings(a + b)
        case (.bytes(let a), .bytes(let b)): self = .bytes(a + b)
        default: self = .mixed(fieldValues + other.fieldValues)
        }
    }
}

/// One page of a range query, as columns.
public struct ColumnarRangePage: Sendable, Hashable {
    public var columns: RecordColumns
    /// Pass this back to get the next page; nil when the range is exhausted.
    public var nextCursor: String?

    public init(columns: RecordColumns, nextCursor: String?) {
        self.columns = columns
        self.nextCursor = nextCursor
    }
}

extension Array where Element == String {
    /// The index of `text` in this list of distinct texts (a columnar message's dictionary),
    /// appended when new; `positions` maps each text to its index, so a lookup is one hash.
    package mutating func dictionaryIndex(of text: String, positions: inout [String: UInt32]) -> UInt32 {
        if let i = positions[text] { return i }
        let i = UInt32(count)
        positions[text] = i
        append(text)
        return i
    }
}
