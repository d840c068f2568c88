import CoreMetrics
import Foundation
import NIOPosix
import SwiftProtobuf
import TelemetryCore
import TelemetryMapping
import TelemetryStorage
import TelemetryWire

/// mappings, assets, dead letters, remap.
extension RequestDispatcher {
    /// The mapping service, or FAILED_PRECONDITION when the server stores provider fields as
    /// they come.
    private func mappingService() throws(StatusError) -> MappingService {
        guard let mappings else {
            throw StatusError(
                .failedPrecondition, "this server runs with the identity mapping (telemetryd --mapping identity); mappings are off")
        }
        return mappings
    }

    private static func files(_ files: [Telemetry_V1_MappingFileContent]) throws(StatusError) -> [(name: String, yaml: String)] {
        guard !files.isEmpty else { throw StatusError(.invalidArgument, "files is empty: send at least one mapping file") }
        return files.enumerated().map { ($0.element.name.isEmpty ? "files[\($0.offset)]" : $0.element.name, $0.element.yaml) }
    }

    // MARK: - Mappings

    func mappingsLoad(_ r: Telemetry_V1_MappingsLoadRequest) async throws -> Telemetry_V1_MappingsLoadResponse {
        let service = try mappingService()
        let files = try Self.files(r.files)
        let (loaded, warnings) = try await threadPool.runIfActive { try service.load(files: files) }
        let active = Set(service.list().filter(\.active).map { "\($0.file.provider)@\($0.file.version)" })
        return .with {
            $0.problems = warnings.map(\.wire)
            $0.activated = loaded.map { $0.wire(active: active.contains("\($0.provider)@\($0.version)")) }
        }
    }

    func mappingsList(_ r: Telemetry_V1_MappingsListRequest) async throws -> Telemetry_V1_MappingsListResponse {
        let service = try mappingService()
        return .with { $0.mappings = service.list().map { $0.file.wire(active: $0.active) } }
    }

    func mappingsShow(_ r: Telemetry_V1_MappingsShowRequest) async throws -> Telemetry_V1_MappingsShowResponse {
        let service = try mappingService()
        guard !r.provider.isEmpty else { throw StatusError(.invalidArgument, "provider is empty") }
        let (file, active) = try service.show(provider: r.provider, version: r.version.isEmpty ? nil : r.version)
        return .with {
            $0.summary = file.wire(active: active)
            $0.yaml = file.yaml
        }
    }

    func mappingsActivate(_ r: Telemetry_V1_MappingsActivateRequest) async throws -> Telemetry_V1_MappingsActivateResponse {
        let service = try mappingService()
        guard !r.provider.isEmpty, !r.version.isEmpty else { throw StatusError(.invalidArgument, "provider and version are both required") }
        let (file, previous) = try await threadPool.runIfActive { try service.activate(provider: r.provider, version: r.version) }
        return .with {
            $0.activated = file.wire(active: true)
            $0.previous = previous ?? ""
        }
    }

    func mappingsValidate(_ r: Telemetry_V1_MappingsValidateRequest) async throws -> Telemetry_V1_MappingsValidateResponse {
        let service = try mappingService()
        let files = try Self.files(r.files)
        let problems = await withCheckedContinuation { c in
            // Validation parses YAML and compiles plans: CPU work, off the event loop.
            threadPool.submit { _ in c.resume(returning: service.validate(files: files)) }
        }
        let invalid = Set(problems.filter { $0.severity == .error }.map(\.file))
        return .with {
            $0.problems = problems.map(\.wire)
            $0.valid = files.filter { !invalid.contains($0.name) }.map { f in
                Telemetry_V1_MappingSummary.with { $0.file = f.name }
            }
        }
    }

