package import TelemetryCore

/// Limits on names that are checked where records enter the store.
package enum WireLimits {
    /// Longest field name, in UTF-8 bytes.
    package static let maxFieldNameBytes = 255
    /// Longest provider name, in UTF-8 bytes.
    package static let maxProviderBytes = 64
}

extension ProviderRecord {
    /// Validates a record from the wire.
    /// - Throws: `StatusError` (INVALID_ARGUMENT) whose message names the offending part,
    ///   e.g. `vehicle_id: vehicle id is empty` or `fields[2]: duplicate field "speed"`.
    package init(validating wire: Telemetry_V1_ProviderRecord) throws(StatusError) {
        let vehicle: VehicleID
        do { vehicle = try VehicleID(wire.vehicleID) } catch {
            throw StatusError(.invalidArgument, "vehicle_id: \(error)")
        }
        guard !wire.provider.isEmpty else { throw StatusError(.invalidArgument, "provider is empty") }
        guard wire.provider.utf8.count <= WireLimits.maxProviderBytes else {
            throw StatusError(.invalidArgument, "provider is longer than \(WireLimits.maxProviderBytes) bytes")
        }
        guard !wire.fields.isEmpty else { throw StatusError(.invalidArgument, "record has no fields") }
        var fields = [Field]()
        fields.reserveCapacity(wire.fields.count)
        // Records carry a dozen fields: comparing names pairwise is cheaper than hashing them;
        // a wide record falls back to a set.
        var seen: Set<String>? = wire.fields.count > 32 ? Set(minimumCapacity: wire.fields.count) : nil
        for (i, f) in wire.fields.enumerated() {
            guard !f.name.isEmpty else { throw StatusError(.invalidArgument, "fields[\(i)]: field name is empty") }
            guard f.name.utf8.count <= WireLimits.maxFieldNameBytes else {
                throw StatusError(.invalidArgument, "fields[\(i)]: field name is longer than \(WireLimits.maxFieldNameBytes) bytes")
            }
            let duplicate: Bool
            if seen != nil {
                duplicate = !seen!.insert(f.name).inserted
            } else {
                duplicate = fields.contains { $0.name == f.name }
            }
            guard !duplicate else { throw StatusError(.invalidArgument, "fields[\(i)]: duplicate field \"\(f.name)\"") }
            fields.append(Field(wire: f))
        }
        self.init(
            vehicle: vehicle, timestamp: wire.timestampMs, provider: wire.provider, fields: fields,
            gatewaySequence: wire.hasGatewaySequence && wire.gatewaySequence > 0 ? wire.gatewaySequence : nil)
    }

    package var wire: Telemetry_V1_ProviderRecord {
        var out = Telemetry_V1_ProviderRecord()
        out.vehicleID = vehicle.rawValue
        out.timestampMs = timestamp
        out.provider = provider
        out.fields = fields.map(\.wire)
        if let gatewaySequence { out.gatewaySequence = gatewaySequence }
        return out
    }
}

extension TelemetryRecord {
    package var wire: Telemetry_V1_Record {
        var out = Telemetry_V1_Record()
        out.vehicleID = vehicle.rawValue
        out.timestampMs = timestamp
        out.fields = fields.map(\.wire)
        out.provenance.provider = provenance.provider
        out.provenance.mappingVersion = provenance.mappingVersion
        out.provenance.receivedAtMs = provenance.receivedAt
        return out
    }

    /// A record from a server's answer.
    /// - Throws: `StatusError` (INTERNAL) when the server sent an invalid vehicle id.
    package init(wire: Telemetry_V1_Record) throws(StatusError) {
        let vehicle: VehicleID
        do { vehicle = try VehicleID(wire.vehicleID) } catch {
            throw StatusError(.internal, "server sent a record with an invalid vehicle id: \(error)")
        }
        self.init(
            vehicle: vehicle, timestamp: wire.timestampMs, fields: wire.fields.map(Field.init(wire:)),
            provenance: Provenance(
                provider: wire.provenance.provider, mappingVersion: wire.provenance.mappingVersion,
                receivedAt: wire.provenance.receivedAtMs))
    }
}

extension LatestState {
    package var wire: Telemetry_V1_LatestState {
        var out = Telemetry_V1_LatestState()
        out.vehicleID = vehicle.rawValue
        out.timestampMs = timestamp
        out.fields = fields.map { f in
            var w = Telemetry_V1_LatestField()
            w.name = f.name
            w.value = f.value.wire
            w.timestampMs = f.timestamp
            return w
        }
        return out
    }

    package init(wire: Telemetry_V1_LatestState) throws(StatusError) {
        let vehicle: VehicleID
        do { vehicle = try VehicleID(wire.vehicleID) } catch {
            throw StatusError(.internal, "server sent a latest state with an invalid vehicle id: \(error)")
        }
        self.init(
            vehicle: vehicle, timestamp: wire.timestampMs,
            fields: wire.fields.map { LatestField(name: $0.name, value: FieldValue(wire: $0.value), timestamp: $0.timestampMs) })
    }
}

extension AggregateBucket {
    package var wire: Telemetry_V1_Bucket {
        var out = Telemetry_V1_Bucket()
        out.startMs = start
        out.fields = fields.map { f in
            var w = Telemetry_V1_FieldAggregate()
            w.field = f.field
            w.count = f.count
            w.min = f.min
            w.max = f.max
            w.sum = f.sum
            w.avg = f.average
            w.first = f.first
            w.last = f.last
            if let exact = f.integers {
                w.integers.min = exact.min
                w.integers.max = exact.max
                w.integers.sum = exact.sum
                w.integers.first = exact.first
                w.integers.last = exact.last
            }
            return w
        }
        return out
    }

    package init(wire: Telemetry_V1_Bucket) {
        self.init(
            start: wire.startMs,
            fields: wire.fields.map {
                FieldAggregate(
                    field: $0.field, count: $0.count, min: $0.min, max: $0.max, sum: $0.sum, first: $0.first, last: $0.last,
                    integers: $0.hasIntegers
                        ? IntegerAggregate(
                            min: $0.integers.min, max: $0.integers.max, sum: $0.integers.sum, first: $0.integers.first,
                            last: $0.integers.last)
                        : nil)
            })
    }
}

extension VehicleSummary {
    package var wire: Telemetry_V1_VehicleSummary {
        var out = Telemetry_V1_VehicleSummary()
        out.vehicleID = vehicle.rawValue
        out.firstTimestampMs = firstTimestamp
        out.lastTimestampMs = lastTimestamp
        out.recordCount = recordCount
        return out
    }

    package init(wire: Telemetry_V1_VehicleSummary) throws(StatusError) {
        let vehicle: VehicleID
        do { vehicle = try VehicleID(wire.vehicleID) } catch {
            throw StatusError(.internal, "server sent a vehicle summary with an invalid vehicle id: \(error)")
        }
        self.init(vehicle: vehicle, firstTimestamp: wire.firstTimestampMs, lastTimestamp: wire.lastTimestampMs, recordCount: wire.recordCount)
    }
}

extension Telemetry_V1_Status {
    package init(_ code: StatusCode, _ message: String) {
        self.init()
        self.code = UInt32(code.rawValue)
        self.message = message
    }

    /// The status as a domain value; an unknown code number counts as UNKNOWN.
    package var statusCode: StatusCode { StatusCode(rawValue: UInt8(clamping: code)) ?? .unknown }
}

extension Durability {
    package var wire: Telemetry_V1_Durability {
        switch self {
        case .buffered: return .buffered
        case .sync: return .synced
        }
    }
}
