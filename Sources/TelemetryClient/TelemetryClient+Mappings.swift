public import TelemetryCore
import SwiftProtobuf
import TelemetryWire

/// Mapping, asset, dead-letter and re-mapping administration (admin role).
extension TelemetryClient {
    /// Sends an admin request; returns the last frame's answer (long operations send progress
    /// frames first, reported to `onProgress`).
    func admin(
        _ request: Telemetry_V1_AdminRequest, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> Telemetry_V1_AdminResponse {
        try await call(.admin(request), onProgress: onProgress).last?.admin ?? Telemetry_V1_AdminResponse()
    }

    /// Every loaded mapping version, by provider then version.
    public func mappings() async throws -> [MappingFileInfo] {
        try await admin(.with { $0.mappingsList = .init() }).mappingsList.mappings.map(MappingFileInfo.init(wire:))
    }

    /// A loaded version and its file's text: the active one of `provider` when `version` is nil.
    public func mapping(provider: String, version: String? = nil) async throws -> (info: MappingFileInfo, yaml: String) {
        let r = try await admin(.with { $0.mappingsShow = .with { $0.provider = provider; $0.version = version ?? "" } }).mappingsShow
        return (MappingFileInfo(wire: r.summary), r.yaml)
    }

    /// Validates and loads mapping files (all of them or none); a newer version becomes active.
    /// - Throws: INVALID_ARGUMENT naming every problem when a file is invalid (nothing changes).
    public func loadMappings(_ files: [(name: String, yaml: String)]) async throws -> MappingsLoadResult {
        let r = try await admin(.with { $0.mappingsLoad = .with { $0.files = files.map(Self.wireFile) } }).mappingsLoad
        return MappingsLoadResult(loaded: r.activated.map(MappingFileInfo.init(wire:)), warnings: r.problems.map(MappingFileProblem.init(wire:)))
    }

    /// Makes a loaded version the active one (a rollback); the server keeps the choice until a
    /// newer version is loaded. - Returns: the version active before, if any.
    @discardableResult
    public func activateMapping(provider: String, version: String) async throws -> String? {
        let r = try await admin(.with { $0.mappingsActivate = .with { $0.provider = provider; $0.version = version } }).mappingsActivate
        return r.previous.isEmpty ? nil : r.previous
    }

    /// Every problem of mapping files, loading nothing.
    public func validateMappings(_ files: [(name: String, yaml: String)]) async throws -> [MappingFileProblem] {
        try await admin(.with { $0.mappingsValidate = .with { $0.files = files.map(Self.wireFile) } })
            .mappingsValidate.problems.map(MappingFileProblem.init(wire:))
    }

    /// Maps records without storing anything, with the active mappings or with `files`.
    public func dryRunMapping(_ records: [ProviderRecord], files: [(name: String, yaml: String)] = []) async throws -> [DryRunOutcome] {
        let r = try await admin(
            .with {
                $0.mappingsDryRun = .with {
                    $0.files = files.map(Self.wireFile)
                    $0.records = records.map(\.wire)
                }
            }
        ).mappingsDryRun
        return try r.results.map { w throws(StatusError) in
            DryRunOutcome(
                index: Int(w.index), record: w.hasRecord ? try TelemetryRecord(wire: w.record) : nil,
                reason: w.reason.isEmpty ? nil : w.reason, message: w.message.isEmpty ? nil : w.message, fieldErrors: w.fieldErrors)
        }
    }

    /// Replaces the server's asset registry.
    public func loadAssets(_ content: String, name: String) async throws -> AssetsSummary {
        let r = try await admin(.with { $0.assetsLoad = .with { $0.content = content; $0.name = name } }).assetsLoad
        return AssetsSummary(assets: Int(r.assets), drivers: Int(r.drivers), geofences: Int(r.geofences))
    }

    /// A page of dead letters in received order.
    public func deadLetters(_ selection: DeadLetterSelection = .init(), after: String? = nil, limit: Int = 100) async throws -> DeadLetterPage {
        let r = try await admin(
            .with {
                $0.dlqList = .with {
                    $0.filter = selection.wire
                    $0.after = after ?? ""
                    $0.limit = UInt32(clamping: limit)
                }
            }
        ).dlqList
        return DeadLetterPage(entries: r.entries.map(DeadLetterEntry.init(wire:)), next: r.nextAfter.isEmpty ? nil : r.nextAfter)
    }

    /// One dead letter. - Throws: NOT_FOUND when there is none by that id.
    public func deadLetter(id: String) async throws -> DeadLetterEntry {
        DeadLetterEntry(wire: try await admin(.with { $0.dlqShow = .with { $0.id = id } }).dlqShow.entry)
    }

    /// Maps dead letters again (after a mapping fix) and stores those that now map.
    public func replayDeadLetters(
        ids: [String] = [], _ selection: DeadLetterSelection = .init(), dryRun: Bool = false,
        onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> ReplayResult {
        let r = try await admin(
            .with {
                $0.dlqReplay = .with {
                    $0.ids = ids
                    $0.filter = selection.wire
                    $0.dryRun = dryRun
                }
            }, onProgress: onProgress
        ).dlqReplay
        return ReplayResult(
            replayed: r.replayed, stillFailing: r.stillFailing, duplicates: r.duplicates,
            failingByReason: Dictionary(r.failingByReason.map { ($0.name, $0.count) }, uniquingKeysWith: +), dryRun: r.dryRun)
    }

    /// Deletes dead letters: by id, by selection, or (`all`) every one.
    public func purgeDeadLetters(ids: [String] = [], _ selection: DeadLetterSelection = .init(), all: Bool = false) async throws -> UInt64 {
        try await admin(
            .with {
                $0.dlqPurge = .with {
                    $0.ids = ids
                    $0.filter = selection.wire
                    $0.all = all
                }
            }
        ).dlqPurge.purged
    }

    /// Recomputes a vehicle's canonical records in [from, to) from its raw records.
    /// - Parameters:
    ///   - mappingVersion: `provider@version` or `version`; nil uses the active mapping.
    ///   - warmupMs: how far before `from` the raw records are mapped into the rules' state
    ///     only (nothing there is compared or written); nil: the server's default, 24 hours;
    ///     0: the range starts from an empty state; `Int64.max`: the vehicle's whole history.
    public func remap(
        vehicle: VehicleID, from: Int64, to: Int64, mappingVersion: String? = nil, dryRun: Bool = false, maxChanges: Int = 20,
        warmupMs: Int64? = nil, onProgress: (@Sendable (ProgressUpdate) -> Void)? = nil
    ) async throws -> RemapResult {
        let r = try await admin(
            .with {
                $0.remap = .with {
                    $0.vehicleID = vehicle.rawValue
                    $0.fromMs = from
                    $0.toMs = to
                    $0.mappingVersion = mappingVersion ?? ""
                    $0.dryRun = dryRun
                    $0.maxChanges = UInt32(clamping: maxChanges)
                    if let warmupMs { $0.warmupMs = warmupMs }
                }
            }, onProgress: onProgress
        ).remap
        return RemapResult(
            rawRecords: r.rawRecords, changed: r.changed, unchanged: r.unchanged, failed: r.failed,
            changes: r.changes.map { c in
                RecordChange(
                    timestamp: c.timestampMs, mappingVersionBefore: c.mappingVersionBefore, mappingVersionAfter: c.mappingVersionAfter,
                    changes: c.changes.map {
                        FieldChange(
                            field: $0.field, before: $0.hasBefore ? FieldValue(wire: $0.before) : nil,
                            after: $0.hasAfter ? FieldValue(wire: $0.after) : nil)
                    })
            }, dryRun: r.dryRun, failures: r.failures, warmupRecords: r.warmupRecords,
            otherProvider: r.otherProvider)
    }

    static func wireFile(_ f: (name: String, yaml: String)) -> Telemetry_V1_MappingFileContent {
        .with {
            $0.name = f.name
            $0.yaml = f.yaml
        }
    }
}

extension MappingFileInfo {
    init(wire s: Telemetry_V1_MappingSummary) {
        self.init(
            provider: s.provider, version: s.version, file: s.file, mappings: Int(s.mappings), loadedAt: s.loadedAtMs, origin: s.origin,
            active: s.active)
    }
}

extension MappingFileProblem {
    init(wire p: Telemetry_V1_MappingProblem) {
        self.init(file: p.file, mapping: p.mapping.isEmpty ? nil : p.mapping, severity: p.reason, message: p.message)
    }
}

extension DeadLetterEntry {
    init(wire e: Telemetry_V1_DeadLetterEntry) {
        self.init(
            id: e.id, vehicleID: e.record.vehicleID, timestamp: e.record.timestampMs == 0 ? nil : e.record.timestampMs,
            provider: e.record.provider, fields: e.record.fields.map(Field.init(wire:)),
            gatewaySequence: e.record.hasGatewaySequence ? e.record.gatewaySequence : nil, receivedAt: e.receivedAtMs, reason: e.reason,
            message: e.message, mappingVersion: e.mappingVersion)
    }
}

extension DeadLetterSelection {
    var wire: Telemetry_V1_DeadLetterFilter {
        .with {
            $0.provider = provider ?? ""
            $0.reason = reason ?? ""
            $0.vehicleID = vehicleID ?? ""
            $0.receivedFromMs = receivedFrom ?? 0
            $0.receivedToMs = receivedTo ?? 0
        }
    }
}
