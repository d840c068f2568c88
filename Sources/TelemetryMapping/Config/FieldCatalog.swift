import Foundation
import Yams

/// The canonical field catalog: every Fleeti field the store knows, by stable Name and by Path.
///
/// Records are stored and queried by Name. The project's own catalog is
/// `Defaults/catalog.yaml` (`FieldCatalog.bundled()`); its format is
/// `{version: 1, fields: [{name, path, type, unit, priority}]}` (docs/mapping.md).
public struct FieldCatalog: Sendable, Hashable {
    /// One canonical field.
    public struct Entry: Sendable, Hashable {
        /// The stable name (e.g. `location_latitude`): the key of mappings and stored fields.
        public var name: String
        /// The path in the Fleeti telemetry object (e.g. `location.latitude`, `geofences[]`).
        public var path: String
        /// The field's data type.
        public var dataType: MappingDataType
        /// The unit as the catalog writes it (`none` when unitless).
        public var unit: String
        /// The field's priority code.
        public var priority: FieldPriority

        /// Creates an entry.
        public init(name: String, path: String, dataType: MappingDataType, unit: String, priority: FieldPriority) {
            self.name = name
            self.path = path
            self.dataType = dataType
            self.unit = unit
            self.priority = priority
        }
    }

    /// The entries, in file order.
    public private(set) var entries: [Entry]
    private var byName: [String: Int]
    private var byPath: [String: Int]

    /// Builds a catalog from entries.
    /// - Throws: `MappingValidationError` naming every duplicate name or path and unknown unit.
    public init(entries: [Entry], file: String = "catalog") throws(MappingValidationError) {
        var problems: [MappingProblem] = []
        var byName: [String: Int] = [:]
        var byPath: [String: Int] = [:]
        for (i, e) in entries.enumerated() {
            if byName[e.name] != nil {
                problems.append(MappingProblem(file: file, mapping: nil, reason: "field \(e.name) listed twice"))
            } else {
                byName[e.name] = i
            }
            let path = Self.normalizedPath(e.path)
            if let other = byPath[path] {
                problems.append(
                    MappingProblem(
                        file: file, mapping: nil,
                        reason: "fields \(entries[other].name) and \(e.name) share path \(e.path)"))
            } else {
                byPath[path] = i
            }
            if MeasurementUnit.named(e.unit) == nil {
                problems.append(
                    MappingProblem(file: file, mapping: nil, reason: "field \(e.name): unknown unit \(e.unit)"))
            }
        }
        guard problems.isEmpty else { throw MappingValidationError(problems: problems) }
        self.entries = entries
        self.byName = byName
        self.byPath = byPath
    }

    /// Loads a catalog file.
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - file: the name used in problem reports.
    /// - Throws: `MappingValidationError` with every problem found.
    public init(yaml: String, file: String = "catalog.yaml") throws(MappingValidationError) {
        let (root, parseProblems) = YAMLDocument.compose(yaml, file: file)
        var problems = parseProblems
        var entries: [Entry] = []
        if let root {
            if let v = root.value("version")?.scalarText, v != "1" {
                problems.append(MappingProblem(file: file, mapping: nil, reason: "unsupported catalog version \(v)"))
            }
            if let fields = root.value("fields")?.sequence {
                for node in fields {
                    let line = node.line
                    func text(_ key: String) -> String? { node.value(key)?.scalarText }
                    guard let name = text("name"), !name.isEmpty, let path = text("path"), !path.isEmpty else {
                        problems.append(
                            MappingProblem(file: file, mapping: nil, reason: "field without name or path", line: line))
                        continue
                    }
                    let typeText = text("type") ?? ""
                    guard let type = MappingDataType(rawValue: typeText) else {
                        problems.append(
                            MappingProblem(
                                file: file, mapping: nil, reason: "field \(name): unknown type \(typeText)", line: line)
                        )
                        continue
                    }
                    let priorityText = text("priority") ?? "?"
                    guard let priority = FieldPriority(rawValue: priorityText) else {
                        problems.append(
                            MappingProblem(
                                file: file, mapping: nil, reason: "field \(name): unknown priority \(priorityText)",
                                line: line))
                        continue
                    }
                    entries.append(
                        Entry(name: name, path: path, dataType: type, unit: text("unit") ?? "none", priority: priority))
                }
            } else {
                problems.append(MappingProblem(file: file, mapping: nil, reason: "missing key fields"))
            }
        }
        guard problems.isEmpty else { throw MappingValidationError(problems: problems) }
        try self.init(entries: entries, file: file)
    }

