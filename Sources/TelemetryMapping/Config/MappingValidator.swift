/// A mapping file that passed validation: safe to build an engine from.
public struct ValidatedMapping: Sendable, Hashable {
    /// The file as read.
    public let file: MappingFile
    /// Problems that did not block activation (unknown mapping names, ignored keys).
    public let warnings: [MappingProblem]
    /// Indices into `file.mappings`, in evaluation order (every mapping after the fields its
    /// parameters name).
    public let evaluationOrder: [Int]
    /// The canonical field name each mapping stores (parallel to `file.mappings`).
    public let fieldNames: [String]
    /// The file's text as loaded (for `mappings show`).
    public let sourceText: String

    /// Reads and validates a mapping file.
    /// - Parameters:
    ///   - yaml: the file's text (the Fleeti format, unchanged).
    ///   - file: the file name used in problem reports.
    ///   - catalog: the canonical catalog the names and types are checked against.
    ///   - functions: the functions calculated mappings may call.
    /// - Throws: `MappingValidationError` listing every error (and the warnings) when the file
    ///   cannot be activated.
    public static func load(
        yaml: String, file: String, catalog: FieldCatalog, functions: MappingFunctionRegistry = .standard
    ) throws(MappingValidationError) -> ValidatedMapping {
        let (parsed, parseProblems) = MappingFileParser.parse(yaml, file: file)
        var problems = parseProblems
        guard let parsed else { throw MappingValidationError(problems: problems) }
        let validator = MappingValidator(file: parsed, catalog: catalog, functions: functions)
        let result = validator.validate()
        problems += result.problems
        problems.sort { ($0.line ?? Int.max, $0.mapping ?? "") < ($1.line ?? Int.max, $1.mapping ?? "") }
        guard !problems.contains(where: { $0.severity == .error }) else {
            throw MappingValidationError(problems: problems)
        }
        return ValidatedMapping(
            file: parsed, warnings: problems, evaluationOrder: result.order, fieldNames: result.fieldNames,
            sourceText: yaml)
    }

    /// Every problem of a mapping file (errors and warnings), without building anything.
    public static func problems(
        yaml: String, file: String, catalog: FieldCatalog, functions: MappingFunctionRegistry = .standard
    ) -> [MappingProblem] {
        do {
            return try load(yaml: yaml, file: file, catalog: catalog, functions: functions).warnings
        } catch {
            return error.problems
        }
    }
}

/// The semantic checks: functions, units, types, catalog names, paths, dependencies.
struct MappingValidator {
    let file: MappingFile
    let catalog: FieldCatalog
    let functions: MappingFunctionRegistry

    struct Result {
        var problems: [MappingProblem] = []
        var order: [Int] = []
        var fieldNames: [String] = []
    }

