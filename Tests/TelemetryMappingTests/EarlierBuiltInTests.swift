import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

/// A newer built-in file keeps its predecessor loaded, so that a pin or a remap naming the
/// earlier built-in version still works after an upgrade.
@Suite("Earlier built-in versions")
struct EarlierBuiltInTests {
    static let added: Set<String> = ["device_power_board_voltage", "device_power_external_voltage", "diagnostics_engine_rpm"]

    @Test("navixy 1.0.6-telemetrystore.1 is still loaded, the newer .2 is active")
    func bothVersionsLoaded() throws {
        let set = try MappingSet.withDefaults()
        let versions = try #require(set.summaries.first { $0.provider == "navixy" }).versions.map(\.version.description)
        #expect(versions == ["1.0.6-telemetrystore.1", "1.0.6-telemetrystore.2"])
        #expect(set.engine(for: "navixy")?.version.description == "1.0.6-telemetrystore.2")
    }

    @Test("the earlier version is the newer file without its marked additions, and nothing else")
    func earlierIsTheFileWithoutTheAdditions() throws {
        let set = try MappingSet.withDefaults()
        let old = try #require(set.entry(provider: "navixy", version: SemanticVersion("1.0.6-telemetrystore.1")!))
        let new = try #require(set.entry(provider: "navixy", version: SemanticVersion("1.0.6-telemetrystore.2")!))
        func unlined(_ m: [FieldMapping]) -> [FieldMapping] { m.map { var m = $0; m.line = nil; return m } }
        #expect(Set(new.mapping.file.mappings.map(\.key)).subtracting(old.mapping.file.mappings.map(\.key)) == Self.added)
        #expect(unlined(old.mapping.file.mappings) == unlined(new.mapping.file.mappings.filter { !Self.added.contains($0.key) }))
        #expect(!old.mapping.sourceText.contains(">>> added in"))
        #expect(old.mapping.sourceText.contains("version: \"1.0.6-telemetrystore.1\""))
    }

    @Test("a pin to the earlier version maps without the additions")
    func pinnedEarlierVersionMaps() throws {
        var set = try MappingSet.withDefaults()
        try set.activate(provider: "navixy", version: SemanticVersion("1.0.6-telemetrystore.1")!)
        let record = Fixtures.record(["params.board_voltage": .double(12.5), "params.can_rpm": .int(900), "speed": .int(10)])
        var state = VehicleMappingState()
        let mapped = try #require(set.engine(for: "navixy")?.map(record, state: &state, receivedAt: Fixtures.t0).record)
        #expect(mapped.mappingVersion == "1.0.6-telemetrystore.1")
        #expect(mapped["speed"] == .int(10))
        #expect(mapped["device_power_board_voltage"] == nil && mapped["diagnostics_engine_rpm"] == nil)
    }

    @Test("an operator file that reuses a built-in version with other rules is refused, and the message says the other is built in")
    func clashWithBuiltInNamesIt() throws {
        var set = try MappingSet.withDefaults()
        let yaml = Fixtures.mappingYAML(
            "  speed:\n    type: direct\n    sources: [{field: speed, path: speed, unit: km/h}]\n    unit: km/h\n    data_type: number\n",
            version: "1.0.6-telemetrystore.2")
        let error = #expect(throws: MappingValidationError.self) { try set.load(yaml: yaml, file: "navixy-mine.yaml") }
        #expect(error?.problems.first?.reason.contains("(from navixy.yaml, built into telemetryd)") == true, "\(String(describing: error))")
        #expect(error?.problems.first?.file == "navixy-mine.yaml")
    }

    @Test("an earlier version whose file lacks its marked block is a build defect, named as such")
    func brokenMarkers() {
        let missing = DefaultFiles.EarlierVersion(file: "generic.yaml", version: "0.9.0", addedIn: "1.0.0")
        #expect(throws: MappingValidationError.self) { try DefaultFiles.text(of: missing) }
    }
}