    func mappingsDryRun(_ r: Telemetry_V1_MappingsDryRunRequest) async throws -> Telemetry_V1_MappingsDryRunResponse {
        let service = try mappingService()
        guard !r.records.isEmpty else { throw StatusError(.invalidArgument, "records is empty: send the provider records to try") }
        guard r.records.count <= configuration.maxRecordsPerBatch else {
            throw StatusError(.resourceExhausted, "\(r.records.count) records exceed max_records_per_batch \(configuration.maxRecordsPerBatch)")
        }
        var set = service.mappingSet
        for (i, f) in r.files.enumerated() {
            // The files tried are activated in the copy, whatever their version: the point is to see them at work.
            do {
                let report = try set.load(yaml: f.yaml, file: f.name.isEmpty ? "files[\(i)]" : f.name)
                try set.activate(provider: report.provider, version: report.version)
            } catch let e as MappingValidationError {
                throw StatusError(.invalidArgument, e.problems.map(\.located).joined(separator: "; "))
            }
        }
        var records: [(index: Int, record: ProviderRecord)] = []
        for (i, w) in r.records.enumerated() {
            do { records.append((i, try ProviderRecord(validating: w))) } catch {
                throw StatusError(.invalidArgument, "records[\(i)]: \(error.message)")
            }
        }
        let receivedAt = clock()
        let outcomes = try await threadPool.runIfActive { [store, set, records] in
            service.mapBatch(records, set: set, receivedAt: receivedAt, store: store, commit: false).outcomes
        }
        var results = [Telemetry_V1_DryRunResult](repeating: .init(), count: records.count)
        for (index, outcome) in outcomes {
            var result = Telemetry_V1_DryRunResult()
            result.index = UInt32(index)
            switch outcome {
            case .mapped(let m):
                result.record = m.telemetryRecord(from: records[index].record, receivedAt: receivedAt).wire
                result.fieldErrors = m.fieldErrors.map(\.description)
            case .failed(let f):
                result.reason = f.reason.rawValue
                result.message = f.message
            }
            results[index] = result
        }
        return .with { $0.results = results }
    }

    func assetsLoad(_ r: Telemetry_V1_AssetsLoadRequest) async throws -> Telemetry_V1_AssetsLoadResponse {
        let service = try mappingService()
        guard !r.content.isEmpty else { throw StatusError(.invalidArgument, "content is empty: send the asset registry (YAML or JSON)") }
        let assets = try await threadPool.runIfActive { try service.loadAssets(r.content, name: r.name) }
        return .with {
            $0.assets = UInt32(clamping: assets.assets.count)
            $0.drivers = UInt32(clamping: assets.drivers.count)
            $0.geofences = UInt32(clamping: assets.geofences.count)
        }
    }

    // MARK: - Dead letters

    func deadLetterList(_ r: Telemetry_V1_DeadLetterListRequest) async throws -> Telemetry_V1_DeadLetterListResponse {
        let filter = try DeadLetterFilter(r.filter)
        let limit = r.limit == 0 ? 100 : Int(min(r.limit, 10_000))
        let after = r.after.isEmpty ? nil : r.after
        let (entries, next) = try await threadPool.runIfActive { [store] in
            try Self.scanDeadLetters(store, filter: filter, after: after, limit: limit)
        }
        return .with {
            $0.entries = entries.map(\.wire)
            if let next { $0.nextAfter = next }
        }
    }

    func deadLetterShow(_ r: Telemetry_V1_DeadLetterShowRequest) async throws -> Telemetry_V1_DeadLetterShowResponse {
        guard !r.id.isEmpty else { throw StatusError(.invalidArgument, "id is empty") }
        let letter = try await threadPool.runIfActive { [store] in try store.deadLetter(id: r.id) }
        guard let letter else { throw StatusError(.notFound, "no dead letter \(r.id) (never stored, replayed or purged)") }
        return .with { $0.entry = letter.wire }
    }

    func deadLetterReplay(_ r: Telemetry_V1_DeadLetterReplayRequest, progress: AdminProgress) async throws -> Telemetry_V1_DeadLetterReplayResponse {
        let service = try mappingService()
        let filter = try DeadLetterFilter(r.filter)
        let ids = r.ids
        var response = Telemetry_V1_DeadLetterReplayResponse()
        response.dryRun = r.dryRun
        var failing: [String: UInt64] = [:]
        var after: String?
        var examined: UInt64 = 0
        // Pages of 1000: each page is mapped and written in one store write, then its replayed
        // letters are deleted. A crash in between leaves letters whose records are stored;
        // replaying them again finds duplicates and removes them.
        while true {
            let page: [StoredDeadLetter]
            if !ids.isEmpty {
                if after != nil { break }
                page = try await threadPool.runIfActive { [store] in
                    try ids.map { id throws -> StoredDeadLetter in
                        guard let l = try store.deadLetter(id: id) else { throw StatusError(.notFound, "no dead letter \(id)") }
                        return l
                    }
                }
                after = ""
            } else {
                let (letters, next) = try await threadPool.runIfActive { [store, after] in
                    try Self.scanDeadLetters(store, filter: filter, after: after, limit: 1000)
                }
                page = letters
                after = next
            }
            if page.isEmpty { break }
            let outcome = try await threadPool.runIfActive { [store] in
                try Self.replay(page, service: service, store: store, dryRun: r.dryRun)
            }
            response.replayed += outcome.replayed
            response.duplicates += outcome.duplicates
            // Counted apart from ingest (a replay is neither new records nor new dead letters),
            // so that the runbook's signals see what replays stored and what still fails.
            if !r.dryRun {
                metrics.deadLettersReplayed.increment(by: Int64(clamping: outcome.replayed + outcome.duplicates))
                metrics.deadLettersStillFailing.increment(by: Int64(outcome.failing.count))
            }
            response.stillFailing += UInt64(outcome.failing.count)
            for reason in outcome.failing { failing[reason, default: 0] += 1 }
            examined += UInt64(page.count)
            try await progress.report("replaying", done: examined, unit: "dead letters")
            if after == nil || !ids.isEmpty { break }
        }
        response.failingByReason = failing.sorted { $0.key < $1.key }.map { k, v in .with { $0.name = k; $0.count = v } }
        return response
    }