    func validate() -> Result {
        var result = Result()
        let fileName = file.fileName
        func problem(_ m: FieldMapping, _ reason: String, _ severity: MappingProblem.Severity = .error) {
            result.problems.append(
                MappingProblem(file: fileName, mapping: m.key, reason: reason, severity: severity, line: m.line))
        }

        if !Self.isValidProviderName(file.provider) {
            result.problems.append(
                MappingProblem(
                    file: fileName, mapping: nil,
                    reason: "provider \"\(file.provider)\" is not a valid provider name (\(Self.providerNameRule))"))
        }

        // Canonical names, and which mapping computes each name (keys and names both resolve).
        var index: [String: Int] = [:]
        for (i, m) in file.mappings.enumerated() {
            let entry = catalog.resolve(mappingKey: m.key)
            let name = entry?.name ?? (m.key.hasSuffix("[]") ? String(m.key.dropLast(2)) : m.key)
            result.fieldNames.append(name)
            if entry == nil {
                problem(m, "not in the field catalog (stored as \(name))", .warning)
            }
            if let other = index[name], file.mappings[other].key != m.key {
                problem(m, "computes the same field \(name) as mapping \(file.mappings[other].key)")
            }
            index[name] = index[name] ?? i
            index[m.key] = index[m.key] ?? i
        }

        var edges: [[Int]] = Array(repeating: [], count: file.mappings.count)
        for (i, m) in file.mappings.enumerated() {
            let name = result.fieldNames[i]
            let entry = catalog.entry(named: name)
            let target = MeasurementUnit.named(m.unit)
            if target == nil { problem(m, "unknown unit \(m.unit)") }
            if let target, !target.isNone, m.dataType != .number {
                problem(m, "unit \(m.unit) on a \(m.dataType) field (units apply to numbers)")
            }
            if let entry {
                if entry.dataType != .object, entry.dataType != m.dataType {
                    problem(m, "data_type \(m.dataType) differs from the catalog's \(entry.dataType) for \(entry.name)")
                }
                if let target, let catalogUnit = MeasurementUnit.named(entry.unit), !target.isNone, !catalogUnit.isNone,
                    target != catalogUnit
                {
                    problem(m, "unit \(m.unit) differs from the catalog's \(entry.unit) for \(entry.name)")
                }
            }

            func checkCall(_ call: FunctionCall, context: String) {
                let prefix = context.isEmpty ? "" : "\(context): "
                for ref in call.fleetiParameters {
                    if let j = index[ref] {
                        edges[i].append(j)
                    } else {
                        problem(m, "\(prefix)parameter fleeti \(ref) is not mapped in this file")
                    }
                }
                guard let function = functions.function(named: call.function) else {
                    problem(m, "\(prefix)unknown function \(call.function)")
                    return
                }
                if !function.fleetiParameters.contains(call.fleetiParameters.count) {
                    let expected = describe(function.fleetiParameters)
                    problem(
                        m,
                        "\(prefix)function \(call.function) takes \(expected) fleeti parameters, "
                            + "got \(call.fleetiParameters.count)")
                }
                let providerCount = call.providerParameters[file.provider]?.count ?? 0
                if !function.providerParameters.contains(providerCount) {
                    let others = call.providerParameters.keys.filter { $0 != file.provider }.sorted()
                    let note =
                        providerCount == 0 && !others.isEmpty
                        ? " (parameters given for \(others.joined(separator: ", ")) only)" : ""
                    let expected = describe(function.providerParameters)
                    problem(
                        m,
                        "\(prefix)function \(call.function) takes \(expected) provider parameters "
                            + "for \(file.provider), got \(providerCount)\(note)")
                }
                // A file maps one provider's records, and only its key is read (MappingPlan): any
                // other key is dead, most often a misspelt provider whose fields are then never
                // read (the Fleeti files key every parameters.provider by their own provider).
                for other in call.providerParameters.keys.sorted() where other != file.provider {
                    problem(
                        m,
                        "\(prefix)parameters.provider names provider \(other), but this file maps provider "
                            + "\(file.provider) (only parameters.provider.\(file.provider) is read)")
                }
                // Such a function returns null whenever every argument is null, so with no argument
                // at all it returns null for every record. Its declared counts allow none of either
                // kind (it takes a provider field or a fleeti field), not none in total.
                if function.isNullWithoutInputs && call.fleetiParameters.isEmpty && providerCount == 0 {
                    problem(
                        m,
                        "\(prefix)function \(call.function) reads no input (give parameters.provider.\(file.provider) "
                            + "or parameters.fleeti): it would always be null")
                }
                for names in call.providerParameters.values {
                    for n in names where !Self.isValidPath(n) { problem(m, "\(prefix)bad provider field name \(n)") }
                }
                if !function.outputTypes.contains(m.dataType) {
                    let types = function.outputTypes.map(\.rawValue).sorted().joined(separator: " or ")
                    problem(
                        m,
                        "\(prefix)data_type \(m.dataType) does not match function \(call.function), "
                            + "which returns \(types)")
                }
                if let check = function.check, let reason = check(call, name) {
                    problem(m, "\(prefix)function \(call.function): \(reason)")
                }
                if let u = call.unit {
                    checkConversion(u, context: context)
                }
            }

            func checkConversion(_ unit: String, context: String) {
                let prefix = context.isEmpty ? "" : "\(context): "
                guard let source = MeasurementUnit.named(unit) else {
                    problem(m, "\(prefix)unknown unit \(unit)")
                    return
                }
                guard let target else { return }
                if MeasurementUnit.conversion(from: source, to: target) == nil {
                    let why =
                        source.dimension == .calibration ? " (calibration steps need a tank calibration table)" : ""
                    problem(m, "\(prefix)unit \(unit) has no conversion to \(m.unit)\(why)")
                }
            }

            switch m.kind {
            case .direct, .prioritized:
                for (n, source) in m.sources.enumerated() {
                    let context = m.sources.count > 1 ? "source \(n + 1)" : "source"
                    switch source {
                    case .field(let s):
                        if !Self.isValidPath(s.path) {
                            problem(m, "\(context): bad source path \"\(s.path)\"")
                        } else if let f = s.field, !Self.field(f, matches: s.path) {
                            problem(m, "\(context): field \(f) does not match path \(s.path)")
                        }
                        checkConversion(s.unit, context: context)
                    case .calculated(let call):
                        checkCall(call, context: context)
                    }
                }
            case .calculated:
                if let call = m.call { checkCall(call, context: "") }
            case .ioMapped:
                guard let io = m.ioMapping else { break }
                if !io.installationMetadata.hasPrefix("asset.installation.") {
                    problem(m, "installation_metadata \(io.installationMetadata) is not an asset.installation fact")
                }
                let family = IOFamily(defaultSource: io.defaultSource)
                if let family {
                    let members = family.members(
                        in: file.mappings.indices.map { (catalog.entry(named: result.fieldNames[$0])?.path, $0) })
                    if members[family.defaultNumber] == nil {
                        problem(m, "default_source \(io.defaultSource) is not mapped in this file")
                    }
                    edges[i] += members.values
                } else {
                    problem(
                        m,
                        "default_source \(io.defaultSource) must be a path ending in a number "
                            + "(e.g. inputs.individual.input_1)")
                }
            case .transformed:
                problem(m, "type transformed is not supported by this store (write it as a calculated function)")
            }
        }

        // Cycles (strongly connected components), then a stable topological order.
        let cycles = Self.cycles(edges)
        for cycle in cycles {
            let first = cycle.min()!
            let path = Self.cyclePath(from: first, in: Set(cycle), edges: edges).map { file.mappings[$0].key }
            problem(file.mappings[first], "dependency cycle: \(path.joined(separator: " -> "))")
        }
        if cycles.isEmpty { result.order = Self.topologicalOrder(edges) }
        return result
    }

