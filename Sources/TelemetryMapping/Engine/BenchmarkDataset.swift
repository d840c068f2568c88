public import TelemetryCore

/// The benchmark dataset (`../shared/bench/peers/gen_dataset.py`, `telemetry.lp`) expressed as
/// Navixy packets, so the load generator and `telemetry-mapping-bench` can measure ingest with
/// the default Navixy mapping on the same records as with the identity mapping.
///
/// Each of the dataset's 12 fields becomes the Navixy field the default `navixy.yaml` reads
/// for that quantity, in the unit Navixy sends it: root keys for the position fix, `params.*`
/// for the CAN and I/O elements: `battery_v` and `engine_rpm` become Navixy's `board_voltage`
/// (volts) and `can_rpm`, which the default mapping reads since `1.0.6-telemetrystore.2`.
public enum BenchmarkDataset {
    /// Dataset field name -> Navixy field name, in the dataset's column order.
    public static let navixyFieldNames: [(dataset: String, navixy: String)] = [
        ("lat", "lat"), ("lon", "lng"), ("speed_kmh", "speed"), ("heading_deg", "heading"), ("altitude_m", "alt"),
        ("odometer_km", "params.can_mileage"),  // km: odometer_value source 2
        ("fuel_level_pct", "params.can_fuel_1"),  // percent: derive_fuel_levels
        ("battery_v", "params.board_voltage"), ("engine_rpm", "params.can_rpm"),
        ("ignition", "params.avl_io_239"),  // 0/1: ignition_value source 1
        ("satellites", "satellites"), ("hdop", "hdop"),
    ]

    private static let navixyName: [String: String] = Dictionary(
        uniqueKeysWithValues: navixyFieldNames.map { ($0.dataset, $0.navixy) })

    /// A dataset record (line protocol, any provider) as the Navixy packet a tracker would
    /// have sent: provider `navixy`, same vehicle and time, fields renamed per
    /// `navixyFieldNames`, booleans as 0/1 (Navixy's AVL elements are numbers). A field the
    /// dataset does not define keeps its name.
    /// - Parameter record: a record as `RecordFileReader` reads `telemetry.lp`.
    /// - Returns: the Navixy-shaped record.
    public static func navixyRecord(from record: ProviderRecord) -> ProviderRecord {
        var fields: [Field] = []
        fields.reserveCapacity(record.fields.count)
        for f in record.fields {
            let value: FieldValue
            if case .bool(let b) = f.value { value = .int(b ? 1 : 0) } else { value = f.value }
            fields.append(Field(navixyName[f.name] ?? f.name, value))
        }
        return ProviderRecord(
            vehicle: record.vehicle, timestamp: record.timestamp, provider: "navixy", fields: fields,
            gatewaySequence: record.gatewaySequence)
    }
}
