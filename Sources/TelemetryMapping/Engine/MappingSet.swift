import Foundation
public import TelemetryCore

/// The mappings the store holds: every loaded version per provider, and the active one.
///
/// A value type: the server keeps one behind a lock, replaces it on load/reload, and maps
/// each batch with a copy (copies share their engines). Rules:
/// - A file is validated before anything changes; an invalid file throws and the active
///   version keeps serving.
/// - A newly loaded version becomes active when it is newer (semantic-version precedence) than
///   the active one, or when the active one is a built-in default. An older version is kept,
///   inactive, for `activate` and re-mapping.
/// - A version already loaded with the same definition is a no-op (a reload of the same
///   folder); with a different definition it is refused: records carry the version that
///   produced them, so one version must mean one definition.
public struct MappingSet: Sendable {
    /// Where a mapping came from.
    public enum Origin: String, Sendable, Hashable {
        /// A default file shipped in the module (`Defaults/`).
        case builtIn
        /// A file the operator loaded.
        case loaded
    }

    /// One loaded version.
    public struct Entry: Sendable {
        /// The compiled mapping.
        public let engine: MappingEngine
        /// Whether it is a built-in default or an operator file.
        public let origin: Origin

        /// The validated mapping.
        public var mapping: ValidatedMapping { engine.mapping }
        /// The mapping version.
        public var version: SemanticVersion { engine.version }
    }

    /// A provider's versions, for `mappings list`.
    public struct ProviderSummary: Sendable, Hashable {
        /// The provider.
        public var provider: String
        /// The active version, nil when the provider is deactivated.
        public var active: SemanticVersion?
        /// Every loaded version, oldest first, with its origin.
        public var versions: [(version: SemanticVersion, origin: Origin)]

        /// Equal when provider, active version and versions are equal.
        public static func == (a: ProviderSummary, b: ProviderSummary) -> Bool {
            a.provider == b.provider && a.active == b.active && a.versions.map(\.version) == b.versions.map(\.version)
                && a.versions.map(\.origin) == b.versions.map(\.origin)
        }

