import TelemetryCore
import Yams

/// Reads the Fleeti YAML format into a `MappingFile`, collecting structural problems
/// (syntax, duplicate keys, missing or ill-typed keys). Semantic checks (functions, units,
/// catalog, dependencies) are `MappingValidator`'s.
enum MappingFileParser {
    /// Keys the Fleeti reference allows on a mapping that the store does not need.
    private static let ignoredMappingKeys: Set<String> = [
        "description", "dependencies", "source_type", "notes", "comment", "status", "version_added",
    ]
    private static let ignoredFileKeys: Set<String> = ["description", "comment", "generated_at", "notes"]

    static func parse(_ text: String, file: String) -> (MappingFile?, [MappingProblem]) {
        let (root, parseProblems) = YAMLDocument.compose(text, file: file)
        var problems = parseProblems
        guard let root else { return (nil, problems) }
        guard let top = root.pairs else {
            problems.append(
                MappingProblem(file: file, mapping: nil, reason: "the file is not a YAML mapping", line: root.line))
            return (nil, problems)
        }
        var version: SemanticVersion?
        var provider: String?
        var passthrough = false
        var mappingsNode: Node?
        for (key, value, line) in top {
            switch key {
            case "version":
                let text = value.scalarText ?? ""
                if let v = SemanticVersion(text) {
                    version = v
                } else {
                    problems.append(
                        MappingProblem(
                            file: file, mapping: nil,
                            reason: "version \"\(text)\" is not a semantic version (MAJOR.MINOR.PATCH)", line: line))
                }
            case "provider":
                if let p = value.scalarText, !p.isEmpty {
                    provider = p
                } else {
                    problems.append(
                        MappingProblem(
                            file: file, mapping: nil, reason: "provider must be a non-empty string", line: line))
                }
            case "passthrough":
                if let b = value.bool {
                    passthrough = b
                } else {
                    problems.append(
                        MappingProblem(
                            file: file, mapping: nil, reason: "passthrough must be true or false", line: line))
                }
            case "mappings":
                mappingsNode = value
            default:
                if !ignoredFileKeys.contains(key) {
                    problems.append(
                        MappingProblem(
                            file: file, mapping: nil, reason: "unknown key \(key) (ignored)", severity: .warning,
                            line: line))
                }
            }
        }
        if top.first(where: { $0.key == "version" }) == nil {
            problems.append(MappingProblem(file: file, mapping: nil, reason: "missing required key version"))
        }
        if top.first(where: { $0.key == "provider" }) == nil {
            problems.append(MappingProblem(file: file, mapping: nil, reason: "missing required key provider"))
        }
        var mappings: [FieldMapping] = []
        if let mappingsNode {
            if let pairs = mappingsNode.pairs {
                for (key, value, line) in pairs {
                    if let m = parseMapping(key: key, node: value, line: line, file: file, problems: &problems) {
                        mappings.append(m)
                    }
                }
            } else if !mappingsNode.isNullScalar {
                problems.append(
                    MappingProblem(
                        file: file, mapping: nil, reason: "mappings must be a YAML mapping", line: mappingsNode.line))
            }
        } else {
            problems.append(MappingProblem(file: file, mapping: nil, reason: "missing required key mappings"))
        }
        // Nothing mapped and nothing passed through: every record of the provider would be
        // stored with no field at all. Allowed (a provider being set up), but said.
        if mappingsNode != nil, mappings.isEmpty, !passthrough, !problems.contains(where: { $0.severity == .error }) {
            problems.append(
                MappingProblem(
                    file: file, mapping: nil,
                    reason: "mappings is empty and passthrough is off: the provider's records would be stored with no field",
                    severity: .warning, line: mappingsNode?.line))
        }
        guard let version, let provider else { return (nil, problems) }
        return (
            MappingFile(
                fileName: file, version: version, provider: provider, passthrough: passthrough, mappings: mappings),
            problems
        )
    }