    /// Maps and stores a page of dead letters; deletes the ones that are now stored.
    private static func replay(
        _ letters: [StoredDeadLetter], service: MappingService, store: TelemetryStore, dryRun: Bool
    ) throws -> (replayed: UInt64, duplicates: UInt64, failing: [String]) {
        var records: [(index: Int, record: ProviderRecord)] = []
        var failing: [String] = []
        for (i, stored) in letters.enumerated() {
            let l = stored.letter
            guard let ts = l.timestamp, let vehicle = try? VehicleID(l.vehicleID) else {
                // Still no vehicle id or timestamp: nothing a mapping fix can change.
                failing.append(MappingFailure.Reason.missingVehicleOrTimestamp.rawValue)
                continue
            }
            records.append((i, ProviderRecord(vehicle: vehicle, timestamp: ts, provider: l.provider, fields: l.fields, gatewaySequence: l.gatewaySequence)))
        }
        // Each letter is mapped as of when it was received (its records keep that received
        // time in their provenance): letters come in received order, so equal times are runs.
        // Not counted as ingest: a letter that still fails is not a new dead letter.
        let set = service.mappingSet
        var write = StoreWrite()
        var outcomes: [(index: Int, outcome: MappingOutcome)] = []
        var start = 0
        while start < records.count {
            let time = letters[records[start].index].letter.receivedAt
            var end = start + 1
            while end < records.count, letters[records[end].index].letter.receivedAt == time { end += 1 }
            let part = service.mapBatch(
                Array(records[start..<end]), set: set, receivedAt: time, store: store, commit: !dryRun, countMetrics: false)
            write.records += part.write.records
            write.raw += part.write.raw
            // A later run's state of a vehicle has the higher generation: it replaces the earlier one.
            write.derivedStates.merge(part.write.derivedStates) { _, later in later }
            outcomes += part.outcomes
            start = end
        }
        var replayedIDs: [String] = []
        for (index, outcome) in outcomes {
            switch outcome {
            case .mapped: replayedIDs.append(letters[index].id)
            case .failed(let f): failing.append(f.reason.rawValue)
            }
        }
        guard !dryRun else { return (UInt64(replayedIDs.count), 0, failing) }
        // The failures of this replay are the letters themselves: not dead-lettered again.
        var toStore = write
        toStore.deadLetters = []
        let summary: WriteSummary
        do { summary = try store.write(toStore) } catch {
            service.forget(write.derivedStates.keys)
            throw error
        }
        try store.deleteDeadLetters(ids: replayedIDs)
        return (UInt64(summary.written), UInt64(summary.duplicates), failing)
    }

    func deadLetterPurge(_ r: Telemetry_V1_DeadLetterPurgeRequest) async throws -> Telemetry_V1_DeadLetterPurgeResponse {
        let filter = try DeadLetterFilter(r.filter)
        if r.ids.isEmpty && filter.isEmpty && !r.all {
            throw StatusError(.invalidArgument, "name ids, a filter, or set all to purge every dead letter")
        }
        let ids = r.ids
        let purged = try await threadPool.runIfActive { [store] in
            if !ids.isEmpty { return UInt64(try store.deleteDeadLetters(ids: ids)) }
            var total: UInt64 = 0
            var after: String?
            repeat {
                let (page, next) = try Self.scanDeadLetters(store, filter: filter, after: after, limit: 1000)
                total += UInt64(try store.deleteDeadLetters(ids: page.map(\.id)))
                after = next
            } while after != nil
            return total
        }
        return .with { $0.purged = purged }
    }

