public import TelemetryCore

/// Maps provider records of one provider to canonical fields with one validated mapping file.
///
/// Built once per mapping version (and asset registry); immutable and `Sendable`, so one
/// engine serves every ingest thread. All state lives in the `VehicleMappingState` the caller
/// passes in; time is passed in, never read.
public struct MappingEngine: Sendable {
    /// Thresholds and output choices of the rules the SPEC leaves open.
    public struct Options: Sendable, Hashable {
        /// Store null fields too (default false: a null field is left out of the record).
        public var emitNullFields: Bool
        /// `location_last_changed_at`: how far the position must move to count as a change, m (default 25).
        public var locationChangeThreshold: Double
        /// Ongoing trip: the least distance between two waypoints, m (default 25).
        public var waypointSpacing: Double
        /// Ongoing trip: the most waypoints kept (default 200; then every other one is dropped).
        public var maxWaypoints: Int
        /// How long an immobilize/release command overrides the output, ms (default 5 minutes).
        public var immobilizerCommandTimeout: Int64

        /// Creates options; every default is documented in docs/mapping.md.
        public init(
            emitNullFields: Bool = false, locationChangeThreshold: Double = 25, waypointSpacing: Double = 25,
            maxWaypoints: Int = 200, immobilizerCommandTimeout: Int64 = 300_000
        ) {
            self.emitNullFields = emitNullFields
            self.locationChangeThreshold = locationChangeThreshold
            self.waypointSpacing = waypointSpacing
            self.maxWaypoints = max(2, maxWaypoints)
            self.immobilizerCommandTimeout = immobilizerCommandTimeout
        }
    }

    /// Everything the engine holds, behind one reference: an engine is copied out of the
    /// mapping set for every record, and a copy should cost one retain, not one per array of
    /// the mapping file and the asset registry.
    private final class Storage: Sendable {
        let mapping: ValidatedMapping
        let assets: AssetRegistry
        let options: Options
        let plan: MappingPlan

        init(mapping: ValidatedMapping, assets: AssetRegistry, options: Options, plan: MappingPlan) {
            self.mapping = mapping
            self.assets = assets
            self.options = options
            self.plan = plan
        }
    }

    private let storage: Storage

    /// The validated mapping this engine runs.
    public var mapping: ValidatedMapping { storage.mapping }
    /// The asset facts the rules read.
    public var assets: AssetRegistry { storage.assets }
    /// The thresholds and output choices in force.
    public var options: Options { storage.options }
    var plan: MappingPlan { storage.plan }

    /// The provider this engine maps.
    public var provider: String { storage.plan.provider }
    /// The mapping version (stored with every record it produces).
    public var version: SemanticVersion { mapping.file.version }

    /// Builds an engine.
    /// - Parameters:
    ///   - mapping: a validated mapping file.
    ///   - catalog: the catalog it was validated against.
    ///   - functions: the registry it was validated against.
    ///   - assets: the asset registry.
    ///   - options: thresholds.
    public init(
        mapping: ValidatedMapping, catalog: FieldCatalog, functions: MappingFunctionRegistry = .standard,
        assets: AssetRegistry = .empty, options: Options = Options()
    ) {
        self.storage = Storage(
            mapping: mapping, assets: assets, options: options,
            plan: MappingPlan(mapping: mapping, catalog: catalog, functions: functions))
    }

    /// An engine whose plan has no inline rules: every step takes the general path (tests
    /// compare the two).
    init(generalPathOnly mapping: ValidatedMapping, catalog: FieldCatalog, assets: AssetRegistry) {
        self.init(
            mapping: mapping, assets: assets, options: Options(),
            plan: MappingPlan(mapping: mapping, catalog: catalog, functions: .standard, inline: false))
    }

    private init(mapping: ValidatedMapping, assets: AssetRegistry, options: Options, plan: MappingPlan) {
        self.storage = Storage(mapping: mapping, assets: assets, options: options, plan: plan)
    }

    /// The same mapping with another asset registry (after an admin replaces it).
    public func replacingAssets(_ assets: AssetRegistry) -> MappingEngine {
        MappingEngine(mapping: mapping, assets: assets, options: options, plan: plan)
    }