    private static func parseMapping(
        key: String, node: Node, line: Int?, file: String, problems: inout [MappingProblem]
    ) -> FieldMapping? {
        func problem(_ reason: String, line l: Int? = nil, severity: MappingProblem.Severity = .error) {
            problems.append(
                MappingProblem(file: file, mapping: key, reason: reason, severity: severity, line: l ?? line))
        }
        guard let pairs = node.pairs else {
            problem("the mapping is not a YAML mapping")
            return nil
        }
        var fields: [String: (Node, Int?)] = [:]
        for (k, v, l) in pairs { fields[k] = (v, l) }

        var ok = true
        var kind: MappingKind?
        if let (t, l) = fields["type"] {
            let text = t.scalarText ?? ""
            if let k = MappingKind(rawValue: text) {
                kind = k
            } else {
                problem("unknown type \(text) (direct, prioritized, calculated, transformed, io_mapped)", line: l)
                ok = false
            }
        } else {
            problem("missing required key type")
            ok = false
        }
        var dataType: MappingDataType?
        if let (d, l) = fields["data_type"] {
            let text = d.scalarText ?? ""
            if let dt = MappingDataType(rawValue: text), dt != .object {
                dataType = dt
            } else {
                problem("unknown data_type \(text) (number, string, boolean, datetime, array)", line: l)
                ok = false
            }
        } else {
            problem("missing required key data_type")
            ok = false
        }
        var errorHandling = ErrorHandling.returnNull
        if let (e, l) = fields["error_handling"] {
            let text = e.scalarText ?? ""
            if let eh = ErrorHandling(rawValue: text) {
                errorHandling = eh
            } else {
                problem("unknown error_handling \(text) (return_null, use_fallback, fail_record)", line: l)
                ok = false
            }
        }
        var unit = "none"
        if let (u, l) = fields["unit"] {
            if let text = u.scalarText {
                unit = text
            } else {
                problem("unit must be a string", line: l)
                ok = false
            }
        }

        var known: Set<String> = ["type", "data_type", "error_handling", "unit"]
        var sources: [MappingSource] = []
        var call: FunctionCall?
        var io: IOMapping?
        switch kind {
        case .direct?, .prioritized?:
            known.insert("sources")
            guard let (s, l) = fields["sources"] else {
                problem("missing required key sources")
                ok = false
                break
            }
            guard let items = s.sequence, !items.isEmpty else {
                problem("sources must be a non-empty list", line: l)
                ok = false
                break
            }
            for (index, item) in items.enumerated() {
                if let source = parseSource(item, index: index, mapping: key, file: file, problems: &problems) {
                    sources.append(source)
                } else {
                    ok = false
                }
            }
            if kind == .direct && items.count > 1 {
                problem("a direct mapping takes one source, found \(items.count) (use type prioritized)", line: l)
                ok = false
            }
            var seen: [Int: Int] = [:]
            for s in sources {
                guard let p = s.priority else { continue }
                if seen[p] != nil {
                    problem("two sources have priority \(p)", line: l)
                    ok = false
                }
                seen[p] = 1
            }
            if sources.allSatisfy({ $0.priority != nil }) {
                // Stable: equal priorities were reported above.
                sources = sources.enumerated().sorted {
                    ($0.element.priority!, $0.offset) < ($1.element.priority!, $1.offset)
                }
                .map(\.element)
            }
        case .calculated?:
            known.formUnion(["calculation_type", "function", "parameters"])
            call = parseCall(node, mapping: key, file: file, line: line, problems: &problems)
            if call == nil { ok = false }
        case .ioMapped?:
            known.formUnion(["default_source", "installation_metadata"])
            let d = fields["default_source"]?.0.scalarText
            let m = fields["installation_metadata"]?.0.scalarText
            if d == nil { problem("missing required key default_source") }
            if m == nil { problem("missing required key installation_metadata") }
            if let d, let m {
                io = IOMapping(defaultSource: d, installationMetadata: m)
            } else {
                ok = false
            }
        case .transformed?:
            known.formUnion(["transformation", "service_fields"])
            if fields["transformation"] == nil { problem("missing required key transformation") }
        case nil:
            known.formUnion(["sources", "function", "parameters", "calculation_type"])
        }
        for (k, _, l) in pairs where !known.contains(k) && !ignoredMappingKeys.contains(k) {
            problem("unknown key \(k) (ignored)", line: l, severity: .warning)
        }
        guard ok, let kind, let dataType else { return nil }
        return FieldMapping(
            key: key, kind: kind, sources: sources, call: call, ioMapping: io, unit: unit, dataType: dataType,
            errorHandling: errorHandling, line: line)
    }

