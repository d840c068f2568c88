import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

/// Differential checks of the restructured engine under every error_handling, with states
/// moving between plans, and batch against single-record mapping (found in review).
@Suite("Engine: inline rules and batches against the general path, under every error handling")
struct DifferentialEngineTests {
    static func navixy(_ handling: String?, version: String = "1.0.0") throws -> String {
        var text = try DefaultFiles.text(named: "navixy.yaml")
        if version != "1.0.0" { text = text.replacingOccurrences(of: "1.0.6-telemetrystore.2", with: version) }
        if let handling {
            for t in ["number", "string", "boolean", "datetime", "array", "object"] {
                text = text.replacingOccurrences(
                    of: "    data_type: \(t)\n", with: "    data_type: \(t)\n    error_handling: \(handling)\n")
            }
        }
        return text
    }

    /// Packets with odd values too (strings where numbers are expected, bad lat) and absent fields.
    static func packets() -> [ProviderRecord] {
        var out = BatchAndFastRuleTests.packets()
        for i in stride(from: 5, to: out.count, by: 7) {
            var f = out[i].fields
            f.append(Field("speed", .string("fast")))
            f.append(Field("heading", .string("north")))
            f.append(Field("params.avl_io_239", .string("maybe")))
            out[i] = ProviderRecord(vehicle: out[i].vehicle, timestamp: out[i].timestamp, provider: "navixy", fields: f)
        }
        for i in stride(from: 3, to: out.count, by: 11) {
            out[i] = ProviderRecord(vehicle: out[i].vehicle, timestamp: out[i].timestamp, provider: "navixy", fields: [])
        }
        return out
    }

    @Test(arguments: ["use_fallback", "return_null", "fail_record"])
    func fastEqualsGeneral(handling: String) throws {
        let assets = try registry(BatchAndFastRuleTests.assets)
        let mapping = try ValidatedMapping.load(yaml: try Self.navixy(handling), file: "n.yaml", catalog: Fixtures.catalog)
        let plain = try ValidatedMapping.load(yaml: try Self.navixy(nil, version: "2.0.0"), file: "m.yaml", catalog: Fixtures.catalog)
        let fast = MappingEngine(mapping: mapping, catalog: Fixtures.catalog, assets: assets)
        let slow = MappingEngine(generalPathOnly: mapping, catalog: Fixtures.catalog, assets: assets)
        let fast2 = MappingEngine(mapping: plain, catalog: Fixtures.catalog, assets: assets)
        let slow2 = MappingEngine(generalPathOnly: plain, catalog: Fixtures.catalog, assets: assets)
        var fs: [VehicleID: VehicleMappingState] = [:]
        var ss: [VehicleID: VehicleMappingState] = [:]
        for (i, record) in Self.packets().enumerated() {
            let now = record.timestamp + 500
            // Alternate engines (versions) every 13 records: the state moves between layouts.
            let useSecond = (i / 13) % 2 == 1
            let a = (useSecond ? fast2 : fast).map(record, state: &fs[record.vehicle, default: .init()], receivedAt: now)
            let b = (useSecond ? slow2 : slow).map(record, state: &ss[record.vehicle, default: .init()], receivedAt: now)
            #expect(a == b, "record \(i) \(handling)")
            #expect(fs[record.vehicle]!.encoded() == ss[record.vehicle]!.encoded(), "state after \(i) \(handling)")
            // Round trip through the encoding every so often (as a restart would).
            if i % 17 == 0 {
                fs[record.vehicle] = try VehicleMappingState(encoded: fs[record.vehicle]!.encoded())
            }
        }
    }

    @Test(arguments: [false, true])
    func batchEqualsSingle(emitNulls: Bool) throws {
        let assets = try registry(BatchAndFastRuleTests.assets)
        var set = try MappingSet.withDefaults(assets: assets, options: .init(emitNullFields: emitNulls))
        _ = try set.load(yaml: try Self.navixy("use_fallback", version: "1.5.0"), file: "x.yaml")
        var records = Self.packets()
        // Generic records (passthrough) interleaved, with changing layouts of the same count.
        for k in 0..<20 {
            let names = k % 2 == 0 ? ["lat", "door", "speed"] : ["rssi", "lat", "speed_kmh"]
            let fields = names.enumerated().map { j, n in Field(n, k % 3 == 0 && j == 1 ? .null : .int(Int64(k * 10 + j))) }
            records.insert(
                ProviderRecord(vehicle: Fixtures.vehicle("veh-\(k % 3 + 1)"), timestamp: Fixtures.t0 + Int64(k) * 1000 + 7,
                    provider: "generic", fields: fields), at: k * 4)
        }
        var single: [VehicleID: VehicleMappingState] = [:]
        var batched: [VehicleID: VehicleMappingState] = [:]
        var batch = set.batch()
        for (i, record) in records.enumerated() {
            let now = record.timestamp &+ 500
            let version: SemanticVersion? = (record.provider == "navixy" && i % 5 == 0) ? SemanticVersion("1.0.6-telemetrystore.2") : nil
            let a = set.map(record, state: &single[record.vehicle, default: .init()], receivedAt: now, version: version)
            let b = batch.map(record, state: &batched[record.vehicle, default: .init()], receivedAt: now, version: version)
            #expect(a == b, "record \(i)")
            #expect(single[record.vehicle]!.encoded() == batched[record.vehicle]!.encoded(), "state after record \(i)")
        }
    }
}

@Suite("Engine: a registered function that keeps its memory by name")
struct CustomFunctionMemoryTests {
    /// A registered stateful function that keeps its memory the way the public API offers
    /// (`state.memory[ctx.field]`), followed by a use_fallback field.
    @Test("a function writing state.memory mid-record leaves the inline rules and use_fallback working")
    func customFunctionWritingMemoryByName() throws {
        var functions = MappingFunctionRegistry.standard
        functions.register(
            MappingFunction(
                name: "count_packets", outputTypes: [.number], providerParameters: 1...1, isStateful: true
            ) { ctx, state throws(MappingFunctionError) in
                let n = (state.memory[ctx.field]?.output.asInt64 ?? 0) + 1
                state.memory[ctx.field] = FieldMemory(output: .int(n))
                return MappingFunctionOutput(.int(n))
            })
        var set = MappingSet(catalog: Fixtures.catalog, functions: functions)
        let yaml = Fixtures.mappingYAML(
            """
              odometer_value:
                type: calculated
                function: count_packets
                parameters: {provider: {navixy: odo}}
                data_type: number
              speed:
                type: direct
                sources:
                  - {priority: 1, field: speed, path: speed}
                data_type: number
                error_handling: use_fallback

            """)
        _ = try set.load(yaml: yaml, file: "custom.yaml")
        var state = VehicleMappingState()
        for i in 0..<3 {
            let outcome = set.map(
                Fixtures.record(["odo": .int(1), "speed": .int(Int64(10 + i))], at: Fixtures.t0 + Int64(i)), state: &state,
                receivedAt: Fixtures.t0)
            #expect(outcome.record?["odometer_value"] == .int(Int64(i + 1)))
        }
    }
}
