import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

/// The three shared Fleeti mapping files load unchanged and map a packet built from the
/// Navixy catalog's example values. Skipped when ../shared/fleeti is absent.
@Suite(.enabled(if: SharedFleeti.isAvailable, "needs ../shared/fleeti"))
struct SharedFleetiFilesTests {
    @Test(arguments: SharedFleeti.mappingFiles)
    func sharedFileLoadsWithoutErrors(file: String, version: String) throws {
        let validated = try ValidatedMapping.load(
            yaml: try SharedFleeti.text(file), file: file, catalog: Fixtures.catalog)
        #expect(validated.file.version.description == version)
        #expect(validated.file.provider == "navixy")
        #expect(validated.warnings.filter { $0.severity == .error }.isEmpty)
        // Every mapping name the files use is in the project's catalog.
        #expect(
            validated.warnings.filter { $0.reason.contains("not in the field catalog") }.isEmpty,
            "\(validated.warnings)")
        #expect(validated.evaluationOrder.count == validated.file.mappings.count)
    }

    /// SPEC section 6 says 40, 41 and 57; the files hold 40, 42 and 58 (1.0.2 adds two
    /// mappings, geofences and sensors.environment[], and 1.0.3 keeps both).
    @Test func mappingCounts() throws {
        let counts = try SharedFleeti.mappingFiles.map { file, _ in
            try ValidatedMapping.load(yaml: try SharedFleeti.text(file), file: file, catalog: Fixtures.catalog).file
                .mappings.count
        }
        #expect(counts == [40, 42, 58])
    }

    /// 1.0.1 lists top_status_family before the family codes it reads: order comes from the
    /// dependencies, not the file.
    @Test func unsortedFileIsEvaluatedInDependencyOrder() throws {
        let v = try ValidatedMapping.load(
            yaml: try SharedFleeti.text("navixy-mapping-2025-12-22.yaml"), file: "1.0.1", catalog: Fixtures.catalog)
        let order = v.evaluationOrder.map { v.fieldNames[$0] }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        #expect(position["top_status_family"]! > position["statuses_transit_code"]!)
        #expect(position["statuses_transit_code"]! > position["ignition_value"]!)
        #expect(position["ignition_value"]! > position["inputs_individual_input_1"]!)
        #expect(position["location_last_changed_at"]! > position["last_updated_at"]!)
    }

    @Test(arguments: SharedFleeti.mappingFiles)
    func mapsTheCatalogExamplePacket(file: String, version: String) throws {
        let engine = MappingEngine(
            mapping: try ValidatedMapping.load(
                yaml: try SharedFleeti.text(file), file: file, catalog: Fixtures.catalog),
            catalog: Fixtures.catalog)
        let record = try NavixyCatalogPacket.record()
        var state = VehicleMappingState()
        let outcome = engine.map(record, state: &state, receivedAt: record.timestamp + 60_000)
        let mapped = try #require(outcome.record, "\(outcome)")
        #expect(mapped.mappingVersion == version)
        #expect(mapped["location_latitude"] == .double(14.7407))
        #expect(mapped["location_longitude"] == .double(-17.5091))
        #expect(mapped["location_heading"] == .int(347))
        #expect(mapped["location_cardinal_direction"] == .string("N"))
        #expect(mapped["speed"] == .int(26))  // can_speed wins
        #expect(mapped["last_updated_at"] == .int(record.timestamp))
        #expect(mapped["outputs_individual_output_1"] == .bool(false))  // outputs = 2
        #expect(mapped["outputs_individual_output_2"] == .bool(true))
        #expect(mapped["inputs_individual_input_1"] == .bool(true))  // no root inputs: avl_io_1
        #expect(mapped["statuses_connectivity_code"] == .string("online"))
        #expect(mapped["statuses_transit_code"] == .string("in_transit"))
        #expect(mapped["top_status_family"] == .string("transit"))
        #expect(mapped["top_status_code"] == .string("in_transit"))
        #expect(mapped["statuses_engine_compatible"] == .bool(false))
        #expect(mapped["statuses_engine_code"] == nil)  // incompatible: null, left out
        if version == "1.0.3" {
            #expect(mapped["odometer_value"] == .double(82624))  // avl_io_87 in metres
            #expect(mapped["remaining_range"] == .double(415))
            #expect(mapped["fuel_consumption_cumulative"] == .double(211_000.5))  // divide_by_10(avl_io_83)
            #expect(mapped["fuel_tank_level_value"] == .double(86))
            #expect(mapped["fuel_tank_level_value_unit"] == .string("%"))
            #expect(mapped["dtc_count"] == .int(0))
            #expect(mapped["driver_key"] != nil)
            let environment = try #require(mapped["environment"])
            guard case .array(let probes) = environment else {
                Issue.record("environment is not an array")
                return
            }
            let dallas = probes.first { $0[key: "id"] == .string("dallas_1") }
            #expect(dallas?[key: "temperature"] == .double(18.5))
            let ble = probes.first { $0[key: "id"] == .string("ble_1") }
            // avl_io_25 = 3000 is Teltonika's "sensor not found"; ble_temp_sensor_1 = -217.5 is out of range.
            #expect(ble?[key: "temperature"] == nil)
            #expect(ble?[key: "humidity"] == .double(7.8))
            let magnets = try #require(mapped["magnet"])
            guard case .array(let m) = magnets else { return }
            #expect(m.count == 3)
        }
        #expect(mapped.fieldErrors.isEmpty, "\(mapped.fieldErrors)")
    }

    /// The project's default Navixy mapping computes every field version 1.0.3 computes.
    @Test func defaultNavixyMappingCoversVersion103() throws {
        let shared = try ValidatedMapping.load(
            yaml: try SharedFleeti.text("navixy-mapping-2026-01-02.yaml"), file: "1.0.3", catalog: Fixtures.catalog)
        let ours = try Fixtures.defaultEngine()
        #expect(Set(shared.fieldNames).isSubset(of: Set(ours.mapping.fieldNames)))
    }
}

/// A Navixy packet built from `navixy-field-catalog.csv`'s example values (read in place).
enum NavixyCatalogPacket {
    static let rootKeys: Set<String> = [
        "lat", "lng", "alt", "speed", "heading", "satellites", "hdop", "pdop", "inputs", "outputs", "adc", "ibutton",
        "msg_time", "server_time",
    ]

    static func record() throws -> ProviderRecord {
        let rows = CSV.parse(try SharedFleeti.text("navixy-field-catalog.csv"))
        let header = rows[0]
        let name = try #require(header.firstIndex(of: "provider_name"))
        let example = try #require(header.firstIndex(of: "analysis_source_example"))
        var fields: [Field] = []
        var time: Int64 = Fixtures.t0
        for row in rows.dropFirst() where row.count > max(name, example) {
            let key = row[name]
            let text = row[example]
            guard !key.isEmpty, !text.isEmpty else { continue }
            if key == "msg_time" {
                time = DateTimeParsing.parseISO(text) ?? time
                continue
            }
            let value: FieldValue =
                Int64(text).map(FieldValue.int) ?? Double(text).map(FieldValue.double) ?? .string(text)
            fields.append(Field(rootKeys.contains(key) ? key : "params." + key, value))
        }
        return ProviderRecord(vehicle: Fixtures.vehicle(), timestamp: time, provider: "navixy", fields: fields)
    }
}

/// RFC 4180 CSV (quoted fields may hold commas, quotes and newlines).
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.replacingOccurrences(of: "\r\n", with: "\n"))
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field)
                field = ""
            } else if c == "\n" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.append(c)
            }
            i += 1
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
