import Foundation
package import TelemetryCore

/// Records <-> `ColumnarRecords` (protocol/PROTOCOL.md, "Columnar records"): one message per
/// field name instead of one per value, with vehicle ids and providers in dictionaries.
package enum Columnar {
    /// One row as the builder takes it.
    package struct Row {
        package var vehicle: String
        package var timestamp: Int64
        package var provider: String
        package var fields: [Field]
        package var gatewaySequence: UInt64? = nil
        package var mappingVersion: String? = nil
        package var receivedAt: Int64? = nil
        /// Set by `decode` when the vehicle id is valid.
        package var id: VehicleID? = nil
    }

    /// Provider records as columns (what a client sends).
    package static func encode(_ records: some Collection<ProviderRecord>) -> Telemetry_V1_ColumnarRecords {
        encode(rows: records.map { Row(vehicle: $0.vehicle.rawValue, timestamp: $0.timestamp, provider: $0.provider, fields: $0.fields, gatewaySequence: $0.gatewaySequence) })
    }

    /// Stored records as columns, with their provenance (what the server answers).
    package static func encode(_ records: some Collection<TelemetryRecord>) -> Telemetry_V1_ColumnarRecords {
        encode(rows: records.map {
            Row(
                vehicle: $0.vehicle.rawValue, timestamp: $0.timestamp, provider: $0.provenance.provider, fields: $0.fields,
                mappingVersion: $0.provenance.mappingVersion, receivedAt: $0.provenance.receivedAt)
        })
    }

    package static func encode(rows: [Row]) -> Telemetry_V1_ColumnarRecords {
        var out = Telemetry_V1_ColumnarRecords()
        var vehicles = Dictionary(minimumCapacity: 16) as [String: UInt32]
        var providers = [String: UInt32]()
        var versions = [String: UInt32]()
        var columns = [ColumnAccumulator]()
        var columnIndex = [String: Int]()
        var previousLayout = [Int]()
        out.timestampsMs.reserveCapacity(rows.count)
        out.vehicleIndex.reserveCapacity(rows.count)
        let hasSequences = rows.contains { $0.gatewaySequence != nil }
        let hasProvenance = rows.contains { $0.mappingVersion != nil }
        for (r, row) in rows.enumerated() {
            out.timestampsMs.append(row.timestamp)
            out.vehicleIndex.append(out.vehicleIds.dictionaryIndex(of: row.vehicle, positions: &vehicles))
            out.providerIndex.append(out.providers.dictionaryIndex(of: row.provider, positions: &providers))
            if hasSequences { out.gatewaySequences.append(row.gatewaySequence ?? 0) }
            if hasProvenance {
                out.mappingVersionIndex.append(out.mappingVersions.dictionaryIndex(of: row.mappingVersion ?? "", positions: &versions))
                out.receivedAtMs.append(row.receivedAt ?? 0)
            }
            // Rows of one source share their field layout: when the names match the previous
            // row's, its column indexes are reused instead of hashing every name again.
            let sameLayout = row.fields.count == previousLayout.count
                && zip(row.fields, previousLayout).allSatisfy { $0.name == columns[$1].name }
            if !sameLayout { previousLayout.removeAll(keepingCapacity: true) }
            for (j, field) in row.fields.enumerated() {
                let c: Int
                if sameLayout {
                    c = previousLayout[j]
                } else if let known = columnIndex[field.name] {
                    c = known
                    previousLayout.append(c)
                } else {
                    c = columns.count
                    columnIndex[field.name] = c
                    columns.append(ColumnAccumulator(name: field.name))
                    previousLayout.append(c)
                }
                columns[c].append(row: UInt32(r), field.value)
            }
        }
        // A single dictionary entry needs no per-row index.
        if out.vehicleIds.count == 1 { out.vehicleIndex = [] }
        if out.providers.count == 1 { out.providerIndex = [] }
        if out.mappingVersions.count == 1 { out.mappingVersionIndex = [] }
        out.columns = columns.map { $0.build(rowCount: rows.count).wire }
        return out
    }

    /// A store's answer as columns: the same message `encode(_:)` makes of its records.
    package static func encode(_ columns: RecordColumns) -> Telemetry_V1_ColumnarRecords {
        var out = Telemetry_V1_ColumnarRecords()
        out.timestampsMs = columns.timestamps
        if columns.count > 0 {
            out.vehicleIds = [columns.vehicle.rawValue]
            out.providers = columns.providers
            if columns.providers.count > 1 { out.providerIndex = columns.providerIndex }
            out.mappingVersions = columns.mappingVersions
            if columns.mappingVersions.count > 1 { out.mappingVersionIndex = columns.mappingVersionIndex }
            out.receivedAtMs = columns.receivedAt
        }
        out.columns = columns.columns.map(\.wire)
        return out
    }

    // MARK: - Decoding

    /// The rows of a columnar message, checked. Structural damage (lists of the wrong
    /// length, an index out of range, a duplicate column) refuses the whole message;
    /// a bad row (invalid vehicle id, no fields) is refused alone.
    package struct Decoded {
        package var rows: [Row]
        /// Rows refused, with why; their `rows` entry is a placeholder.
        package var rejected: [Int: StatusError]
    }

    package static func decode(_ c: Telemetry_V1_ColumnarRecords) throws(StatusError) -> Decoded {
        let n = c.timestampsMs.count
        try checkRows(c)
        // Dictionary entries are checked once each, not once per row.
        var vehicleIDs = [VehicleID?]()
        let vehicleErrors: [String?] = c.vehicleIds.map { id in
            do {
                vehicleIDs.append(try VehicleID(id))
                return nil
            } catch {
                vehicleIDs.append(nil)
                return "vehicle_id: \(error)"
            }
        }
        let providerErrors: [String?] = c.providers.map { p in
            if p.isEmpty { return "provider is empty" }
            if p.utf8.count > WireLimits.maxProviderBytes { return "provider is longer than \(WireLimits.maxProviderBytes) bytes" }
            return nil
        }
        var rows = [Row]()
        rows.reserveCapacity(n)
        for i in 0..<n {
            let v = c.vehicleIndex.isEmpty ? 0 : Int(c.vehicleIndex[i])
            let p = c.providerIndex.isEmpty ? 0 : Int(c.providerIndex[i])
            var row = Row(vehicle: c.vehicleIds[v], timestamp: c.timestampsMs[i], provider: c.providers[p], fields: [])
            row.id = vehicleIDs[v]
            row.fields.reserveCapacity(c.columns.count)
            if !c.gatewaySequences.isEmpty, c.gatewaySequences[i] != 0 { row.gatewaySequence = c.gatewaySequences[i] }
            if !c.mappingVersions.isEmpty {
                row.mappingVersion = c.mappingVersions[c.mappingVersionIndex.isEmpty ? 0 : Int(c.mappingVersionIndex[i])]
            }
            if !c.receivedAtMs.isEmpty { row.receivedAt = c.receivedAtMs[i] }
            rows.append(row)
        }
        var names = Set<String>(minimumCapacity: c.columns.count)
        if c.columns.allSatisfy({ $0.rows.isEmpty }) {
            // Every column has a value in every row (a gateway's usual batch): filled row by
            // row from arrays read out of the message once, instead of column by column, which
            // walks all rows once per column.
            for (k, column) in c.columns.enumerated() { try checkColumn(column, at: k, rowCount: n, names: &names) }
            let sources = c.columns.map { (name: $0.name, values: values(of: $0)) }
            for i in 0..<n {
                for source in sources { rows[i].fields.append(Field(source.name, source.values[i])) }
            }
        } else {
            try fillColumnByColumn(c, rows: &rows, names: &names)
        }
        var rejected = [Int: StatusError]()
        for i in 0..<n {
            let v = c.vehicleIndex.isEmpty ? 0 : Int(c.vehicleIndex[i])
            let p = c.providerIndex.isEmpty ? 0 : Int(c.providerIndex[i])
            if let e = vehicleErrors[v] {
                rejected[i] = StatusError(.invalidArgument, e)
            } else if let e = providerErrors[p] {
                rejected[i] = StatusError(.invalidArgument, e)
            } else if rows[i].fields.isEmpty {
                rejected[i] = StatusError(.invalidArgument, "record has no fields")
            }
        }
        return Decoded(rows: rows, rejected: rejected)
    }
}