    /// Dead letters that pass `filter`, starting after `after`: at most `limit`, and the id to
    /// continue from (nil at the end).
    static func scanDeadLetters(
        _ store: TelemetryStore, filter: DeadLetterFilter, after: String?, limit: Int
    ) throws -> (letters: [StoredDeadLetter], next: String?) {
        var out: [StoredDeadLetter] = []
        var cursor = after
        if cursor == nil, let from = filter.receivedFrom, from > Int64.min {
            // Dead letters are keyed by received time: start right before `from`.
            cursor = "\(from - 1)-\(UInt64.max)"
        }
        while out.count < limit {
            let page = try store.deadLetters(after: cursor, limit: 1000)
            guard let last = page.last else { return (out, nil) }
            for letter in page {
                if let to = filter.receivedTo, letter.letter.receivedAt >= to { return (out, nil) }
                if filter.matches(letter.letter) {
                    out.append(letter)
                    if out.count == limit { return (out, letter.id) }
                }
            }
            cursor = last.id
            if page.count < 1000 { return (out, nil) }
        }
        return (out, cursor)
    }

    // MARK: - Remap

    func remap(_ r: Telemetry_V1_RemapRequest, progress: AdminProgress) async throws -> Telemetry_V1_RemapResponse {
        let service = try mappingService()
        let vehicle: VehicleID
        do { vehicle = try VehicleID(r.vehicleID) } catch { throw StatusError(.invalidArgument, "vehicle_id: \(error)") }
        guard r.fromMs < r.toMs else { throw StatusError(.invalidArgument, "from_ms \(r.fromMs) must be before to_ms \(r.toMs)") }
        var version: SemanticVersion?
        var pinnedProvider: String?
        if !r.mappingVersion.isEmpty {
            let parts = r.mappingVersion.split(separator: "@", maxSplits: 1).map(String.init)
            let text = parts.count == 2 ? parts[1] : parts[0]
            if parts.count == 2 { pinnedProvider = parts[0] }
            guard let v = SemanticVersion(text) else {
                throw StatusError(.invalidArgument, "mapping_version \"\(r.mappingVersion)\" is not provider@version or a semantic version")
            }
            version = v
        }
        let maxChanges = r.maxChanges == 0 ? 20 : Int(r.maxChanges)
        let set = service.mappingSet
        if let pinnedProvider, let v = version, set.engine(for: pinnedProvider, version: v) == nil {
            throw StatusError(.notFound, "mapping \(pinnedProvider)@\(v) is not loaded")
        }
        // A bare version that no provider has would refuse every record one by one.
        if pinnedProvider == nil, let v = version,
            !set.summaries.contains(where: { $0.versions.contains { $0.version == v } })
        {
            throw StatusError(.notFound, "no provider has mapping version \(v) loaded (admin mappings list)")
        }
        let warmup = r.hasWarmupMs ? r.warmupMs : Self.defaultRemapWarmupMs
        guard warmup >= 0 else { throw StatusError(.invalidArgument, "warmup_ms \(warmup) must be 0 or more") }
        var response = Telemetry_V1_RemapResponse()
        response.dryRun = r.dryRun
        // The stateful rules (last_changed_at, the transit machine, the trip) need what came
        // before the range: started empty at from_ms, an ignition that went on an hour earlier
        // would "change" at from_ms, and a remap with the very mapping that stored the records
        // would report changes that are not. So the raw records of the warm-up window are
        // mapped first, into the state only. The vehicle's live state is not touched.
        var state = VehicleMappingState()
        let warmupFrom = r.fromMs.subtractingReportingOverflow(warmup)
        var cursor: Int64? = warmup == 0 ? nil : (warmupFrom.overflow ? .min : warmupFrom.partialValue)
        while let from = cursor {
            let page = try await threadPool.runIfActive { [store, version, pinnedProvider, state, from] in
                try Self.warmUp(
                    store: store, set: set, vehicle: vehicle, from: from, to: r.fromMs, version: version,
                    pinnedProvider: pinnedProvider, state: state)
            }
            state = page.state
            response.warmupRecords += page.records
            try await progress.report("warming up", done: response.warmupRecords, unit: "records")
            cursor = page.next
        }
        // The range goes in pages, each compared and written on its own, so a year of a
        // vehicle never sits in memory at once.
        var from = r.fromMs
        while from < r.toMs {
            let page = try await threadPool.runIfActive { [store, version, pinnedProvider, state, from, response] in
                try Self.remapPage(
                    store: store, set: set, vehicle: vehicle, from: from, to: r.toMs, version: version, pinnedProvider: pinnedProvider,
                    dryRun: r.dryRun, maxChanges: maxChanges, state: state, response: response)
            }
            state = page.state
            response = page.response
            try await progress.report("remapping", done: response.rawRecords, unit: "records")
            guard let next = page.next else { break }
            from = next
        }
        // Only records of other providers were found, so nothing was written: a remap with
        // another provider's mapping is a mistake to name, not a silent "0 changed".
        if let pinnedProvider, response.rawRecords > 0, response.otherProvider == response.rawRecords {
            throw StatusError(
                .failedPrecondition,
                "none of the \(response.rawRecords) raw records of vehicle \(vehicle) in [\(r.fromMs), \(r.toMs)) is from provider "
                    + "\(pinnedProvider) (mapping_version \(r.mappingVersion)); nothing was remapped")
        }
        return response
    }