    private func describe(_ r: ClosedRange<Int>) -> String {
        r.lowerBound == r.upperBound ? "\(r.lowerBound)" : "\(r.lowerBound) to \(r.upperBound)"
    }

    /// What `isValidProviderName` accepts, for problem reports and docs/mapping.md section 2.
    static let providerNameRule =
        "1 to 64 ASCII letters, digits, '_', '-' or '.', starting with a letter or a digit"

    /// A provider name: 1 to 64 ASCII letters, digits, `_`, `-` and `.`, starting with a letter
    /// or a digit. The name becomes a file name in the mapping folder (`<provider>-<version>.yaml`)
    /// and a key of the pin file: a `/` or a leading `.` would leave the folder or hide the file,
    /// and a character that had to be replaced would let two providers share one file (`acme/eu`
    /// and `acme_eu`). 64 is the wire's limit on a record's provider (PROTOCOL.md).
    static func isValidProviderName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func alphanumeric(_ b: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        }
        return alphanumeric(bytes[0])
            && bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// A provider path: dot-separated segments of letters, digits and `_`.
    static func isValidPath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("."), !path.hasSuffix("."), !path.contains("..") else { return false }
        return path.unicodeScalars.allSatisfy {
            $0 == "." || $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0)
        }
    }

    /// `field` names the path (`lat`/`lat`, `can_speed`/`params.can_speed`).
    static func field(_ field: String, matches path: String) -> Bool {
        path == field || path.hasSuffix("." + field)
    }

    /// Strongly connected components that form cycles (Tarjan), each as node indices.
    static func cycles(_ edges: [[Int]]) -> [[Int]] {
        var index = 0
        var indices = [Int?](repeating: nil, count: edges.count)
        var low = [Int](repeating: 0, count: edges.count)
        var onStack = [Bool](repeating: false, count: edges.count)
        var stack: [Int] = []
        var out: [[Int]] = []
        func connect(_ v: Int) {
            indices[v] = index
            low[v] = index
            index += 1
            stack.append(v)
            onStack[v] = true
            for w in edges[v] {
                if indices[w] == nil {
                    connect(w)
                    low[v] = min(low[v], low[w])
                } else if onStack[w] {
                    low[v] = min(low[v], indices[w]!)
                }
            }
            if low[v] == indices[v] {
                var component: [Int] = []
                while let w = stack.popLast() {
                    onStack[w] = false
                    component.append(w)
                    if w == v { break }
                }
                if component.count > 1 || edges[v].contains(v) { out.append(component.sorted()) }
            }
        }
        for v in edges.indices where indices[v] == nil { connect(v) }
        return out.sorted { $0[0] < $1[0] }
    }

    /// One cycle through `start` within a component, as a path ending back at `start`.
    static func cyclePath(from start: Int, in component: Set<Int>, edges: [[Int]]) -> [Int] {
        var path = [start]
        var seen: Set<Int> = [start]
        func walk(_ v: Int) -> Bool {
            for w in edges[v] where component.contains(w) {
                if w == start {
                    path.append(w)
                    return true
                }
                if seen.insert(w).inserted {
                    path.append(w)
                    if walk(w) { return true }
                    path.removeLast()
                }
            }
            return false
        }
        _ = walk(start)
        return path
    }

    /// Kahn's algorithm; among ready mappings, file order first.
    static func topologicalOrder(_ edges: [[Int]]) -> [Int] {
        var remaining = edges.map { Set($0).count }
        var dependents = [[Int]](repeating: [], count: edges.count)
        for (v, deps) in edges.enumerated() { for d in Set(deps) { dependents[d].append(v) } }
        var ready = (0..<edges.count).filter { remaining[$0] == 0 }
        var order: [Int] = []
        while !ready.isEmpty {
            let v = ready.min()!
            ready.removeAll { $0 == v }
            order.append(v)
            for d in dependents[v] {
                remaining[d] -= 1
                if remaining[d] == 0 { ready.append(d) }
            }
        }
        return order
    }
}

/// The fields of an `io_mapped` family: `inputs.individual.input_1` .. `_N`.
struct IOFamily {
    let stem: String
    let defaultNumber: Int

    init?(defaultSource: String) {
        let path = defaultSource.hasPrefix("io.") ? defaultSource : "io." + defaultSource
        let digits = path.reversed().prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, let n = Int(String(digits.reversed())) else { return nil }
        stem = String(path.dropLast(digits.count))
        defaultNumber = n
    }

    /// Mapping indices by number, from `(catalog path, index)` pairs.
    func members(in mappings: [(path: String?, index: Int)]) -> [Int: Int] {
        var out: [Int: Int] = [:]
        for (path, i) in mappings {
            guard let path, path.hasPrefix(stem), let n = Int(path.dropFirst(stem.count)) else { continue }
            out[n] = out[n] ?? i
        }
        return out
    }
}
