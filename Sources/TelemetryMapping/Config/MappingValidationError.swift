public import TelemetryCore

/// One problem found in a mapping (or catalog, or asset registry) file.
///
/// Its description is one line: `navixy.yaml: mapping statuses_engine_code: unknown function derive_foo`,
/// or `navixy.yaml: version: ...` for problems outside any mapping.
public struct MappingProblem: Sendable, Hashable, CustomStringConvertible {
    /// How serious a problem is.
    public enum Severity: String, Sendable, Hashable {
        /// The file cannot be activated.
        case error
        /// Reported, but the file can be activated (e.g. a mapping name the catalog lacks).
        case warning
    }

    /// The file name as given to the loader (e.g. `navixy.yaml`).
    public var file: String
    /// The mapping's key, or nil for a problem at file level.
    public var mapping: String?
    /// What is wrong, naming the offending value.
    public var reason: String
    /// Whether the problem blocks activation.
    public var severity: Severity
    /// The 1-based line in the file, when known.
    public var line: Int?

    /// Creates a problem.
    public init(file: String, mapping: String?, reason: String, severity: Severity = .error, line: Int? = nil) {
        self.file = file
        self.mapping = mapping
        self.reason = reason
        self.severity = severity
        self.line = line
    }

    /// One line: file, mapping and reason.
    public var description: String { text(withLine: false) }

    /// One line with the line number when known, in the shape `telemetryctl admin mappings
    /// validate` prints (`navixy.yaml: mapping speed: line 19: source: unknown unit furlongs`):
    /// what a person reads in an error answer or a log.
    public var located: String { text(withLine: true) }

    private func text(withLine: Bool) -> String {
        let prefix = severity == .warning ? "warning: " : ""
        let at = withLine ? line.map { "line \($0): " } ?? "" : ""
        if let mapping {
            return "\(file): \(prefix)mapping \(mapping): \(at)\(reason)"
        }
        return "\(file): \(prefix)\(at)\(reason)"
    }
}

/// Every problem that stops a file from being activated, reported at once.
///
/// Thrown by the loaders (`ValidatedMapping.load`, `FieldCatalog(yaml:file:)`,
/// `AssetRegistry(yaml:file:)`, `MappingSet.load`). Its description prints one problem per line.
public struct MappingValidationError: Error, Sendable, Hashable, CustomStringConvertible, StatusCodeConvertible {
    /// The problems, in file order: errors, plus the warnings found alongside them.
    public var problems: [MappingProblem]

    /// Creates the error from a list of problems.
    public init(problems: [MappingProblem]) {
        self.problems = problems
    }

    /// The problems that block activation.
    public var errors: [MappingProblem] { problems.filter { $0.severity == .error } }

    /// The problems that do not block activation.
    public var warnings: [MappingProblem] { problems.filter { $0.severity == .warning } }

    /// One problem per line.
    public var description: String { problems.map(\.description).joined(separator: "\n") }

    /// A bad mapping file is the client's input: `INVALID_ARGUMENT`.
    public var statusCode: StatusCode { .invalidArgument }

    /// The problems, one per line.
    public var statusMessage: String { problems.map(\.located).joined(separator: "\n") }
}