    static let remapPageSize = 5000
    /// How far back a remap warms its state up when the request does not say: a day covers
    /// the transit machine (minutes), a trip, and a status that changes at least daily.
    static let defaultRemapWarmupMs: Int64 = 86_400_000

    /// Maps one page of the raw records in [from, to) into `state` only: nothing is compared
    /// or written. Returns the state after them, how many there were, and where the next page
    /// starts (nil at the end).
    private static func warmUp(
        store: TelemetryStore, set: MappingSet, vehicle: VehicleID, from: Int64, to: Int64, version: SemanticVersion?,
        pinnedProvider: String?, state: VehicleMappingState
    ) throws -> (state: VehicleMappingState, records: UInt64, next: Int64?) {
        var state = state
        let raw = try store.rawRecords(vehicle: vehicle, from: from, to: to, limit: remapPageSize)
        guard let last = raw.last?.record.timestamp else { return (state, 0, nil) }
        var mapper = set.batch()
        for rawRecord in raw {
            let useVersion = (pinnedProvider == nil || pinnedProvider == rawRecord.record.provider) ? version : nil
            // A record the mapping refuses leaves the state as it was, as in the range itself.
            _ = mapper.map(rawRecord.record, state: &state, receivedAt: rawRecord.receivedAt, version: useVersion)
        }
        let next: Int64? = raw.count < remapPageSize || last == .max ? nil : last + 1
        return (state, UInt64(raw.count), next)
    }

    /// Remaps the raw records of one page from `from`; returns the state after them, the
    /// response so far, and where the next page starts (nil at the end of the range).
    private static func remapPage(
        store: TelemetryStore, set: MappingSet, vehicle: VehicleID, from: Int64, to: Int64, version: SemanticVersion?,
        pinnedProvider: String?, dryRun: Bool, maxChanges: Int, state: VehicleMappingState, response: Telemetry_V1_RemapResponse
    ) throws -> (state: VehicleMappingState, response: Telemetry_V1_RemapResponse, next: Int64?) {
        var state = state
        var response = response
        let raw = try store.rawRecords(vehicle: vehicle, from: from, to: to, limit: remapPageSize)
        guard let last = raw.last?.record.timestamp else { return (state, response, nil) }
        response.rawRecords += UInt64(raw.count)
        // Stored canonical records of the page's span, by timestamp, to compare with.
        var stored: [Int64: TelemetryRecord] = [:]
        try store.forEachRecord(vehicle: vehicle, from: from, to: last == .max ? .max : last + 1) { record in
            stored[record.timestamp] = record
            return true
        }
        var write = StoreWrite()
        // One batch mapper for the page: the engine's buffers are allocated once, not per record.
        var mapper = set.batch()
        for rawRecord in raw {
            let record = rawRecord.record
            if let pinnedProvider, pinnedProvider != record.provider {
                // Another provider's record (a vehicle that changed device) still moves the
                // vehicle's state, as it did when it was stored, but is neither compared nor written.
                _ = mapper.map(record, state: &state, receivedAt: rawRecord.receivedAt, version: nil)
                response.otherProvider += 1
                continue
            }
            switch mapper.map(record, state: &state, receivedAt: rawRecord.receivedAt, version: version) {
            case .failed(let f):
                // The stored record stays: a remap replaces what it can compute, and a record it
                // cannot is reported (it was stored once; its raw copy remains).
                response.failed += 1
                if response.failures.count < maxChanges {
                    response.failures.append("\(record.timestamp): \(f.reason.rawValue): \(f.message)")
                }
            case .mapped(let m):
                let new = m.telemetryRecord(from: record, receivedAt: rawRecord.receivedAt)
                let old = stored[record.timestamp]
                let changes = fieldChanges(from: old?.fields ?? [], to: new.fields)
                if let old, changes.isEmpty, old.provenance.mappingVersion == new.provenance.mappingVersion {
                    response.unchanged += 1
                    continue
                }
                response.changed += 1
                write.records.append(new)
                if response.changes.count < maxChanges {
                    response.changes.append(
                        .with {
                            $0.timestampMs = record.timestamp
                            $0.mappingVersionBefore = old?.provenance.mappingVersion ?? ""
                            $0.mappingVersionAfter = new.provenance.mappingVersion
                            $0.changes = changes
                        })
                }
            }
        }
        if !dryRun && !write.records.isEmpty { _ = try store.write(write) }
        let next: Int64? = raw.count < remapPageSize || last == .max ? nil : last + 1
        return (state, response, next)
    }