extension Columnar {
    /// Fills `rows` column by column: the general case, where columns may name their rows.
    private static func fillColumnByColumn(
        _ c: Telemetry_V1_ColumnarRecords, rows: inout [Row], names: inout Set<String>
    ) throws(StatusError) {
        let n = c.timestampsMs.count
        for (k, column) in c.columns.enumerated() {
            try checkColumn(column, at: k, rowCount: n, names: &names)
            func row(_ j: Int) -> Int { column.rows.isEmpty ? j : Int(column.rows[j]) }
            if !column.doubles.isEmpty {
                for (j, d) in column.doubles.enumerated() { rows[row(j)].fields.append(Field(column.name, .double(d))) }
            } else if !column.ints.isEmpty {
                for (j, x) in column.ints.enumerated() { rows[row(j)].fields.append(Field(column.name, .int(x))) }
            } else if !column.bools.isEmpty {
                for (j, b) in column.bools.enumerated() { rows[row(j)].fields.append(Field(column.name, .bool(b))) }
            } else if !column.strings.isEmpty {
                for (j, s) in column.strings.enumerated() { rows[row(j)].fields.append(Field(column.name, .string(s))) }
            } else if !column.bytesValues.isEmpty {
                for (j, b) in column.bytesValues.enumerated() { rows[row(j)].fields.append(Field(column.name, .bytes(Array(b)))) }
            } else {
                for (j, v) in column.values.enumerated() { rows[row(j)].fields.append(Field(column.name, FieldValue(wire: v))) }
            }
        }
    }

