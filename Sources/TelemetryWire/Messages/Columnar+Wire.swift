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
        var columns = [ColumnBuilder]()
        var columnIndex = [String: Int]()
        var previousLayout = [Int]()
        out.timestampsMs.reserveCapacity(rows.count)
        out.vehicleIndex.reserveCapacity(rows.count)
        let hasSequences = rows.contains { $0.gatewaySequence != nil }
        let hasProvenance = rows.contains { $0.mappingVersion != nil }
        for (r, row) in rows.enumerated() {
            out.timestampsMs.append(row.timestamp)
            out.vehicleIndex.append(index(of: row.vehicle, in: &vehicles, list: &out.vehicleIds))
            out.providerIndex.append(index(of: row.provider, in: &providers, list: &out.providers))
            if hasSequences { out.gatewaySequences.append(row.gatewaySequence ?? 0) }
            if hasProvenance {
                out.mappingVersionIndex.append(index(of: row.mappingVersion ?? "", in: &versions, list: &out.mappingVersions))
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
                    columns.append(ColumnBuilder(name: field.name))
                    previousLayout.append(c)
                }
                columns[c].append(row: UInt32(r), field.value)
            }
        }
        // A single dictionary entry needs no per-row index.
        if out.vehicleIds.count == 1 { out.vehicleIndex = [] }
        if out.providers.count == 1 { out.providerIndex = [] }
        if out.mappingVersions.count == 1 { out.mappingVersionIndex = [] }
        out.columns = columns.map { $0.build(rowCount: rows.count) }
        return out
    }

    private static func index(of text: String, in dictionary: inout [String: UInt32], list: inout [String]) -> UInt32 {
        if let i = dictionary[text] { return i }
        let i = UInt32(list.count)
        dictionary[text] = i
        list.append(text)
        return i
    }

    /// Collects one column, staying typed while every value has the same type.
    private struct ColumnBuilder {
        enum Kind { case empty, doubles, ints, bools, strings, bytes, mixed }
        var name: String
        var kind = Kind.empty
        var rows: [UInt32] = []
        var column = Telemetry_V1_Column()
        var mixed: [FieldValue] = []

        init(name: String) {
            self.name = name
            column.name = name
        }

        mutating func append(row: UInt32, _ value: FieldValue) {
            rows.append(row)
            switch (kind, value) {
            case (.empty, .double), (.doubles, .double):
                kind = .doubles
                if case .double(let d) = value { column.doubles.append(d) }
            case (.empty, .int), (.ints, .int):
                kind = .ints
                if case .int(let i) = value { column.ints.append(i) }
            case (.empty, .bool), (.bools, .bool):
                kind = .bools
                if case .bool(let b) = value { column.bools.append(b) }
            case (.empty, .string), (.strings, .string):
                kind = .strings
                if case .string(let s) = value { column.strings.append(s) }
            case (.empty, .bytes), (.bytes, .bytes):
                kind = .bytes
                if case .bytes(let b) = value { column.bytesValues.append(Data(b)) }
            case (.mixed, _):
                mixed.append(value)
            default:
                // A second type (or null, or an array): the column keeps every value tagged.
                mixed = typedValues() + [value]
                kind = .mixed
            }
        }

        private func typedValues() -> [FieldValue] {
            switch kind {
            case .empty, .mixed: return mixed
            case .doubles: return column.doubles.map { .double($0) }
            case .ints: return column.ints.map { .int($0) }
            case .bools: return column.bools.map { .bool($0) }
            case .strings: return column.strings.map { .string($0) }
            case .bytes: return column.bytesValues.map { .bytes(Array($0)) }
            }
        }

        func build(rowCount: Int) -> Telemetry_V1_Column {
            var out = column
            if kind == .mixed {
                out = Telemetry_V1_Column()
                out.name = name
                out.values = mixed.map(\.wire)
            }
            if rows.count != rowCount { out.rows = rows }
            return out
        }
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
        for (k, column) in c.columns.enumerated() {
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