        /// Hashes the provider and active version.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(provider)
            hasher.combine(active)
        }
    }

    /// What a load did.
    public enum LoadResult: Sendable, Hashable {
        /// The version is now active (`previous` was active before, if any).
        case activated(previous: SemanticVersion?)
        /// Loaded, but an equal-or-newer version stays active.
        case loadedInactive(active: SemanticVersion)
        /// The same version with the same definition was already loaded.
        case unchanged
    }

    /// A load's outcome and the warnings the file produced.
    public struct LoadReport: Sendable, Hashable {
        /// The provider.
        public var provider: String
        /// The file's version.
        public var version: SemanticVersion
        /// What the load changed.
        public var result: LoadResult
        /// The file's warnings (problems that did not block it).
        public var warnings: [MappingProblem]
    }

    /// The catalog files are validated against.
    public private(set) var catalog: FieldCatalog
    /// The functions files may call.
    public private(set) var functions: MappingFunctionRegistry
    /// The asset registry every engine reads.
    public private(set) var assets: AssetRegistry
    /// The engines' options.
    public private(set) var options: MappingEngine.Options
    private var entries: [String: [Entry]] = [:]
    private var active: [String: SemanticVersion] = [:] {
        didSet { refreshActiveEngines() }
    }
    /// The active engine per provider, kept beside `active` so mapping a record costs one
    /// dictionary lookup (no version comparisons).
    private var activeEngines: [String: MappingEngine] = [:]

    private mutating func refreshActiveEngines() {
        var engines: [String: MappingEngine] = [:]
        for (provider, version) in active {
            if let e = entries[provider]?.first(where: { $0.version == version }) { engines[provider] = e.engine }
        }
        activeEngines = engines
    }

    /// An empty set.
    public init(
        catalog: FieldCatalog, functions: MappingFunctionRegistry = .standard, assets: AssetRegistry = .empty,
        options: MappingEngine.Options = .init()
    ) {
        self.catalog = catalog
        self.functions = functions
        self.assets = assets
        self.options = options
    }

    /// The bundled catalog and default mappings (`navixy`, `generic`, `bench`), as built-ins,
    /// with the earlier built-in versions this build still ships (`DefaultFiles.earlierVersions`).
    /// - Throws: `MappingValidationError` if a bundled file is broken (a build defect).
    public static func withDefaults(
        assets: AssetRegistry = .empty, options: MappingEngine.Options = .init()
    ) throws(MappingValidationError) -> MappingSet {
        var set = MappingSet(catalog: try FieldCatalog.bundled(), assets: assets, options: options)
        // Earlier built-ins first: the newest version of a provider is the active one.
        for earlier in DefaultFiles.earlierVersions {
            _ = try set.load(yaml: try DefaultFiles.text(of: earlier), file: earlier.file, origin: .builtIn)
        }
        for name in Self.defaultFileNames {
            _ = try set.load(yaml: try DefaultFiles.text(named: name), file: name, origin: .builtIn)
        }
        return set
    }

    /// The default mapping files under `Defaults/`.
    public static let defaultFileNames = ["navixy.yaml", "generic.yaml", "bench.yaml"]

    /// Validates and loads a mapping file.
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - file: its name, for problem reports.
    ///   - origin: `.loaded` for operator files.
    /// - Returns: what changed, with the file's warnings.
    /// - Throws: `MappingValidationError` naming every problem; nothing changes then.
    public mutating func load(
        yaml: String, file: String, origin: Origin = .loaded
    ) throws(MappingValidationError) -> LoadReport {
        let validated = try ValidatedMapping.load(yaml: yaml, file: file, catalog: catalog, functions: functions)
        let provider = validated.file.provider
        let version = validated.file.version
        var list = entries[provider] ?? []
        if let existing = list.first(where: { $0.version.hasSamePrecedence(as: version) }) {
            guard existing.mapping.file.hasSameDefinition(as: validated.file) else {
                throw MappingValidationError(problems: [
                    MappingProblem(
                        file: file, mapping: nil,
                        reason: "version \(version) of provider \(provider) already has a different "
                            + "definition (from \(existing.mapping.file.fileName)\(existing.origin == .builtIn ? ", built into telemetryd" : "")); "
                            + "a changed file needs a new version")
                ])
            }
            return LoadReport(provider: provider, version: version, result: .unchanged, warnings: validated.warnings)
        }
        let engine = MappingEngine(
            mapping: validated, catalog: catalog, functions: functions, assets: assets, options: options)
        list.append(Entry(engine: engine, origin: origin))
        list.sort { $0.version < $1.version }
        entries[provider] = list

        let result: LoadResult
        if let current = active[provider], let currentEntry = list.first(where: { $0.version == current }) {
            let outranks = origin == .loaded && currentEntry.origin == .builtIn
            let newer = current < version && !(origin == .builtIn && currentEntry.origin == .loaded)
            if outranks || newer {
                active[provider] = version
                result = .activated(previous: current)
            } else {
                result = .loadedInactive(active: current)
            }
        } else {
            active[provider] = version
            result = .activated(previous: nil)
        }
        return LoadReport(provider: provider, version: version, result: result, warnings: validated.warnings)
    }

    /// Loads every `*.yaml`/`*.yml` file of a folder, in name order; one bad file does not stop the others.
    /// - Returns: the reports of the files that loaded, and the problems of those that did not.
    public mutating func loadFolder(_ path: String) -> (reports: [LoadReport], problems: [MappingProblem]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        var reports: [LoadReport] = []
        var problems: [MappingProblem] = []
        for name in names {
            guard let data = FileManager.default.contents(atPath: (path as NSString).appendingPathComponent(name))
            else {
                problems.append(MappingProblem(file: name, mapping: nil, reason: "cannot read the file"))
                continue
            }
            do {
                reports.append(try load(yaml: String(decoding: data, as: UTF8.self), file: name))
            } catch {
                problems += error.problems
            }
        }
        return (reports, problems)
    }

    /// Every problem of a file, without loading it (`mappings validate`).
    public func validate(yaml: String, file: String) -> [MappingProblem] {
        ValidatedMapping.problems(yaml: yaml, file: file, catalog: catalog, functions: functions)
    }

    /// Makes a loaded version the active one (also to roll back).
    /// - Throws: `MappingFailure` (`no_active_mapping`) when that version is not loaded.
    public mutating func activate(provider: String, version: SemanticVersion) throws(MappingFailure) {
        guard entries[provider]?.contains(where: { $0.version == version }) == true else {
            throw MappingFailure(
                reason: .noActiveMapping, message: "version \(version) of provider \(provider) is not loaded",
                provider: provider,
                mappingVersion: version.description)
        }
        active[provider] = version
    }

    /// The version a provider's records are mapped with when nobody chose one by hand: the
    /// newest version an operator loaded, else the newest built-in (as `load` ranks them,
    /// whatever the order they came in). A rollback is any other active version.
    public func defaultVersion(of provider: String) -> SemanticVersion? {
        guard let list = entries[provider] else { return nil }
        return (list.last { $0.origin == .loaded } ?? list.last)?.version
    }

    /// Stops mapping a provider's records (they are dead-lettered as `no_active_mapping`).
    public mutating func deactivate(provider: String) {
        active[provider] = nil
    }

    /// Replaces the asset registry of every engine.
    public mutating func replaceAssets(_ assets: AssetRegistry) {
        self.assets = assets
        for (provider, list) in entries {
            entries[provider] = list.map { Entry(engine: $0.engine.replacingAssets(assets), origin: $0.origin) }
        }
        refreshActiveEngines()
    }

    /// The engine of a provider: the active one, or a given loaded version.
    public func engine(for provider: String, version: SemanticVersion? = nil) -> MappingEngine? {
        guard let version else { return activeEngines[provider] }
        return entries[provider]?.first(where: { $0.version == version })?.engine
    }

    /// One loaded version (for `mappings show`).
    public func entry(provider: String, version: SemanticVersion) -> Entry? {
        entries[provider]?.first(where: { $0.version == version })
    }

    /// Every provider with its versions, sorted by provider.
    public var summaries: [ProviderSummary] {
        entries.keys.sorted().map { p in
            ProviderSummary(provider: p, active: active[p], versions: entries[p]!.map { ($0.version, $0.origin) })
        }
    }

    /// Maps a record with its provider's active mapping (or a given version, for re-mapping).
    /// - Parameters:
    ///   - record: the provider record.
    ///   - state: the vehicle's state (unchanged when the record fails).
    ///   - receivedAt: the store's receive time, ms.
    ///   - version: a loaded version to use instead of the active one.
    public func map(
        _ record: ProviderRecord, state: inout VehicleMappingState, receivedAt: Int64, version: SemanticVersion? = nil
    ) -> MappingOutcome {
        switch resolve(record, version: version) {
        case .success(let engine): return engine.map(record, state: &state, receivedAt: receivedAt)
        case .failure(let failure): return .failed(failure)
        }
    }

    /// Maps the records of a batch with one set of buffers per engine: the evaluation's
    /// arrays (provider values, computed values, function arguments) are allocated once per
    /// batch instead of once per record. Results are those of `map(_:state:receivedAt:version:)`.
    ///
    /// A local value for one thread: make one per batch (`MappingSet.batch()`), map its records
    /// in order with each vehicle's state, and drop it.
    public struct Batch {
        /// The set the records are mapped with.
        public let set: MappingSet
        /// The evaluation of the engine last used (one engine per provider and batch, as a rule).
        private var evaluation: MappingEvaluation?

        init(set: MappingSet) {
            self.set = set
        }

        /// Maps one record, as `MappingSet.map(_:state:receivedAt:version:)`.
        public mutating func map(
            _ record: ProviderRecord, state: inout VehicleMappingState, receivedAt: Int64,
            version: SemanticVersion? = nil
        ) -> MappingOutcome {
            let engine: MappingEngine
            switch set.resolve(record, version: version) {
            case .success(let e): engine = e
            case .failure(let f): return .failed(f)
            }
            // Evaluated in place (`evaluation!` as inout): copying the evaluation out would
            // retain each of its buffers and make them shared while they are refilled.
            if evaluation?.engine.isSame(as: engine) == true {
                return engine.map(record, state: &state, receivedAt: receivedAt, evaluation: &evaluation!)
            }
            var fresh = MappingEvaluation(engine: engine, record: record, receivedAt: receivedAt)
            let outcome = engine.map(record, state: &state, receivedAt: receivedAt, evaluation: &fresh)
            evaluation = fresh
            return outcome
        }
    }

    /// A batch mapper over this set (see `Batch`).
    public func batch() -> Batch { Batch(set: self) }

    /// The engine a record is mapped with, or the failure that dead-letters it.
    func resolve(_ record: ProviderRecord, version: SemanticVersion?) -> Result<MappingEngine, MappingFailure> {
        if version == nil, let engine = activeEngines[record.provider] { return .success(engine) }
        guard let list = entries[record.provider], !list.isEmpty else {
            return .failure(
                MappingFailure(
                    reason: .unknownProvider, message: "no mapping is loaded for provider \(record.provider)",
                    provider: record.provider))
        }
        guard let engine = engine(for: record.provider, version: version) else {
            let what = version.map { "version \($0) is not loaded" } ?? "no version is active"
            return .failure(
                MappingFailure(
                    reason: .noActiveMapping, message: "provider \(record.provider): \(what)",
                    provider: record.provider,
                    mappingVersion: version?.description))
        }
        return .success(engine)
    }

    /// The connectivity sweep for one vehicle, with its provider's active mapping.
    public func sweepConnectivity(
        vehicle: VehicleID, provider: String, state: inout VehicleMappingState, now: Int64
    ) -> ConnectivityTransition? {
        engine(for: provider)?.sweepConnectivity(vehicle: vehicle, state: &state, now: now)
    }
}