    /// A checked column's values, from whichever list holds them.
    static func values(of column: Telemetry_V1_Column) -> ColumnValues {
        if !column.doubles.isEmpty { return .doubles(column.doubles) }
        if !column.ints.isEmpty { return .ints(column.ints) }
        if !column.bools.isEmpty { return .bools(column.bools) }
        if !column.strings.isEmpty { return .strings(column.strings) }
        if !column.bytesValues.isEmpty { return .bytes(column.bytesValues.map { Array($0) }) }
        return .mixed(column.values.map(FieldValue.init(wire:)))
    }

    /// The message-wide checks: per-row lists of the row count, dictionaries present and
    /// indexes into them in range.
    static func checkRows(_ c: Telemetry_V1_ColumnarRecords) throws(StatusError) {
        let n = c.timestampsMs.count
        func check(_ count: Int, _ name: String, optionalWhen single: Bool) throws(StatusError) {
            guard count == n || (count == 0 && single) else {
                throw StatusError(.invalidArgument, "columnar.\(name) has \(count) entries for \(n) rows")
            }
        }
        try check(c.vehicleIndex.count, "vehicle_index", optionalWhen: c.vehicleIds.count == 1)
        try check(c.providerIndex.count, "provider_index", optionalWhen: c.providers.count == 1)
        try check(c.gatewaySequences.count, "gateway_sequences", optionalWhen: true)
        try check(c.mappingVersionIndex.count, "mapping_version_index", optionalWhen: c.mappingVersions.count <= 1)
        try check(c.receivedAtMs.count, "received_at_ms", optionalWhen: true)
        if n > 0 && c.vehicleIds.isEmpty { throw StatusError(.invalidArgument, "columnar.vehicle_ids is empty") }
        if n > 0 && c.providers.isEmpty { throw StatusError(.invalidArgument, "columnar.providers is empty") }
        if let bad = c.vehicleIndex.first(where: { Int($0) >= c.vehicleIds.count }) {
            throw StatusError(.invalidArgument, "columnar.vehicle_index \(bad) is out of range (\(c.vehicleIds.count) vehicle ids)")
        }
        if let bad = c.providerIndex.first(where: { Int($0) >= c.providers.count }) {
            throw StatusError(.invalidArgument, "columnar.provider_index \(bad) is out of range (\(c.providers.count) providers)")
        }
        if let bad = c.mappingVersionIndex.first(where: { Int($0) >= c.mappingVersions.count }) {
            throw StatusError(.invalidArgument, "columnar.mapping_version_index \(bad) is out of range")
        }
    }