    /// The project's catalog, `Defaults/catalog.yaml`.
    /// - Throws: `MappingValidationError` if the bundled file is missing or broken (a build defect).
    public static func bundled() throws(MappingValidationError) -> FieldCatalog {
        let text = try DefaultFiles.text(named: "catalog.yaml")
        return try FieldCatalog(yaml: text, file: "catalog.yaml")
    }

    /// The entry with this Name.
    public func entry(named name: String) -> Entry? {
        byName[name].map { entries[$0] }
    }

    /// The entry at this Path (`geofences` and `geofences[]` are the same path).
    public func entry(atPath path: String) -> Entry? {
        byPath[Self.normalizedPath(path)].map { entries[$0] }
    }

    /// The entry a mapping key names: a Name, a Name with a trailing `[]` (`environment[]`), or
    /// a Path (`sensors.environment[]`), tried in that order.
    public func resolve(mappingKey key: String) -> Entry? {
        if let e = entry(named: key) { return e }
        if key.hasSuffix("[]"), let e = entry(named: String(key.dropLast(2))) { return e }
        if key.contains("."), let e = entry(atPath: key) { return e }
        return nil
    }

    /// `a.b[]` and `a[].b` compare without brackets: the catalog writes array markers unevenly.
    static func normalizedPath(_ path: String) -> String {
        path.replacingOccurrences(of: "[]", with: "")
    }
}

/// Reads the files under `Defaults/`.
enum DefaultFiles {
    /// A built-in version that a newer default file replaced and this build still ships, so
    /// that an operator's pin (`admin mappings activate`) or a `remap --mapping` naming it
    /// keeps working after an upgrade: a start refuses a pin that no file provides.
    struct EarlierVersion: Sendable {
        /// The default file that holds it and the versions after it.
        var file: String
        /// The earlier version.
        var version: String
    }

    /// Each later version marks what it added to the file by lines `# >>> added in V` and
    /// `# <<< added in V` around it; an earlier version is the file without the blocks added
    /// after it (`derive`).
    static let earlierVersions = [
        EarlierVersion(file: "navixy.yaml", version: "1.0.6-telemetrystore.1")
    ]

    /// The text of an earlier version (`derive` of its file).
    static func text(of earlier: EarlierVersion) throws(MappingValidationError) -> String {
        try derive(try text(named: earlier.file), file: earlier.file, version: earlier.version)
    }

    /// A default file as it stood at `version`: without the blocks added in later versions,
    /// without any marker line, and with its `version:` line set to `version`.
    /// - Throws: `MappingValidationError` (a build defect) for a marker that does not name a
    ///   version, a block opened inside another or closed under another version, a block left
    ///   open, or a file with no block added after `version` (nothing tells the two apart).
    static func derive(_ text: String, file: String, version: String) throws(MappingValidationError) -> String {
        func defect(_ line: Int?, _ reason: String) -> MappingValidationError {
            MappingValidationError(problems: [MappingProblem(file: file, mapping: nil, reason: reason, line: line)])
        }
        guard let keep = SemanticVersion(version) else { throw defect(nil, "\(version) is not a semantic version") }
        var lines: [Substring] = []
        var open: (version: SemanticVersion, line: Int)? = nil
        var stripped = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == " " }
            for (marker, opens) in [("# >>> added in ", true), ("# <<< added in ", false)] where trimmed.hasPrefix(marker) {
                let text = trimmed.dropFirst(marker.count)
                guard let marked = SemanticVersion(String(text)) else { throw defect(index + 1, "marker names no version: \(trimmed)") }
                if opens {
                    if let open { throw defect(index + 1, "a block opens inside the block of line \(open.line)") }
                    open = (marked, index + 1)
                    if keep < marked { stripped += 1 }
                } else {
                    guard let current = open, current.version == marked else { throw defect(index + 1, "closes no open block of \(marked)") }
                    open = nil
                }
            }
            if trimmed.hasPrefix("# >>> added in ") || trimmed.hasPrefix("# <<< added in ") { continue }
            if let open, keep < open.version { continue }
            lines.append(line.hasPrefix("version:") ? "version: \"\(version)\"" : line)
        }
        if let open { throw defect(open.line, "the block added in \(open.version) is not closed") }
        guard stripped > 0 else { throw defect(nil, "no block added after \(version)") }
        return lines.joined(separator: "\n")
    }

    /// A default file's text, compiled into the binary (`DefaultFiles+Embedded.swift`,
    /// generated from `Defaults/` by `make defaults`), so that telemetryd needs no file
    /// beside it.
    static func text(named name: String) throws(MappingValidationError) -> String {
        guard let text = embedded[name] else {
            throw MappingValidationError(problems: [
                MappingProblem(file: name, mapping: nil, reason: "no such default file in this build")
            ])
        }
        return text
    }
}
