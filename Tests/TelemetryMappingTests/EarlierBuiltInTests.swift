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

    /// FNV-1a 64 of the text's lines that are neither blank nor whole-line comments.
    static func rulesDigest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for line in text.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { continue }
            for byte in line.utf8 + [10] {
                hash ^= UInt64(byte)
                hash = hash &* 0x0100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }

    @Test("a shipped built-in version never changes: its rules, as derived, are pinned")
    func shippedVersionIsPinned() throws {
        let text = try DefaultFiles.text(of: DefaultFiles.EarlierVersion(file: "navixy.yaml", version: "1.0.6-telemetrystore.1"))
        // Records carry the version that mapped them, so one version must keep one meaning: change
        // navixy.yaml only inside a new marked block, under a new version (docs/mapping.md, 13).
        // 37d88947b4246255 is also the digest of navixy.yaml as .1 shipped it (commit b1a3d05).
        #expect(Self.rulesDigest(text) == "37d88947b4246255", "navixy 1.0.6-telemetrystore.1 changed")
    }

    static let threeVersions = """
        version: "1.3.0"
        a: 1
        # >>> added in 1.2.0
        b: 2
        # <<< added in 1.2.0
          # >>> added in 1.3.0
        c: 3
          # <<< added in 1.3.0
        d: 4
        """

    @Test("an earlier version leaves out every block added after it, whichever version added it")
    func deriveLeavesOutEveryLaterBlock() throws {
        #expect(try DefaultFiles.derive(Self.threeVersions, file: "f.yaml", version: "1.1.0") == "version: \"1.1.0\"\na: 1\nd: 4")
        #expect(try DefaultFiles.derive(Self.threeVersions, file: "f.yaml", version: "1.2.0") == "version: \"1.2.0\"\na: 1\nb: 2\nd: 4")
    }

    @Test("broken markers, or a file with nothing added after the version, are build defects named with their line")
    func brokenMarkers() {
        func problem(_ text: String, _ version: String = "1.0.0") -> String? {
            do {
                _ = try DefaultFiles.derive(text, file: "f.yaml", version: version)
                return nil
            } catch { return error.problems.first?.located }
        }
        #expect(problem("a: 1\n# >>> added in 1.1.0\nb: 2\n") == "f.yaml: line 2: the block added in 1.1.0 is not closed")
        #expect(problem("# >>> added in 1.1.0\n# >>> added in 1.2.0\n") == "f.yaml: line 2: a block opens inside the block of line 1")
        #expect(problem("# <<< added in 1.1.0\n") == "f.yaml: line 1: closes no open block of 1.1.0")
        #expect(problem("# >>> added in 1.1.0\n# <<< added in 1.2.0\n") == "f.yaml: line 2: closes no open block of 1.2.0")
        #expect(problem("# >>> added in soon\n") == "f.yaml: line 1: marker names no version: # >>> added in soon")
        #expect(problem(Self.threeVersions, "1.3.0") == "f.yaml: no block added after 1.3.0")
        #expect(throws: MappingValidationError.self) {
            try DefaultFiles.text(of: DefaultFiles.EarlierVersion(file: "generic.yaml", version: "0.9.0"))
        }
    }
}