    /// A column's checks: a valid, unique name; ascending rows below `rowCount`; its values
    /// in exactly one list, one per row that has the field.
    static func checkColumn(_ column: Telemetry_V1_Column, at k: Int, rowCount n: Int, names: inout Set<String>) throws(StatusError) {
        let at = "columnar.columns[\(k)]"
        guard !column.name.isEmpty else { throw StatusError(.invalidArgument, "\(at): field name is empty") }
        guard column.name.utf8.count <= WireLimits.maxFieldNameBytes else {
            throw StatusError(.invalidArgument, "\(at): field name is longer than \(WireLimits.maxFieldNameBytes) bytes")
        }
        guard names.insert(column.name).inserted else {
            throw StatusError(.invalidArgument, "\(at): duplicate field \"\(column.name)\"")
        }
        let present = column.rows.isEmpty ? n : column.rows.count
        var previous = -1
        for r in column.rows {
            guard Int(r) < n, Int(r) > previous else {
                throw StatusError(.invalidArgument, "\(at).rows must be ascending row indexes below \(n)")
            }
            previous = Int(r)
        }
        let lists = [column.doubles.count, column.ints.count, column.bools.count, column.strings.count, column.bytesValues.count, column.values.count]
        guard lists.filter({ $0 > 0 }).count <= 1, lists.reduce(0, +) == present else {
            throw StatusError(.invalidArgument, "\(at) (\"\(column.name)\") must hold \(present) values in exactly one list")
        }
    }

    /// A range answer's columns for `vehicle`, checked like `decode` and kept as columns.
    /// - Throws: `StatusError` `.internal` when the answer holds another vehicle's records,
    ///   `.invalidArgument` for a malformed message.
    package static func decodeColumns(_ c: Telemetry_V1_ColumnarRecords, vehicle: VehicleID) throws(StatusError) -> RecordColumns {
        try checkRows(c)
        let n = c.timestampsMs.count
        var out = RecordColumns(vehicle: vehicle, timestamps: c.timestampsMs)
        guard n > 0 else { return out }
        if let other = c.vehicleIds.first(where: { $0 != vehicle.rawValue }) {
            throw StatusError(.internal, "the server answered a query of vehicle \(vehicle) with records of vehicle \"\(other)\"")
        }
        out.providers = c.providers
        if c.providers.count > 1 { out.providerIndex = c.providerIndex }
        // Provenance is optional on the wire; absent, it reads as "" and 0, as `decode` gives it.
        out.mappingVersions = c.mappingVersions.isEmpty ? [""] : c.mappingVersions
        if c.mappingVersions.count > 1 { out.mappingVersionIndex = c.mappingVersionIndex }
        out.receivedAt = c.receivedAtMs.isEmpty ? [Int64](repeating: 0, count: n) : c.receivedAtMs
        var names = Set<String>(minimumCapacity: c.columns.count)
        out.columns.reserveCapacity(c.columns.count)
        for (k, column) in c.columns.enumerated() {
            try checkColumn(column, at: k, rowCount: n, names: &names)
            out.columns.append(FieldColumn(name: column.name, rows: column.rows.isEmpty ? nil : column.rows, values: values(of: column)))
        }
        return out
    }
}

extension FieldColumn {
    /// The column as it travels.
    package var wire: Telemetry_V1_Column {
        var out = Telemetry_V1_Column()
        out.name = name
        if let rows { out.rows = rows }
        switch values {
        case .doubles(let v): out.doubles = v
        case .ints(let v): out.ints = v
        case .bools(let v): out.bools = v
        case .strings(let v): out.strings = v
        case .bytes(let v): out.bytesValues = v.map { Data($0) }
        case .mixed(let v): out.values = v.map(\.wire)
        }
        return out
    }
}

extension Columnar.Row {
    /// The row as a provider record; nil for a row whose vehicle id `decode` refused.
    package var providerRecord: ProviderRecord? {
        id.map { ProviderRecord(vehicle: $0, timestamp: timestamp, provider: provider, fields: fields, gatewaySequence: gatewaySequence) }
    }

    /// The row as a stored record (an answer from the server).
    package func telemetryRecord() throws(StatusError) -> TelemetryRecord {
        // `decode` validated each distinct vehicle id once; a row it refused has no id.
        guard let id else { throw StatusError(.internal, "server sent an invalid vehicle id \"\(vehicle)\"") }
        return TelemetryRecord(
            vehicle: id, timestamp: timestamp, fields: fields,
            provenance: Provenance(provider: provider, mappingVersion: mappingVersion ?? "", receivedAt: receivedAt ?? 0))
    }
}
