public import CoreMetrics
public import Logging
import Foundation
import Synchronization
public import TelemetryCore
public import TelemetryMapping
public import TelemetryStorage

/// The mappings a server applies while it ingests: the loaded mapping files, the asset
/// registry, and every vehicle's mapping state (docs/mapping.md, section 1).
///
/// - Mapping files come from the built-in defaults, the operator's folder (read at start and
///   on reload) and `admin mappings load` (validated, then written into the folder, so a
///   restart finds them). A file that does not validate changes nothing: the active version
///   keeps serving.
/// - Vehicle states are kept in memory, authoritative, and written with every record that
///   changes them. A vehicle's records are mapped one at a time under its stripe's lock, so
///   two connections sending the same vehicle never map from the same state twice. A state
///   idle for a while, and stored as it is in memory, can be dropped from memory
///   (`evictIdleStates`): the vehicle's next record reads it back from the store.
public final class MappingService: Sendable {
    /// Where the service finds and keeps its files.
    public struct Configuration: Sendable {
        /// The operator's mapping files (`*.yaml`); `admin mappings load` writes here. nil: only
        /// the defaults and admin loads, kept in memory.
        public var folder: String?
        /// The asset registry file (YAML or JSON), read at start if it exists and on reload;
        /// `admin assets load` replaces it. nil: the registry lives in memory only.
        public var assetsFile: String?
        /// Thresholds of the stateful rules.
        public var options: MappingEngine.Options

        public init(folder: String? = nil, assetsFile: String? = nil, options: MappingEngine.Options = .init()) {
            self.folder = folder
            self.assetsFile = assetsFile
            self.options = options
        }
    }

    /// A loaded file, for `mappings list` and `mappings show`.
    public struct LoadedFile: Sendable, Hashable {
        public var provider: String
        public var version: String
        public var file: String
        public var yaml: String
        public var mappings: Int
        public var loadedAt: Int64
        /// `default` (built in), `folder` (the operator's folder) or `admin` (admin mappings load).
        public var origin: String
    }

    /// What a reload did.
    public struct ReloadReport: Sendable {
        /// `provider@version` of each version loaded (or activated) by the reload.
        public var loaded: [String] = []
        /// Providers whose rollback (`admin mappings activate`) ended because the reload loaded
        /// a newer version, which is now active, as `load` of that version would have done.
        public var unpinned: [String] = []
        /// `provider@version` of each rollback carried on to a version the reload loaded: newer
        /// than the one pinned, but not the provider's default version, which stays inactive.
        public var repinned: [String] = []
        /// Problems of the files that were refused (they changed nothing), warnings of the files
        /// taken in, and problems of the pin file.
        public var problems: [MappingProblem] = []
        /// How many mapping files were refused (the pin file's problems are not a refused mapping).
        public var refusedFiles: Int {
            Set(problems.filter { $0.severity == .error && $0.file != MappingService.pinFileName }.map(\.file)).count
        }
        /// Set when the asset file could not be read; the previous registry stays.
        public var assetsProblem: String?
    }

    struct Registry: Sendable {
        var set: MappingSet
        /// Keyed by `provider@version`.
        var files: [String: LoadedFile]
        /// Provider -> the version an operator activated (a rollback), kept in the folder's
        /// pin file so a restart or reload keeps it, until the newest version becomes active.
        var pins: [String: String] = [:]

        /// The pin a provider gets once `version` is its active one: none when it is the version
        /// a start without pins would make active (`MappingSet.defaultVersion`: the newest
        /// operator file, else the newest built-in), else that version (a rollback, kept).
        func pinAfterActivating(_ provider: String, _ version: SemanticVersion) -> String? {
            let unpinned = set.defaultVersion(of: provider)
            return unpinned.map { version.hasSamePrecedence(as: $0) } == true ? nil : version.description
        }
    }

    /// The pin file in the mapping folder (JSON, provider -> version); not a mapping file.
    public static let pinFileName = "active-versions.json"

    /// One vehicle's state as the service holds it.
    struct Slot: Sendable {
        var state: VehicleMappingState
        /// Bumped on every change, written first in the stored bytes: the store keeps the
        /// highest (docs/storage-format.md, section 9).
        var generation: UInt64
        /// The provider of the vehicle's newest mapped record, for the connectivity sweep.
        var provider: String
        /// When a batch last mapped a record of the vehicle (its received time, ms); 0 for a
        /// state read back from the store and not used since.
        var lastUsed: Int64 = 0
    }

    public let configuration: Configuration
    private let registry: Mutex<Registry>
    private let stripes: [Stripe]
    private let metrics: MappingMetrics
    private let logger: Logger
    let clock: @Sendable () -> Int64

    static let stripeCount = 64

