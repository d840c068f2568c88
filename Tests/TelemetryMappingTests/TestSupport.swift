import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

/// The shared Fleeti reference folder (`../shared/fleeti` from the package root). Tests read
/// it in place when it exists and are skipped otherwise; nothing is ever copied.
enum SharedFleeti {
    static let folder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TelemetryMappingTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("../shared/fleeti").standardizedFileURL

    static let mappingFiles = [
        ("navixy-mapping-2025-12-22.yaml", "1.0.1"), ("navixy-mapping-2025-12-23.yaml", "1.0.2"),
        ("navixy-mapping-2026-01-02.yaml", "1.0.3"),
    ]

    static var isAvailable: Bool {
        FileManager.default.fileExists(atPath: folder.appendingPathComponent("navixy-mapping-2026-01-02.yaml").path)
    }

    static func text(_ name: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }
}

enum Fixtures {
    static let catalog: FieldCatalog = try! FieldCatalog.bundled()

    /// 2025-10-06T10:43:10Z, the SPEC's synthetic packet time.
    static let t0: Int64 = 1_759_747_390_000

    static func vehicle(_ id: String = "veh-1") -> VehicleID { try! VehicleID(id) }

    static func record(
        _ fields: [String: FieldValue], at time: Int64 = t0, provider: String = "navixy", vehicle: String = "veh-1"
    ) -> ProviderRecord {
        ProviderRecord(
            vehicle: self.vehicle(vehicle), timestamp: time, provider: provider,
            fields: fields.sorted { $0.key < $1.key }.map { Field($0.key, $0.value) })
    }

    /// A mapping file with the given mappings (YAML body indented by two spaces).
    static func mappingYAML(
        _ body: String, version: String = "1.0.0", provider: String = "navixy", extra: String = ""
    ) -> String {
        "version: \"\(version)\"\nprovider: \(provider)\n\(extra)mappings:\n\(body)"
    }

    static func engine(
        _ yaml: String, assets: AssetRegistry = .empty, options: MappingEngine.Options = .init()
    ) throws -> MappingEngine {
        let validated = try ValidatedMapping.load(yaml: yaml, file: "test.yaml", catalog: catalog)
        return MappingEngine(mapping: validated, catalog: catalog, assets: assets, options: options)
    }

    static func defaultEngine(_ file: String = "navixy.yaml", assets: AssetRegistry = .empty) throws -> MappingEngine {
        let set = try MappingSet.withDefaults(assets: assets)
        let provider = String(file.dropLast(5))
        return try #require(set.engine(for: provider))
    }

    static func problems(_ yaml: String, file: String = "test.yaml") -> [MappingProblem] {
        ValidatedMapping.problems(yaml: yaml, file: file, catalog: catalog)
    }
}

extension MappingOutcome {
    var record: MappedRecord? {
        if case .mapped(let r) = self { return r }
        return nil
    }

    var failure: MappingFailure? {
        if case .failed(let f) = self { return f }
        return nil
    }
}

/// A registry built from YAML in tests.
func registry(_ yaml: String) throws -> AssetRegistry {
    try AssetRegistry(yaml: yaml, file: "assets.yaml")
}

/// Calls one registered function directly.
struct FunctionCaller {
    var field = "test_field"
    var dataType: MappingDataType = .string
    var targetUnit = "none"
    var sourceUnit: String?
    var asset = AssetFacts()
    var assets = AssetRegistry.empty
    var recordTime = Fixtures.t0
    var now = Fixtures.t0
    var options = MappingEngine.Options()
    var statics: [String: FieldValue] = [:]

    func callAsFunction(
        _ name: String, fleeti: [FieldValue] = [], provider: [(String, FieldValue)] = [],
        state: inout VehicleMappingState
    ) throws -> MappingFunctionOutput {
        let function = try #require(MappingFunctionRegistry.standard.function(named: name), "no function \(name)")
        let context = MappingFunctionContext(
            fleeti: fleeti, provider: provider.map(\.1),
            call: MappingCallInfo(
                field: field, providerNames: provider.map(\.0), staticParameters: statics,
                targetUnit: MeasurementUnit.named(targetUnit)!, sourceUnit: sourceUnit.flatMap(MeasurementUnit.named),
                dataType: dataType),
            record: MappingRecordEnvironment(
                vehicle: Fixtures.vehicle(), asset: asset, assets: assets, recordTime: recordTime, now: now,
                options: options))
        return try function.body(context, &state)
    }

    func callAsFunction(
        _ name: String, fleeti: [FieldValue] = [], provider: [(String, FieldValue)] = []
    ) throws -> FieldValue {
        var state = VehicleMappingState()
        return try self(name, fleeti: fleeti, provider: provider, state: &state).value
    }
}