    /// Maps one record.
    /// - Parameters:
    ///   - record: the provider record (its `provider` must be this engine's).
    ///   - state: the vehicle's state; updated in place when the record maps, left unchanged
    ///     when it fails.
    ///   - receivedAt: when the store received the record, ms: "now" for the connectivity rule.
    /// - Returns: the canonical fields, or a record-level failure for the dead letters.
    public func map(_ record: ProviderRecord, state: inout VehicleMappingState, receivedAt: Int64) -> MappingOutcome {
        if let refused = refusal(record) { return .failed(refused) }
        state.bindMemory(to: plan.memoryLayout)
        let saved = plan.canFailRecord ? state : nil
        var evaluation = MappingEvaluation(engine: self, record: record, receivedAt: receivedAt)
        return evaluation.finish(evaluation.run(state: &state), saved: saved, state: &state)
    }

    /// Maps one record with the buffers of an evaluation of this engine (`MappingSet.Batch`).
    func map(
        _ record: ProviderRecord, state: inout VehicleMappingState, receivedAt: Int64,
        evaluation: inout MappingEvaluation
    ) -> MappingOutcome {
        if let refused = refusal(record) { return .failed(refused) }
        state.bindMemory(to: plan.memoryLayout)
        let saved = plan.canFailRecord ? state : nil
        evaluation.begin(record, receivedAt: receivedAt)
        return evaluation.finish(evaluation.run(state: &state), saved: saved, state: &state)
    }

    /// Whether this engine and an evaluation's are one (same plan, assets and options).
    func isSame(as other: MappingEngine) -> Bool { storage === other.storage }

    /// Why a record cannot be mapped by this engine at all, nil when it can.
    private func refusal(_ record: ProviderRecord) -> MappingFailure? {
        let versionText = plan.versionText
        guard record.provider == provider else {
            return MappingFailure(
                reason: .unknownProvider,
                message: "record of provider \(record.provider) given to the \(provider) mapping \(versionText)",
                provider: record.provider, mappingVersion: versionText)
        }
        // Every Int64 is a time here, Int64.min included (PROTOCOL section 7.3: any past time);
        // the wire's "no timestamp" (0) is dead-lettered by the server before mapping.
        guard !record.vehicle.rawValue.isEmpty else {
            return MappingFailure(
                reason: .missingVehicleOrTimestamp, message: "record at \(record.timestamp) has no vehicle id",
                provider: provider, mappingVersion: versionText)
        }
        return nil
    }

    /// The periodic connectivity sweep: offline means no packet arrives, so evaluating only on
    /// arrival never produces it (SPEC section 4).
    ///
    /// When the vehicle's newest packet is older than its threshold (24 h, 1 h for a
    /// Site.Coldroom) and it is not already offline, the state moves to offline and the
    /// changed fields are returned, stamped at the moment the threshold passed (last packet +
    /// threshold), so the result does not depend on how often the sweep runs.
    /// - Parameters:
    ///   - vehicle: the vehicle.
    ///   - state: its state; updated when a transition happens.
    ///   - now: the sweep's time, ms.
    /// - Returns: the transition, or nil when there is none (or the mapping has no connectivity rule).
    public func sweepConnectivity(
        vehicle: VehicleID, state: inout VehicleMappingState, now: Int64
    ) -> ConnectivityTransition? {
        guard let codeField = plan.sweepFields.connectivityCode, let last = state.lastPacketAt,
            state.connectivityCode != "offline"
        else { return nil }
        let threshold = StatusRules.offlineThreshold(for: assets.facts(for: vehicle))
        guard now.saturatingSubtracting(last) >= threshold else { return nil }
        let at = last.saturatingAdding(threshold)
        state.connectivityCode = "offline"
        var fields = [Field(codeField, .string("offline"))]
        func changed(_ name: String?, to value: FieldValue) {
            guard let name else { return }
            if let m = state[memoryNamed: name], m.input.isIdentical(to: value) { return }
            state[memoryNamed: name] = FieldMemory(input: value, output: .int(at))
            fields.append(Field(name, .int(at)))
        }
        changed(plan.sweepFields.connectivityChanged, to: .string("offline"))
        if let name = plan.sweepFields.topFamily {
            fields.append(Field(name, .string(StatusFamily.connectivity.rawValue)))
        }
        if let name = plan.sweepFields.topCode { fields.append(Field(name, .string("offline"))) }
        changed(plan.sweepFields.topChanged, to: .string("offline"))
        return ConnectivityTransition(at: at, fields: fields)
    }
}