    /// Loads the defaults, the folder and the asset file.
    /// - Throws: `MappingValidationError` when a built-in default is broken (a build defect),
    ///   when the asset file exists but is invalid, or when a file of the folder is refused
    ///   (invalid, or a loaded version with another definition) or the pin file cannot be read
    ///   or names a version no file provides: the operator must fix it first.
    public init(
        configuration: Configuration, metrics: MappingMetrics = MappingMetrics(), logger: Logger,
        clock: (@Sendable () -> Int64)? = nil
    ) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.clock = clock ?? { Int64(Date().timeIntervalSince1970 * 1000) }
        var assets = AssetRegistry.empty
        if let path = configuration.assetsFile, FileManager.default.fileExists(atPath: path) {
            assets = try AssetRegistry.load(contentsOfFile: path)
        }
        let set = try MappingSet.withDefaults(assets: assets, options: configuration.options)
        var files: [String: LoadedFile] = [:]
        let now = self.clock()
        for summary in set.summaries {
            for v in summary.versions {
                guard let entry = set.entry(provider: summary.provider, version: v.version) else { continue }
                files["\(summary.provider)@\(v.version)"] = LoadedFile(
                    provider: summary.provider, version: v.version.description, file: entry.mapping.file.fileName,
                    yaml: entry.mapping.sourceText, mappings: entry.mapping.file.mappings.count, loadedAt: now,
                    origin: "default")
            }
        }
        registry = Mutex(Registry(set: set, files: files))
        stripes = (0..<Self.stripeCount).map { _ in Stripe() }
        if configuration.folder != nil {
            let report = readFolder(readAssets: false, atStart: true)
            // At start there is no previous version to keep serving: skipping a refused file
            // would silently make another version active (an older one, or the built-in), and
            // records would be mapped by rules nobody chose. Like an invalid configuration
            // file, it stops the start; on reload (SIGHUP) it changes nothing instead.
            let errors = report.problems.filter { $0.severity == .error }
            if !errors.isEmpty { throw MappingValidationError(problems: errors) }
            for p in report.problems {
                logger.warning("mapping file warning", metadata: ["telemetry.mapping.problem": "\(p.located)"])
            }
        }
    }

    // MARK: - Files

    /// Reads the folder again (and the asset file): new versions are loaded, an invalid file
    /// is reported and changes nothing. Versions whose files left the folder stay loaded until
    /// the server restarts (records name them; re-mapping may still need them).
    ///
    /// A version newer than a provider's pinned one (`activate`) ends the rollback and becomes
    /// active, and the pin file is rewritten without it: copying a file into the folder and
    /// sending SIGHUP is the same as `admin mappings load` of that file.
    @discardableResult
    public func reload(readAssets: Bool = true) -> ReloadReport {
        readFolder(readAssets: readAssets, atStart: false)
    }

    /// Reads the folder and the pin file. At start every file of the folder is new to the
    /// service, so a newer version does not end a rollback then: a restart cannot tell a file
    /// that was there when the operator rolled back from one copied in while it was stopped,
    /// and the rollback must survive a restart. A newer version held back that way is reported
    /// as a warning.
    private func readFolder(readAssets: Bool, atStart: Bool) -> ReloadReport {
        var report = ReloadReport()
        var newAssets: AssetRegistry?
        if readAssets, let path = configuration.assetsFile, FileManager.default.fileExists(atPath: path) {
            do { newAssets = try AssetRegistry.load(contentsOfFile: path) } catch {
                report.assetsProblem = error.problems.map(\.description).joined(separator: "; ")
            }
        }
        var texts: [(name: String, yaml: String)] = []
        if let folder = configuration.folder {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: folder)
                    .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            } catch {
                // A missing folder is an empty one: the operator has not written any file yet.
                names = []
                if FileManager.default.fileExists(atPath: folder) {
                    report.problems.append(MappingProblem(file: folder, mapping: nil, reason: "cannot list the folder: \(error)"))
                }
            }
            for name in names {
                guard let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(name)) else {
                    report.problems.append(MappingProblem(file: name, mapping: nil, reason: "cannot read the file"))
                    continue
                }
                texts.append((name, String(decoding: data, as: UTF8.self)))
            }
        }
        // nil: the pin file is there but unreadable. At start that stops the start (the
        // rollbacks it holds cannot be known); on reload the pins in force stay.
        var filePins: [String: String]? = [:]
        if let folder = configuration.folder {
            let pinPath = (folder as NSString).appendingPathComponent(Self.pinFileName)
            let consequence =
                atStart
                ? "the rollbacks it holds cannot be read: fix it, or remove it to make the newest version of each provider active"
                : "the rollbacks in force stay until it is fixed"
            // Absent means no rollback. There but unreadable (a folder, no permission) is not
            // absent: its rollbacks are unknown, as for a file that does not parse.
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: pinPath, isDirectory: &isFolder) {
                if !isFolder.boolValue, let data = FileManager.default.contents(atPath: pinPath) {
                    if let decoded = try? JSONDecoder().decode([String: String].self, from: data) {
                        filePins = decoded
                    } else {
                        filePins = nil
                        report.problems.append(
                            MappingProblem(file: Self.pinFileName, mapping: nil, reason: "not a JSON object of provider -> version; \(consequence)"))
                    }
                } else {
                    filePins = nil
                    report.problems.append(
                        MappingProblem(
                            file: Self.pinFileName, mapping: nil,
                            reason: "cannot be read (\(isFolder.boolValue ? "it is a folder" : "no permission, or an I/O error")); \(consequence)"))
                }
            }
        }
        let now = clock()
        registry.withLock { r in
            if let newAssets { r.set.replaceAssets(newAssets) }
            var pins = filePins ?? r.pins
            let pinsBefore = pins
            // Provider -> the version it was pinned to, for the rollbacks a newer version ended.
            var unpinned: [String: String] = [:]
            for (name, yaml) in texts {
                do throws(MappingValidationError) {
                    let loaded = try r.set.load(yaml: yaml, file: name)
                    let key = "\(loaded.provider)@\(loaded.version)"
                    if case .unchanged = loaded.result { continue }
                    report.loaded.append(key)
                    // A file taken in with warnings says so, as a refused one does (its warnings
                    // were reported when it was first read: an unchanged file is not repeated).
                    report.problems += loaded.warnings
                    r.files[key] = LoadedFile(
                        provider: loaded.provider, version: loaded.version.description, file: name, yaml: yaml,
                        mappings: r.set.entry(provider: loaded.provider, version: loaded.version)?.mapping.file.mappings.count ?? 0,
                        loadedAt: now, origin: "folder")
                    // As in `load`: a version newer than the active one (the pinned one, applied
                    // by the previous read or by `activate`) ends the provider's rollback when it
                    // is the newest, and otherwise carries the rollback on to itself.
                    if !atStart, case .activated = loaded.result, pins[loaded.provider] != nil {
                        if let pin = r.pinAfterActivating(loaded.provider, loaded.version) {
                            pins[loaded.provider] = pin
                        } else {
                            pins[loaded.provider] = nil
                            unpinned[loaded.provider] = pinsBefore[loaded.provider]
                        }
                    }
                } catch {
                    report.problems += error.problems
                }
            }
            // Written before it takes effect, so a restart keeps what runs. With an unreadable pin
            // file nothing can be written: the rollbacks in force stay, as its problem says, or
            // the file, once fixed, would pin the older version again at the next read.
            if pins != pinsBefore, filePins == nil {
                pins = pinsBefore
                unpinned = [:]
            }
            if pins != pinsBefore {
                do throws(StatusError) { try self.writePins(pins) } catch {
                    let changed = Set(pins.keys).union(pinsBefore.keys).filter { pins[$0] != pinsBefore[$0] }.sorted()
                    pins = pinsBefore
                    report.problems.append(
                        MappingProblem(
                            file: Self.pinFileName, mapping: nil,
                            reason: "cannot move or end the rollbacks of \(changed.joined(separator: ", ")) for the newer "
                                + "versions loaded (\(error.message)); the pinned versions stay active"))
                    unpinned = [:]
                }
            }
            report.unpinned = unpinned.keys.sorted()
            report.repinned = pins.filter { pinsBefore[$0.key] != nil && pinsBefore[$0.key] != $0.value }
                .map { "\($0.key)@\($0.value)" }.sorted()
            // Operator rollbacks win over the newest file, as long as that version is loaded.
            r.pins = pins
            for (provider, text) in pins.sorted(by: { $0.key < $1.key }) {
                guard let version = SemanticVersion(text), (try? r.set.activate(provider: provider, version: version)) != nil else {
                    report.problems.append(
                        MappingProblem(file: Self.pinFileName, mapping: provider, reason: "pinned version \(text) is not loaded (no file provides it)"))
                    continue
                }
                guard atStart, let newest = r.set.summaries.first(where: { $0.provider == provider })?.versions.last?.version,
                    version < newest
                else { continue }
                report.problems.append(
                    MappingProblem(
                        file: Self.pinFileName, mapping: provider,
                        reason: "pinned version \(text) stays active over the newer \(newest) (admin mappings activate \(provider) "
                            + "\(newest), or admin mappings load of a newer file, ends the rollback)",
                        severity: .warning))
            }
        }
        return report
    }

    /// Validates files and, when every one is valid, loads them all and writes them into the
    /// folder; otherwise changes nothing.
    /// - Returns: the loaded versions, with the files' warnings.
    /// - Throws: `StatusError` INVALID_ARGUMENT naming every problem (file, mapping, reason);
    ///   INTERNAL-free I/O failures as UNAVAILABLE with the path.
    public func load(files: [(name: String, yaml: String)]) throws(StatusError) -> (loaded: [LoadedFile], warnings: [MappingProblem]) {
        guard !files.isEmpty else { throw StatusError(.invalidArgument, "files is empty: send at least one mapping file") }
        for (i, f) in files.enumerated() where f.name.isEmpty || f.name.contains("/") || f.name.hasPrefix(".") || f.name.utf8.contains(0) {
            throw StatusError(.invalidArgument, "files[\(i)]: name \"\(f.name)\" must be a plain file name")
        }
        let now = clock()
        // Validate and load into a copy; only a copy that took every file replaces the set.
        var copy = registry.withLock { $0 }
        var problems: [MappingProblem] = []
        var reports: [(MappingSet.LoadReport, name: String, yaml: String)] = []
        for f in files {
            do {
                let report = try copy.set.load(yaml: f.yaml, file: f.name)
                reports.append((report, f.name, f.yaml))
                problems += report.warnings
            } catch { problems += error.problems }
        }
        problems += storedNameConflicts(reports.map { ($0.0.provider, $0.0.version, $0.name) }, files: copy.files)
        let errors = problems.filter { $0.severity == .error }
        guard errors.isEmpty else {
            throw StatusError(
                .invalidArgument,
                "\(errors.count) problem\(errors.count == 1 ? "" : "s"); nothing was activated: "
                    + errors.map(\.located).joined(separator: "; "))
        }
        var loaded: [LoadedFile] = []
        for (report, name, yaml) in reports {
            let stored = Self.storedFileName(provider: report.provider, version: report.version)
            if let folder = configuration.folder {
                try Self.writeAtomically(yaml, to: (folder as NSString).appendingPathComponent(stored))
            }
            let file = LoadedFile(
                provider: report.provider, version: report.version.description, file: configuration.folder == nil ? name : stored,
                yaml: yaml, mappings: copy.set.entry(provider: report.provider, version: report.version)?.mapping.file.mappings.count ?? 0,
                loadedAt: now, origin: "admin")
            if case .unchanged = report.result {
                loaded.append(copy.files["\(report.provider)@\(report.version)"] ?? file)
                continue
            }
            copy.files["\(report.provider)@\(report.version)"] = file
            loaded.append(file)
        }
        // Another load may have landed meanwhile: apply ours on top of the current set, in the
        // same order; the files already validated, so only a same-version conflict can fail.
        try registry.withLock { (r: inout Registry) throws(StatusError) in
            var next = r
            for (report, name, yaml) in reports {
                let result: MappingSet.LoadResult
                do throws(MappingValidationError) { result = try next.set.load(yaml: yaml, file: name).result } catch {
                    throw StatusError(.aborted, "a concurrent load changed \(report.provider) \(report.version): " + error.problems.map(\.located).joined(separator: "; "))
                }
                // A newer version loaded on purpose ends a rollback of its provider when it is
                // the newest, and otherwise carries the rollback on to itself: a version older
                // than the one rolled back from must not give way to it at the next start.
                if case .activated = result, next.pins[report.provider] != nil {
                    next.pins[report.provider] = next.pinAfterActivating(report.provider, report.version)
                }
            }
            for file in loaded { next.files["\(file.provider)@\(file.version)"] = file }
            if next.pins != r.pins { try self.writePins(next.pins) }
            r = next
        }
        for file in loaded {
            logger.notice("mapping loaded", metadata: ["telemetry.mapping": "\(file.provider)@\(file.version)", "telemetry.mapping.file": "\(file.file)"])
        }
        return (loaded, problems.filter { $0.severity == .warning })
    }

    /// Makes a loaded version the active one (a rollback, or forward again), and keeps that
    /// choice in the folder (`pinAfterActivating`) until the newest version becomes active.
    /// - Returns: the version now active and the one active before.
    public func activate(provider: String, version text: String) throws(StatusError) -> (file: LoadedFile, previous: String?) {
        guard let version = SemanticVersion(text) else { throw StatusError(.invalidArgument, "version \"\(text)\" is not a semantic version") }
        let result = try registry.withLock { (r: inout Registry) throws(StatusError) -> (LoadedFile, String?) in
            guard let file = r.files["\(provider)@\(version)"] else {
                let loaded = r.files.values.filter { $0.provider == provider }.map(\.version).sorted()
                throw StatusError(
                    .notFound,
                    loaded.isEmpty ? "no mapping is loaded for provider \"\(provider)\"" : "provider \(provider) has no version \(text); loaded: \(loaded.joined(separator: ", "))")
            }
            let previous = r.set.summaries.first { $0.provider == provider }?.active?.description
            var next = r
            do throws(MappingFailure) { try next.set.activate(provider: provider, version: version) } catch {
                throw StatusError(.notFound, error.message)
            }
            // The newest version is no rollback: pinning it would hold it, at the next start, over
            // a newer file copied into the folder or a newer build's built-in. Activating it ends
            // the rollback instead, as loading a newer version does.
            next.pins[provider] = next.pinAfterActivating(provider, version)
            try self.writePins(next.pins)
            r = next
            return (file, previous)
        }
        logger.notice("mapping activated", metadata: ["telemetry.mapping": "\(provider)@\(version)", "telemetry.mapping.previous": "\(result.1 ?? "none")"])
        return result
    }

    private func writePins(_ pins: [String: String]) throws(StatusError) {
        guard let folder = configuration.folder else { return }
        let data: Data
        do { data = try JSONEncoder().encode(pins) } catch { throw StatusError(.internal, "cannot encode the pins: \(error)") }
        try Self.writeAtomically(String(decoding: data, as: UTF8.self), to: (folder as NSString).appendingPathComponent(Self.pinFileName))
    }

    /// Every problem of files, loading nothing: what `load` of the same files would refuse.
    public func validate(files: [(name: String, yaml: String)]) -> [MappingProblem] {
        // Loaded into a copy, in order, so that a version already loaded with another
        // definition, or given twice in these files, is named as `load` would name it.
        let (current, loadedFiles) = registry.withLock { ($0.set, $0.files) }
        var set = current
        var problems: [MappingProblem] = []
        var loaded: [(provider: String, version: SemanticVersion, name: String)] = []
        for f in files {
            let own = set.validate(yaml: f.yaml, file: f.name)
            problems += own
            guard !own.contains(where: { $0.severity == .error }) else { continue }
            do {
                let report = try set.load(yaml: f.yaml, file: f.name)
                loaded.append((report.provider, report.version, f.name))
            } catch {
                problems += error.problems.filter { $0.severity == .error }
            }
        }
        return problems + storedNameConflicts(loaded, files: loadedFiles)
    }

    /// Versions that `load` would write to a folder file already holding another version (or
    /// that two of the given files would both write). Provider names are restricted
    /// (docs/mapping.md, section 2), but a name can still meet a version's pre-release in the
    /// file name: provider `a-1.0.0` version `1.0.0` and provider `a` version `1.0.0-1.0.0` are
    /// both `a-1.0.0-1.0.0.yaml`, and the second write would erase the first at the next start.
    private func storedNameConflicts(
        _ versions: [(provider: String, version: SemanticVersion, name: String)], files: [String: LoadedFile]
    ) -> [MappingProblem] {
        guard configuration.folder != nil else { return [] }
        // Folder file name -> the version it holds (built-in defaults have no file there).
        var holders: [String: (provider: String, version: String)] = [:]
        for f in files.values where f.origin != "default" { holders[f.file] = (f.provider, f.version) }
        var problems: [MappingProblem] = []
        for v in versions {
            let stored = Self.storedFileName(provider: v.provider, version: v.version)
            if let holder = holders[stored], holder != (v.provider, v.version.description) {
                problems.append(
                    MappingProblem(
                        file: v.name, mapping: nil,
                        reason: "provider \(v.provider) version \(v.version) would be stored as \(stored), which holds "
                            + "provider \(holder.provider) version \(holder.version); change the provider name or the version"))
                continue
            }
            holders[stored] = (v.provider, v.version.description)
        }
        return problems
    }

    /// Every loaded version, with whether it is the active one, by provider then version.
    public func list() -> [(file: LoadedFile, active: Bool)] {
        let r = registry.withLock { $0 }
        var out: [(LoadedFile, Bool)] = []
        for summary in r.set.summaries {
            for v in summary.versions {
                guard let f = r.files["\(summary.provider)@\(v.version)"] else { continue }
                out.append((f, summary.active == v.version))
            }
        }
        return out
    }

    /// One loaded version: the active one of `provider` when `version` is nil.
    public func show(provider: String, version: String?) throws(StatusError) -> (file: LoadedFile, active: Bool) {
        let all = list().filter { $0.file.provider == provider }
        guard !all.isEmpty else { throw StatusError(.notFound, "no mapping is loaded for provider \"\(provider)\"") }
        if let version {
            guard let hit = all.first(where: { $0.file.version == version }) else {
                throw StatusError(
                    .notFound,
                    "provider \(provider) has no version \(version); loaded: \(all.map(\.file.version).joined(separator: ", "))")
            }
            return hit
        }
        guard let active = all.first(where: { $0.active }) else {
            throw StatusError(.notFound, "provider \(provider) has no active version")
        }
        return active
    }

    /// Replaces the asset registry (and writes it to the asset file, when one is configured).
    public func loadAssets(_ content: String, name: String) throws(StatusError) -> AssetRegistry {
        let assets: AssetRegistry
        do { assets = try AssetRegistry(yaml: content, file: name.isEmpty ? "assets.yaml" : name) } catch {
            throw StatusError(.invalidArgument, error.problems.map(\.description).joined(separator: "; "))
        }
        if let path = configuration.assetsFile { try Self.writeAtomically(content, to: path) }
        registry.withLock { $0.set.replaceAssets(assets) }
        logger.notice("asset registry replaced", metadata: ["telemetry.assets": "\(assets.assets.count)"])
        return assets
    }

    /// The current mapping set (a copy: engines are shared).
    public var mappingSet: MappingSet { registry.withLock { $0.set } }

    static func storedFileName(provider: String, version: SemanticVersion) -> String {
        let safe = { (s: String) in String(s.map { $0.isLetter || $0.isNumber || "-._+".contains($0) ? $0 : "_" }) }
        return "\(safe(provider))-\(safe(version.description)).yaml"
    }

    /// Writes a file so that it is either entirely there or not at all: a temporary file,
    /// fsynced, renamed over the target, then the folder fsynced.
    static func writeAtomically(_ text: String, to path: String) throws(StatusError) {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StatusError(.unavailable, "cannot create the folder \(folder): \(error.localizedDescription)")
        }
        let temporary = path + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw StatusError(.unavailable, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var written = 0
        var failure: String?
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot write \(temporary): \(String(cString: strerror(errno)))"
                break
            }
            written += n
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot fsync \(temporary): \(String(cString: strerror(errno)))" }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))" }
        if let failure {
            unlink(temporary)
            throw StatusError(.unavailable, failure)
        }
        let dir = open(folder, O_RDONLY)
        if dir >= 0 {
            // The rename is durable only once the folder's entry is; a failure here leaves a
            // complete file that may not survive a power loss, which the next load repairs.
            _ = fsync(dir)
            close(dir)
        }
    }

    // MARK: - Vehicle states

    /// A lock and the slots of the vehicles that hash to it.
    final class Stripe: Sendable {
        let slots = Mutex<[VehicleID: Slot]>([:])
    }

    private func stripe(_ vehicle: VehicleID) -> Stripe {
        stripes[Int(UInt(bitPattern: vehicle.hashValue) % UInt(Self.stripeCount))]
    }

    /// The stored bytes of a slot: generation (8 bytes, big-endian), provider (1 byte length +
    /// UTF-8), then the state's own encoding (docs/mapping.md, section 10).
    static func encode(_ slot: Slot) -> [UInt8] {
        let state = slot.state.encoded()
        let provider = Array(slot.provider.utf8.prefix(255))
        var out = [UInt8]()
        out.reserveCapacity(9 + provider.count + state.count)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: slot.generation >> UInt64(shift))) }
        out.append(UInt8(provider.count))
        out += provider
        out += state
        return out
    }

    struct DamagedState: Error, CustomStringConvertible {
        var description: String
    }

    static func decode(_ bytes: [UInt8]) throws(DamagedState) -> Slot {
        guard bytes.count >= 9, bytes.count >= 9 + Int(bytes[8]) else {
            throw DamagedState(description: "stored state of \(bytes.count) bytes is shorter than its header")
        }
        let generation = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let end = 9 + Int(bytes[8])
        let provider = String(decoding: bytes[9..<end], as: UTF8.self)
        let state: VehicleMappingState
        do { state = try VehicleMappingState(encoded: Array(bytes[end...])) } catch { throw DamagedState(description: error.description) }
        return Slot(state: state, generation: generation, provider: provider)
    }

    /// A vehicle's slot: the one in memory, else the stored one, else a fresh one.
    private func slot(for vehicle: VehicleID, in slots: [VehicleID: Slot], store: TelemetryStore) -> Slot {
        if let s = slots[vehicle] { return s }
        do {
            guard let bytes = try store.derivedState(of: vehicle) else { return Slot(state: .init(), generation: 0, provider: "") }
            do { return try Self.decode(bytes) } catch {
                // Documented: a damaged state restarts the vehicle's state machines; its records are untouched.
                logger.error("damaged mapping state; the vehicle starts from an empty state", metadata: ["telemetry.vehicle": "\(vehicle)", "error": "\(error)"])
                metrics.damagedStates.increment()
                return Slot(state: .init(), generation: Self.derivedGeneration(bytes) ?? 0, provider: "")
            }
        } catch {
            // The store is closed or degraded: the write that follows fails too, and the
            // vehicle's slot is dropped then (`writeFailed`).
            return Slot(state: .init(), generation: 0, provider: "")
        }
    }

    static func derivedGeneration(_ bytes: [UInt8]) -> UInt64? {
        bytes.count >= 8 ? bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } : nil
    }

    /// Maps records of many vehicles with `set`, each vehicle's records in order and under its
    /// stripe's lock, keeping the new states in memory (`commit`) or not (a dry run).
    /// - Parameter mappedOutcomes: whether `outcomes` lists mapped records too, or only the
    ///   failed ones (ingest, whose ack needs only those: the mapped records are in `write`,
    ///   and a second reference to each of their field arrays is only copying and releasing).
    func mapBatch(
        _ records: [(index: Int, record: ProviderRecord)], set: MappingSet, receivedAt: Int64, store: TelemetryStore,
        commit: Bool, countMetrics: Bool = true, mappedOutcomes: Bool = true
    ) -> (write: StoreWrite, outcomes: [(index: Int, outcome: MappingOutcome)]) {
        var write = StoreWrite()
        write.records.reserveCapacity(records.count)
        write.raw.reserveCapacity(records.count)
        var outcomes: [(index: Int, outcome: MappingOutcome)] = []
        outcomes.reserveCapacity(records.count)
        // Group by vehicle, keeping each vehicle's records in batch order.
        var order: [VehicleID] = []
        var groups: [VehicleID: [Int]] = [:]
        for (i, r) in records.enumerated() {
            if groups[r.record.vehicle]?.append(i) == nil {
                groups[r.record.vehicle] = [i]
                order.append(r.record.vehicle)
            }
        }
        // One set of evaluation buffers for the whole batch (MappingSet.Batch).
        var mapper = set.batch()
        // Counted as the records map: a pass over the outcomes afterwards copied each one.
        var tally = MappingTally()
        // One vehicle's records, in order, under its stripe's lock.
        func mapVehicle(_ vehicle: VehicleID, _ slots: inout [VehicleID: Slot]) {
            // Taken out of the stripe while it is mapped (and put back below): a copy left in
            // the dictionary would make the state's memory shared, and the first rule to write
            // it would copy it whole. A dry run works on a copy and leaves the stripe alone.
            var slot = (commit ? slots.removeValue(forKey: vehicle) : nil) ?? slot(for: vehicle, in: slots, store: store)
            let beforeProvider = slot.provider
            var mappedAny = false
            if commit { slot.lastUsed = receivedAt }
            for i in groups[vehicle]! {
                let (index, record) = records[i]
                let outcome = mapper.map(record, state: &slot.state, receivedAt: receivedAt)
                switch outcome {
                case .mapped(let m):
                    mappedAny = true
                    tally.mapped(provider: m.provider, fieldErrors: m.fieldErrors.count)
                    write.records.append(m.telemetryRecord(from: record, receivedAt: receivedAt))
                    write.raw.append(RawRecord(record: record, receivedAt: receivedAt, mappingVersion: m.mappingVersion))
                    slot.provider = record.provider
                    if mappedOutcomes { outcomes.append((index, outcome)) }
                case .failed(let f):
                    tally.failed.append((f.provider, f.reason.rawValue))
                    write.deadLetters.append(
                        DeadLetter(
                            vehicleID: record.vehicle.rawValue, timestamp: record.timestamp, provider: record.provider,
                            fields: record.fields, gatewaySequence: record.gatewaySequence, receivedAt: receivedAt,
                            reason: f.reason.rawValue, message: f.message, mappingVersion: f.mappingVersion ?? ""))
                    outcomes.append((index, outcome))
                }
            }
            guard commit else { return }
            // A failed record leaves the state as it was (MappingEngine.map), so only a mapped
            // one can have changed it. (Comparing states instead would copy each one per batch.)
            if mappedAny || slot.provider != beforeProvider {
                slot.generation &+= 1
                write.derivedStates[vehicle] = Self.encode(slot)
            }
            slots[vehicle] = slot
        }
        // Connections send the same vehicles in the same order: mapped in that order, two
        // batches would queue behind each other vehicle after vehicle and map on one core. So
        // each batch starts at a random vehicle, and a vehicle whose stripe is busy is left for
        // the end (its own records still go in order).
        var busy: [VehicleID] = []
        let offset = order.isEmpty ? 0 : Int.random(in: 0..<order.count)
        for k in 0..<order.count {
            let vehicle = order[(offset + k) % order.count]
            let done: Bool? = stripe(vehicle).slots.withLockIfAvailable { slots in
                mapVehicle(vehicle, &slots)
                return true
            }
            if done == nil { busy.append(vehicle) }
        }
        for vehicle in busy { stripe(vehicle).slots.withLock { mapVehicle(vehicle, &$0) } }
        if commit && countMetrics { metrics.count(tally, known: { set.engine(for: $0) != nil }) }
        return (write, outcomes)
    }

    /// Counts dead letters made before mapping (records without a vehicle id or timestamp).
    func countIncomplete(_ letters: [DeadLetter]) {
        let set = mappingSet
        metrics.countDeadLetters(letters.map { (set.engine(for: $0.provider) != nil ? $0.provider : "unknown", $0.reason) })
    }

    /// Forgets the in-memory states of these vehicles: their next record reads the stored
    /// state again (after a failed write, whose states never reached the disk).
    func forget(_ vehicles: some Sequence<VehicleID>) {
        for v in vehicles { _ = stripe(v).slots.withLock { $0.removeValue(forKey: v) } }
    }

    /// Forgets every in-memory state (the store was replaced or reopened).
    public func forgetAll() {
        for s in stripes { s.slots.withLock { $0.removeAll() } }
    }

    /// How many vehicle states are held in memory.
    public var statesInMemory: Int {
        stripes.reduce(0) { n, s in n + s.slots.withLock { $0.count } }
    }

    /// Drops from memory the states of vehicles with no record mapped since `cutoff` (ms, the
    /// batches' received times) whose stored state is the one in memory: the store holds
    /// their latest generation, so their next record reads it back and every state machine
    /// goes on where it stood. A state whose write has not committed yet (the store has an
    /// older generation) stays, or the vehicle's next batch would map from the older one.
    /// - Returns: how many states were dropped.
    @discardableResult
    public func evictIdleStates(idleSince cutoff: Int64, store: TelemetryStore) -> Int {
        var evicted = 0
        for s in stripes {
            s.slots.withLock { slots in
                // Checked under the stripe's lock, which mapping holds while it changes a state,
                // so a state cannot move between the check and the removal.
                let idle = slots.filter { $0.value.lastUsed < cutoff }
                for (vehicle, slot) in idle {
                    let stored: [UInt8]?
                    do { stored = try store.derivedState(of: vehicle) } catch {
                        // A store that cannot answer (closed, being reopened) cannot confirm the
                        // state is stored: it stays, and the next pass looks again.
                        continue
                    }
                    // Nothing stored reads back as a fresh state of generation 0: a vehicle whose
                    // records all failed never had its state written, and goes too.
                    let storedGeneration = stored.map { Self.derivedGeneration($0) } ?? 0
                    guard storedGeneration == slot.generation else { continue }
                    slots.removeValue(forKey: vehicle)
                    evicted += 1
                }
            }
        }
        if evicted > 0 { metrics.evictedStates.increment(by: Int64(evicted)) }
        recordStatesInMemory()
        return evicted
    }

    /// Sets the `telemetry_mapping_states_in_memory` gauge to the states held now.
    public func recordStatesInMemory() {
        metrics.statesInMemory.record(statesInMemory)
    }

    // MARK: - Connectivity sweep

    /// Runs the connectivity rule's offline sweep over every vehicle with a state (SPEC
    /// section 4: offline is the absence of packets, so only a sweep can produce it) and
    /// returns the records and states to write: one record per vehicle that went offline,
    /// stamped when its threshold passed.
    public func sweep(now: Int64, store: TelemetryStore) throws -> StoreWrite {
        let set = mappingSet
        var write = StoreWrite()
        // Vehicles whose state is only on disk (not seen since the start) are swept too.
        let stored = try store.derivedStates()
        var seen = Set<VehicleID>()
        for s in stripes { s.slots.withLock { seen.formUnion($0.keys) } }
        var vehicles = Array(seen)
        vehicles += stored.map(\.vehicle).filter { !seen.contains($0) }
        for vehicle in vehicles {
            stripe(vehicle).slots.withLock { slots in
                var slot = slot(for: vehicle, in: slots, store: store)
                guard !slot.provider.isEmpty,
                    let transition = set.sweepConnectivity(vehicle: vehicle, provider: slot.provider, state: &slot.state, now: now),
                    let engine = set.engine(for: slot.provider)
                else { return }
                slot.generation &+= 1
                slots[vehicle] = slot
                write.records.append(
                    TelemetryRecord(
                        vehicle: vehicle, timestamp: transition.at, fields: transition.fields,
                        provenance: Provenance(provider: slot.provider, mappingVersion: engine.version.description, receivedAt: now)))
                write.derivedStates[vehicle] = Self.encode(slot)
            }
        }
        return write
    }
}