    /// What changed between two records' fields, by field name.
    static func fieldChanges(from old: [Field], to new: [Field]) -> [Telemetry_V1_FieldChange] {
        var before: [String: FieldValue] = [:]
        for f in old { before[f.name] = f.value }
        var changes: [Telemetry_V1_FieldChange] = []
        var seen = Set<String>()
        for f in new {
            seen.insert(f.name)
            if let b = before[f.name], b.isIdentical(to: f.value) { continue }
            changes.append(.with { c in
                c.field = f.name
                if let b = before[f.name] { c.before = b.wire }
                c.after = f.value.wire
            })
        }
        for f in old where !seen.contains(f.name) {
            changes.append(.with { c in
                c.field = f.name
                c.before = f.value.wire
            })
        }
        return changes.sorted { $0.field < $1.field }
    }
}

/// Which dead letters a list, replay or purge selects.
struct DeadLetterFilter: Sendable {
    var provider: String?
    var reason: String?
    var vehicle: String?
    var receivedFrom: Int64?
    var receivedTo: Int64?

    init(_ w: Telemetry_V1_DeadLetterFilter) throws(StatusError) {
        provider = w.provider.isEmpty ? nil : w.provider
        reason = w.reason.isEmpty ? nil : w.reason
        vehicle = w.vehicleID.isEmpty ? nil : w.vehicleID
        receivedFrom = w.receivedFromMs == 0 ? nil : w.receivedFromMs
        receivedTo = w.receivedToMs == 0 ? nil : w.receivedToMs
        if let f = receivedFrom, let t = receivedTo, f >= t {
            throw StatusError(.invalidArgument, "filter.received_from_ms \(f) must be before received_to_ms \(t)")
        }
    }

    var isEmpty: Bool { provider == nil && reason == nil && vehicle == nil && receivedFrom == nil && receivedTo == nil }

    func matches(_ l: DeadLetter) -> Bool {
        if let provider, l.provider != provider { return false }
        if let reason, l.reason != reason { return false }
        if let vehicle, l.vehicleID != vehicle { return false }
        if let receivedFrom, l.receivedAt < receivedFrom { return false }
        if let receivedTo, l.receivedAt >= receivedTo { return false }
        return true
    }
}

extension StoredDeadLetter {
    var wire: Telemetry_V1_DeadLetterEntry {
        .with { e in
            e.id = id
            e.record = .with { r in
                r.vehicleID = letter.vehicleID
                r.timestampMs = letter.timestamp ?? 0
                r.provider = letter.provider
                r.fields = letter.fields.map(\.wire)
                if let s = letter.gatewaySequence { r.gatewaySequence = s }
            }
            e.receivedAtMs = letter.receivedAt
            e.reason = letter.reason
            e.message = letter.message
            e.mappingVersion = letter.mappingVersion
        }
    }
}

extension MappingProblem {
    var wire: Telemetry_V1_MappingProblem {
        .with { p in
            p.file = file
            p.mapping = mapping ?? ""
            p.reason = severity.rawValue
            p.message = line.map { "line \($0): \(reason)" } ?? reason
        }
    }
}

extension MappingService.LoadedFile {
    func wire(active: Bool) -> Telemetry_V1_MappingSummary {
        .with { s in
            s.provider = provider
            s.version = version
            s.file = file
            s.mappings = UInt32(clamping: mappings)
            s.loadedAtMs = loadedAt
            s.origin = origin
            s.active = active
        }
    }
}