    private static func parseSource(
        _ node: Node, index: Int, mapping: String, file: String, problems: inout [MappingProblem]
    ) -> MappingSource? {
        let where_ = "source \(index + 1)"
        func problem(_ reason: String) {
            problems.append(
                MappingProblem(file: file, mapping: mapping, reason: "\(where_): \(reason)", line: node.line))
        }
        guard let pairs = node.pairs else {
            problem("not a YAML mapping")
            return nil
        }
        var priority: Int?
        if let p = node.value("priority") {
            guard let v = p.int, v >= 1 else {
                problem("priority must be a positive integer")
                return nil
            }
            priority = v
        }
        let type = node.value("type")?.scalarText ?? "direct"
        if type == "calculated" || node.value("function") != nil {
            guard type == "calculated" else {
                problem("a source with a function must have type calculated")
                return nil
            }
            guard
                var call = parseCall(
                    node, mapping: mapping, file: file, line: node.line, problems: &problems, context: where_)
            else { return nil }
            call.priority = priority
            return .calculated(call)
        }
        guard type == "direct" else {
            problem("unknown source type \(type) (direct, calculated)")
            return nil
        }
        let known: Set<String> = [
            "type", "field", "path", "unit", "priority", "provider", "description", "source_type",
        ]
        for (k, _, l) in pairs where !known.contains(k) {
            problems.append(
                MappingProblem(
                    file: file, mapping: mapping, reason: "\(where_): unknown key \(k) (ignored)", severity: .warning,
                    line: l))
        }
        guard let path = node.value("path")?.scalarText else {
            problem("missing required key path")
            return nil
        }
        return .field(
            FieldSource(
                field: node.value("field")?.scalarText, path: path, unit: node.value("unit")?.scalarText ?? "none",
                priority: priority, provider: node.value("provider")?.scalarText))
    }

    private static func parseCall(
        _ node: Node, mapping: String, file: String, line: Int?, problems: inout [MappingProblem],
        context: String? = nil
    ) -> FunctionCall? {
        let prefix = context.map { "\($0): " } ?? ""
        func problem(_ reason: String) {
            problems.append(MappingProblem(file: file, mapping: mapping, reason: prefix + reason, line: line))
        }
        if let ct = node.value("calculation_type")?.scalarText, ct != "function_reference" {
            problem("calculation_type \(ct) is not supported (function_reference)")
            return nil
        }
        guard let function = node.value("function")?.scalarText, !function.isEmpty else {
            problem("missing required key function")
            return nil
        }
        var call = FunctionCall(function: function, unit: node.value("unit")?.scalarText)
        guard let parameters = node.value("parameters"), !parameters.isNullScalar else { return call }
        guard let pairs = parameters.pairs else {
            problem("parameters must be a YAML mapping")
            return nil
        }
        var ok = true
        for (k, v, _) in pairs {
            switch k {
            case "provider":
                guard let providers = v.pairs else {
                    if !v.isNullScalar {
                        problem("parameters.provider must map a provider to field names")
                        ok = false
                    }
                    continue
                }
                for (p, names, _) in providers {
                    if let one = names.scalarText, !names.isNullScalar {
                        call.providerParameters[p] = [one]
                    } else if let list = names.sequence, list.allSatisfy({ $0.scalarText != nil }) {
                        call.providerParameters[p] = list.compactMap(\.scalarText)
                    } else if names.isNullScalar {
                        call.providerParameters[p] = []
                    } else {
                        problem("parameters.provider.\(p) must be a field name or a list of them")
                        ok = false
                    }
                }
            case "fleeti":
                if let one = v.scalarText, !v.isNullScalar {
                    call.fleetiParameters = [one]
                } else if let list = v.sequence, list.allSatisfy({ $0.scalarText != nil }) {
                    call.fleetiParameters = list.compactMap(\.scalarText)
                } else if !v.isNullScalar {
                    problem("parameters.fleeti must be a list of field names")
                    ok = false
                }
            case "static":
                guard let statics = v.pairs else {
                    if !v.isNullScalar {
                        problem("parameters.static must be a YAML mapping")
                        ok = false
                    }
                    continue
                }
                for (name, value, _) in statics { call.staticParameters[name] = fieldValue(value) }
            default:
                problems.append(
                    MappingProblem(
                        file: file, mapping: mapping, reason: "\(prefix)unknown parameters key \(k) (ignored)",
                        severity: .warning, line: line))
            }
        }
        return ok ? call : nil
    }

    /// A YAML value as a `FieldValue`, typed by YAML's own resolution (`0` int, `0.5` double, `true` bool).
    static func fieldValue(_ node: Node) -> FieldValue {
        switch node {
        case .scalar(let s):
            if node.isNullScalar { return .null }
            if s.style == .plain {
                if let b = node.bool { return .bool(b) }
                if let i = node.int { return .int(Int64(i)) }
                if let d = node.float { return .double(d) }
            }
            return .string(s.string)
        case .sequence(let seq):
            return .array(seq.map(fieldValue))
        case .mapping(let m):
            return .keyed(m.compactMap { k, v in k.scalarText.map { ($0, fieldValue(v)) } })
        case .alias:
            return .null
        }
    }
}