/// The mapping counters: by provider (only providers with a loaded mapping; any other is
/// `unknown`, so a client cannot grow the label set) and reason.
/// What one batch's mapping counts for the metrics. Mapped records are counted in runs of one
/// provider (a batch is usually one provider's), so the common record costs a comparison of
/// its provider with the previous one, not a dictionary update.
struct MappingTally {
    var run: (provider: String, records: Int, fieldErrors: Int)?
    var mappedByProvider: [String: Int] = [:]
    var fieldErrorsByProvider: [String: Int] = [:]
    var failed: [(provider: String, reason: String)] = []

    mutating func mapped(provider: String, fieldErrors: Int) {
        if run?.provider == provider {
            run!.records += 1
            run!.fieldErrors += fieldErrors
            return
        }
        if let done = run {
            mappedByProvider[done.provider, default: 0] += done.records
            if done.fieldErrors > 0 { fieldErrorsByProvider[done.provider, default: 0] += done.fieldErrors }
        }
        run = (provider, 1, fieldErrors)
    }
}

public final class MappingMetrics: Sendable {
    private let factory: any MetricsFactory
    private let counters = Mutex<[String: Counter]>([:])
    let damagedStates: Counter
    /// States dropped from memory after being idle (`evictIdleStates`).
    let evictedStates: Counter
    /// Vehicle states held in memory, as of the last eviction pass.
    let statesInMemory: Gauge

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        damagedStates = Counter(label: "telemetry_mapping_damaged_states_total", factory: factory)
        evictedStates = Counter(label: "telemetry_mapping_states_evicted_total", factory: factory)
        statesInMemory = Gauge(label: "telemetry_mapping_states_in_memory", factory: factory)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return counters.withLock { c in
            if let hit = c[key] { return hit }
            let made = Counter(label: label, dimensions: dimensions, factory: factory)
            c[key] = made
            return made
        }
    }

    /// Counts records dead-lettered before mapping (no vehicle id or timestamp) as the mapped
    /// batch's failures are counted: in the dead-letter counter and as the provider's
    /// `dead_lettered` outcome, so the runbooks' dead-lettered share sees them.
    func countDeadLetters(_ letters: [(provider: String, reason: String)]) {
        var byKey: [String: Int] = [:]
        for l in letters { byKey[l.provider + "\u{0}" + l.reason, default: 0] += 1 }
        for (key, n) in byKey {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            counter("telemetry_mapping_records_total", [("provider", parts[0]), ("outcome", "dead_lettered")]).increment(by: Int64(n))
            counter("telemetry_dead_letters_total", [("provider", parts[0]), ("reason", parts[1])]).increment(by: Int64(n))
        }
    }

    func count(_ tally: MappingTally, known: (String) -> Bool) {
        var mapped = tally.mappedByProvider
        var fieldErrors = tally.fieldErrorsByProvider
        if let run = tally.run {
            mapped[run.provider, default: 0] += run.records
            if run.fieldErrors > 0 { fieldErrors[run.provider, default: 0] += run.fieldErrors }
        }
        var failed: [String: Int] = [:]
        for f in tally.failed {
            failed[(known(f.provider) ? f.provider : "unknown") + "\u{0}" + f.reason, default: 0] += 1
        }
        for (p, n) in mapped {
            counter("telemetry_mapping_records_total", [("provider", p), ("outcome", "mapped")]).increment(by: Int64(n))
            // Exported at 0 from a provider's first mapped record, so that an alert on the
            // dead-lettered share or on field errors has a series to read before the first
            // failure (a missing series is "no data", not 0).
            _ = counter("telemetry_mapping_records_total", [("provider", p), ("outcome", "dead_lettered")])
            _ = counter("telemetry_mapping_field_errors_total", [("provider", p)])
        }
        for (p, n) in fieldErrors { counter("telemetry_mapping_field_errors_total", [("provider", p)]).increment(by: Int64(n)) }
        for (key, n) in failed {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            counter("telemetry_mapping_records_total", [("provider", parts[0]), ("outcome", "dead_lettered")]).increment(by: Int64(n))
            counter("telemetry_dead_letters_total", [("provider", parts[0]), ("reason", parts[1])]).increment(by: Int64(n))
        }
    }
}
