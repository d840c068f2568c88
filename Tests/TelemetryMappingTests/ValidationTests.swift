import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

/// Validation before activation: every problem, with file, mapping and reason.
struct ValidationTests {
    static let good = """
          location_heading:
            type: direct
            sources: [{field: heading, path: heading, unit: degrees}]
            unit: degrees
            data_type: number

        """

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let body: String
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "unknown function",
            body: """
                  statuses_engine_code:
                    type: calculated
                    function: derive_foo
                    data_type: string

                """, expected: "test.yaml: mapping statuses_engine_code: unknown function derive_foo"),
        Case(
            name: "unknown unit",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, path: speed, unit: furlongs_per_fortnight}]
                    unit: km/h
                    data_type: number

                """, expected: "test.yaml: mapping speed: source: unknown unit furlongs_per_fortnight"),
        Case(
            name: "unknown target unit",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, path: speed, unit: km/h}]
                    unit: parsecs
                    data_type: number

                """, expected: "test.yaml: mapping speed: unknown unit parsecs"),
        Case(
            name: "no conversion to the target",
            body: """
                  odometer_value:
                    type: direct
                    sources: [{field: avl_io_449, path: params.avl_io_449, unit: seconds}]
                    unit: km
                    data_type: number

                """, expected: "test.yaml: mapping odometer_value: source: unit seconds has no conversion to km"),
        Case(
            name: "calibration units need a function",
            body: """
                  fuel_tank_level_value:
                    type: direct
                    sources: [{field: avl_io_201, path: params.avl_io_201, unit: kvants}]
                    unit: liters
                    data_type: number

                """,
            expected:
                "test.yaml: mapping fuel_tank_level_value: source: unit kvants has no conversion to liters (calibration steps need a tank calibration table)"
        ),
        Case(
            name: "bad source path",
            body: """
                  speed:
                    type: direct
                    sources: [{field: can_speed, path: "params..can speed", unit: km/h}]
                    unit: km/h
                    data_type: number

                """, expected: "test.yaml: mapping speed: source: bad source path \"params..can speed\""),
        Case(
            name: "field does not match path",
            body: """
                  speed:
                    type: direct
                    sources: [{field: can_speed, path: params.obd_speed, unit: km/h}]
                    unit: km/h
                    data_type: number

                """, expected: "test.yaml: mapping speed: source: field can_speed does not match path params.obd_speed"),
        Case(
            name: "data type differs from the catalog",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, path: speed, unit: none}]
                    data_type: string

                """, expected: "test.yaml: mapping speed: data_type string differs from the catalog's number for speed"),
        Case(
            name: "data type differs from the function's",
            body: """
                  location_cardinal_direction:
                    type: calculated
                    function: derive_cardinal_direction
                    parameters: {fleeti: [location_heading]}
                    data_type: number

                """,
            expected:
                "test.yaml: mapping location_cardinal_direction: data_type number does not match function derive_cardinal_direction, which returns string"
        ),
        Case(
            name: "unit on a non-number",
            body: """
                  location_cardinal_direction:
                    type: calculated
                    function: derive_cardinal_direction
                    parameters: {fleeti: [location_heading]}
                    unit: km
                    data_type: string

                """,
            expected:
                "test.yaml: mapping location_cardinal_direction: unit km on a string field (units apply to numbers)"),
        Case(
            name: "unit differs from the catalog",
            body: """
                  location_altitude:
                    type: direct
                    sources: [{field: alt, path: alt, unit: meters}]
                    unit: km
                    data_type: number

                """,
            expected:
                "test.yaml: mapping location_altitude: unit km differs from the catalog's meters for location_altitude"),
        Case(
            name: "missing type",
            body: """
                  speed:
                    sources: [{field: speed, path: speed}]
                    data_type: number

                """, expected: "test.yaml: mapping speed: missing required key type"),
        Case(
            name: "missing data_type",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, path: speed}]

                """, expected: "test.yaml: mapping speed: missing required key data_type"),
        Case(
            name: "missing sources",
            body: """
                  speed:
                    type: prioritized
                    data_type: number

                """, expected: "test.yaml: mapping speed: missing required key sources"),
        Case(
            name: "missing path",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, unit: km/h}]
                    unit: km/h
                    data_type: number

                """, expected: "test.yaml: mapping speed: source 1: missing required key path"),
        Case(
            name: "unknown fleeti parameter",
            body: """
                  location_cardinal_direction:
                    type: calculated
                    function: derive_cardinal_direction
                    parameters: {fleeti: [location_bearing]}
                    data_type: string

                """,
            expected:
                "test.yaml: mapping location_cardinal_direction: parameter fleeti location_bearing is not mapped in this file"
        ),
        Case(
            name: "wrong parameter count",
            body: """
                  location_cardinal_direction:
                    type: calculated
                    function: derive_cardinal_direction
                    parameters: {fleeti: [location_heading, location_heading]}
                    data_type: string

                """,
            expected:
                "test.yaml: mapping location_cardinal_direction: function derive_cardinal_direction takes 1 fleeti parameters, got 2"
        ),
        Case(
            name: "transformed is unsupported",
            body: """
                  fuel_tank_level_value:
                    type: transformed
                    transformation: "(telemetry_field / 100) * static.tank_capacity"
                    data_type: number

                """,
            expected:
                "test.yaml: mapping fuel_tank_level_value: type transformed is not supported by this store (write it as a calculated function)"
        ),
        Case(
            name: "unknown type",
            body: """
                  speed:
                    type: mix
                    sources: [{field: speed, path: speed}]
                    data_type: number

                """,
            expected:
                "test.yaml: mapping speed: unknown type mix (direct, prioritized, calculated, transformed, io_mapped)"),
        Case(
            name: "direct with two sources",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, path: speed}, {field: obd_speed, path: params.obd_speed}]
                    data_type: number

                """,
            expected: "test.yaml: mapping speed: a direct mapping takes one source, found 2 (use type prioritized)"),
        Case(
            name: "repeated priority",
            body: """
                  speed:
                    type: prioritized
                    sources: [{priority: 1, field: speed, path: speed}, {priority: 1, field: obd_speed, path: params.obd_speed}]
                    data_type: number

                """, expected: "test.yaml: mapping speed: two sources have priority 1"),
        Case(
            name: "bit position missing",
            body: """
                  other_events_trip:
                    type: calculated
                    function: extract_bit_from_bitmask
                    parameters: {provider: {navixy: inputs}}
                    data_type: boolean

                """,
            expected:
                "test.yaml: mapping other_events_trip: function extract_bit_from_bitmask: needs static.bit_position (the field name other_events_trip ends with no input number)"
        ),
        Case(
            name: "unknown error handling",
            body: """
                  speed:
                    type: direct
                    sources: [{field: speed, path: speed}]
                    data_type: number
                    error_handling: ignore

                """,
            expected: "test.yaml: mapping speed: unknown error_handling ignore (return_null, use_fallback, fail_record)"
        ),
    ]

    @Test(arguments: cases)
    func reportsEachProblemClass(_ c: Case) {
        let problems = Fixtures.problems(Fixtures.mappingYAML(Self.good + c.body))
        #expect(problems.map(\.description).contains(c.expected), "\(problems.map(\.description))")
        #expect(problems.contains { $0.severity == .error })
    }

    /// One file with many problems reports all of them at once.
    @Test func reportsEveryProblemAtOnce() throws {
        let body = Self.cases.filter { !["missing type", "unknown type", "direct with two sources"].contains($0.name) }
            .enumerated().map { $1.body.replacingOccurrences(of: "  speed:", with: "  speed_\($0):") }
            .joined()
        // Distinct keys so no duplicate hides another problem.
        let error = #expect(throws: MappingValidationError.self) {
            try ValidatedMapping.load(
                yaml: Fixtures.mappingYAML(Self.good + body), file: "test.yaml", catalog: Fixtures.catalog)
        }
        let errors = try #require(error).errors
        #expect(errors.count >= 15, "\(errors.map(\.description))")
        #expect(error!.description.split(separator: "\n").count == error!.problems.count)
    }

    @Test func duplicateKeysAreAllReportedWithLines() throws {
        let yaml = """
            version: "1.0.0"
            provider: navixy
            mappings:
              speed:
                type: direct
                sources: [{field: speed, path: speed, unit: km/h}]
                unit: km/h
                unit: m/s
                data_type: number
              location_heading:
                type: direct
                sources:
                - field: heading
                  path: heading
                  path: course
                data_type: number
              speed:
                type: direct
                sources: [{field: obd_speed, path: params.obd_speed}]
                data_type: number
              location_cardinal_direction:
                type: calculated
                function: derive_nowhere
                data_type: string
            """
        let problems = Fixtures.problems(yaml).map(\.description)
        #expect(problems.contains("test.yaml: mapping speed: duplicate key unit (lines 7 and 8)"), "\(problems)")
        #expect(
            problems.contains("test.yaml: mapping location_heading: duplicate key sources.path (lines 14 and 15)"),
            "\(problems)")
        #expect(
            problems.contains("test.yaml: mapping speed: defined twice (lines 4 and 17); the first definition is kept"),
            "\(problems)")
        // ... and the rest of the file is still checked.
        #expect(
            problems.contains("test.yaml: mapping location_cardinal_direction: unknown function derive_nowhere"),
            "\(problems)")
    }

    @Test func cyclesAreReported() {
        let yaml = Fixtures.mappingYAML(
            """
              location_heading:
                type: calculated
                function: divide_by_10
                parameters: {fleeti: [location_cardinal_direction]}
                data_type: number
              location_cardinal_direction:
                type: calculated
                function: derive_cardinal_direction
                parameters: {fleeti: [location_heading]}
                data_type: string
              top_status_last_changed_at:
                type: calculated
                function: derive_top_status_last_changed_at
                parameters: {fleeti: [top_status_last_changed_at]}
                data_type: datetime

            """)
        let problems = Fixtures.problems(yaml).map(\.description)
        #expect(
            problems.contains(
                "test.yaml: mapping location_heading: dependency cycle: location_heading -> location_cardinal_direction -> location_heading"
            ),
            "\(problems)")
        #expect(
            problems.contains(
                "test.yaml: mapping top_status_last_changed_at: dependency cycle: top_status_last_changed_at -> top_status_last_changed_at"
            ),
            "\(problems)")
    }

    @Test func dependencyOrderPutsParametersFirst() throws {
        let yaml = Fixtures.mappingYAML(
            """
              top_status_code:
                type: calculated
                function: derive_top_status_code
                parameters: {fleeti: [statuses_connectivity_code, statuses_immobilization_code, statuses_engine_code, statuses_transit_code]}
                data_type: string
              statuses_transit_code:
                type: calculated
                function: derive_statuses_transit_code
                parameters: {fleeti: [statuses_transit_compatible, ignition_value, is_moving_value, speed]}
                data_type: string
              speed:
                type: direct
                sources: [{field: speed, path: speed, unit: km/h}]
                unit: km/h
                data_type: number
              is_moving_value:
                type: direct
                sources: [{field: moving, path: params.moving}]
                data_type: number
              ignition_value:
                type: direct
                sources: [{field: avl_io_239, path: params.avl_io_239}]
                data_type: boolean
              statuses_transit_compatible:
                type: calculated
                function: derive_statuses_transit_compatible
                data_type: boolean
              statuses_connectivity_code:
                type: calculated
                function: derive_statuses_connectivity_code
                data_type: string
              statuses_immobilization_code:
                type: calculated
                function: derive_statuses_immobilization_code
                parameters: {fleeti: [statuses_immobilization_compatible, outputs_individual_output_1]}
                data_type: string
              statuses_immobilization_compatible:
                type: calculated
                function: derive_statuses_immobilization_compatible
                data_type: boolean
              outputs_individual_output_1:
                type: direct
                sources: [{field: avl_io_179, path: params.avl_io_179}]
                data_type: boolean
              statuses_engine_code:
                type: calculated
                function: derive_statuses_engine_code
                parameters: {fleeti: [ignition_value]}
                data_type: string

            """)
        let v = try ValidatedMapping.load(yaml: yaml, file: "test.yaml", catalog: Fixtures.catalog)
        let order = v.evaluationOrder.map { v.fieldNames[$0] }
        func before(_ a: String, _ b: String) -> Bool { order.firstIndex(of: a)! < order.firstIndex(of: b)! }
        #expect(before("statuses_transit_code", "top_status_code"))
        #expect(before("speed", "statuses_transit_code"))
        #expect(before("ignition_value", "statuses_engine_code"))
        #expect(before("statuses_immobilization_compatible", "statuses_immobilization_code"))
        #expect(before("outputs_individual_output_1", "statuses_immobilization_code"))
        // Independent mappings keep file order.
        #expect(before("speed", "is_moving_value"))
        #expect(order.count == 11)
    }

    @Test func unknownMappingNameIsAWarningAndStillMaps() throws {
        let yaml = Fixtures.mappingYAML(
            """
              my_custom_voltage:
                type: direct
                sources: [{field: board_voltage, path: params.board_voltage, unit: V}]
                unit: mV
                data_type: number

            """)
        let v = try ValidatedMapping.load(yaml: yaml, file: "test.yaml", catalog: Fixtures.catalog)
        #expect(
            v.warnings.map(\.description) == [
                "test.yaml: warning: mapping my_custom_voltage: not in the field catalog (stored as my_custom_voltage)"
            ])
        let engine = MappingEngine(mapping: v, catalog: Fixtures.catalog)
        var state = VehicleMappingState()
        let mapped = engine.map(
            Fixtures.record(["params.board_voltage": .double(13.642)]), state: &state, receivedAt: Fixtures.t0)
        #expect(mapped.record?["my_custom_voltage"] == .double(13642))
    }

    @Test(arguments: [
        (
            "version: 1.0\nprovider: navixy\nmappings: {}\n",
            "test.yaml: version \"1.0\" is not a semantic version (MAJOR.MINOR.PATCH)"
        ),
        ("provider: navixy\nmappings: {}\n", "test.yaml: missing required key version"),
        ("version: \"1.0.0\"\nmappings: {}\n", "test.yaml: missing required key provider"),
        ("version: \"1.0.0\"\nprovider: navixy\n", "test.yaml: missing required key mappings"),
        ("version: \"1.0.0\"\nprovider: navixy\nmappings: [a, b]\n", "test.yaml: mappings must be a YAML mapping"),
        ("- just\n- a list\n", "test.yaml: the file is not a YAML mapping"),
        // No document at all: Yams reads nothing, and nothing must not mean "valid".
        ("", "test.yaml: the file is empty (nothing but blank lines or comments)"),
        ("# version: \"1.0.0\"\n\n   \n# provider: navixy\n", "test.yaml: the file is empty (nothing but blank lines or comments)"),
    ])
    func fileLevelProblems(yaml: String, expected: String) {
        let problems = Fixtures.problems(yaml).map(\.description)
        #expect(problems.contains(expected), "\(problems)")
    }

    /// Functions that take a provider field or a fleeti field (0...1 of each) return null when
    /// their input is null: with no input at all, the field would be null for every record.
    @Test(arguments: [
        (
            "extract_bit_from_bitmask", "parameters: {provider: {acmee: inputs}, static: {bit_position: 1}}", "boolean", "none",
            [
                "parameters.provider names provider acmee, but this file maps provider acme (only parameters.provider.acme is read)",
                "function extract_bit_from_bitmask reads no input (give parameters.provider.acme or parameters.fleeti): it would always be null",
            ]
        ),
        (
            "extract_bit_from_bitmask", "parameters: {static: {bit_position: 1}}", "boolean", "none",
            ["function extract_bit_from_bitmask reads no input (give parameters.provider.acme or parameters.fleeti): it would always be null"]
        ),
        ("divide_by_10", "", "number", "none", ["function divide_by_10 reads no input (give parameters.provider.acme or parameters.fleeti): it would always be null"]),
        (
            "add_installation_offset_odometer", "parameters: {provider: {acme: []}}", "number", "km",
            ["function add_installation_offset_odometer reads no input (give parameters.provider.acme or parameters.fleeti): it would always be null"]
        ),
        (
            "divide_by_10", "parameters: {provider: {acme: x, navixy: y}}", "number", "none",
            ["parameters.provider names provider navixy, but this file maps provider acme (only parameters.provider.acme is read)"]
        ),
        ("divide_by_10", "parameters: {provider: {acme: x}}", "number", "none", []),
        ("divide_by_10", "parameters: {fleeti: [location_heading]}", "number", "none", []),
    ])
    func calculatedFieldNeedsAnInputOfTheFilesProvider(function: String, parameters: String, dataType: String, unit: String, expected: [String]) {
        let body = """
              my_field:
                type: calculated
                function: \(function)
                \(parameters)
                unit: \(unit)
                data_type: \(dataType)

            """
        let problems = Fixtures.problems(Fixtures.mappingYAML(Self.good + body, provider: "acme"))
        #expect(problems.filter { $0.severity == .error }.map(\.description) == expected.map { "test.yaml: mapping my_field: \($0)" })
    }

    /// A provider name becomes a file name in the mapping folder and a pin-file key: names
    /// that would leave the folder, hide the file or share a file with another name are refused.
    @Test(arguments: ["../trav", ".hidden", "acme/eu", "-acme", "_acme", "acme eu", "navíxy", String(repeating: "a", count: 65)])
    func badProviderNameIsAnError(name: String) {
        let problems = Fixtures.problems(Fixtures.mappingYAML(Self.good, provider: "\"\(name)\""))
        let expected =
            "test.yaml: provider \"\(name)\" is not a valid provider name "
            + "(1 to 64 ASCII letters, digits, '_', '-' or '.', starting with a letter or a digit)"
        #expect(problems.map(\.description) == [expected])
    }

    @Test(arguments: ["navixy", "generic", "bench", "acme_eu", "acme-eu.v2", "9fleet", "Teltonika", String(repeating: "a", count: 64)])
    func goodProviderNameIsAccepted(name: String) {
        #expect(Fixtures.problems(Fixtures.mappingYAML(Self.good, provider: name)).isEmpty)
    }

    @Test("what a person reads (error answers, logs) carries the line: file, mapping, line, reason")
    func locatedProblemsCarryTheLine() {
        let problems = Fixtures.problems(
            "version: \"1.0.0\"\nprovider: navixy\nmappings:\n  speed:\n    type: direct\n    sources: [{field: x, path: x, unit: furlongs}]\n    unit: km/h\n    data_type: number\n")
        let unit = problems.first { $0.reason.contains("furlongs") }
        #expect(unit?.located == "test.yaml: mapping speed: line \(unit?.line ?? 0): source: unknown unit furlongs")
        #expect(unit?.line != nil)
        #expect(MappingValidationError(problems: problems).statusMessage.contains("mapping speed: line "))
        let warning = MappingProblem(file: "f.yaml", mapping: "m", reason: "r", severity: .warning, line: 3)
        #expect(warning.located == "f.yaml: warning: mapping m: line 3: r" && warning.description == "f.yaml: warning: mapping m: r")
    }

    @Test("a file that maps nothing and passes nothing through is accepted with a warning")
    func emptyMappingsWarn() {
        for body in ["mappings: {}\n", "mappings:\n"] {
            let problems = Fixtures.problems("version: \"1.0.0\"\nprovider: acme\n" + body)
            #expect(problems.count == 1 && problems.first?.severity == .warning, "\(problems)")
            #expect(problems.first?.reason.hasPrefix("mappings is empty and passthrough is off") == true)
        }
        // With passthrough, an empty list is the point: every field as it comes.
        #expect(Fixtures.problems("version: \"1.0.0\"\nprovider: acme\npassthrough: true\nmappings: {}\n").isEmpty)
    }

    @Test func syntaxErrorsNameTheLine() {
        let problems = Fixtures.problems("version: \"1.0.0\"\nprovider: navixy\nmappings:\n  speed: {type: direct\n")
        #expect(problems.count == 1)
        #expect(problems[0].description.hasPrefix("test.yaml: not valid YAML:"))
        #expect(problems[0].line != nil)
    }

    @Test func validationErrorMapsToInvalidArgument() {
        let error = MappingValidationError(problems: [MappingProblem(file: "f.yaml", mapping: "m", reason: "r")])
        #expect(error.statusCode == .invalidArgument)
        #expect(error.statusMessage == "f.yaml: mapping m: r")
    }
}
