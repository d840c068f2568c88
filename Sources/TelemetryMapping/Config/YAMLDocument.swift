import Yams

/// Parses YAML into Yams nodes while collecting problems instead of stopping at the first.
///
/// Yams 6 refuses a document with duplicate mapping keys and names only the first set. To
/// report every duplicate with its line (and still validate the rest of the file), a
/// duplicate makes us scan the block-style text ourselves (`DuplicateKeyScanner`), rename
/// each second occurrence to a placeholder key, and compose again. Placeholder keys start
/// with `duplicateKeyPrefix` and readers skip them: the first definition wins.
enum YAMLDocument {
    static let duplicateKeyPrefix = "__duplicate_"

    /// Composes the first document of `text`.
    /// - Returns: the root node (nil when the text cannot be read at all) and the problems found;
    ///   when the root is nil, there is at least one problem.
    static func compose(_ text: String, file: String) -> (root: Node?, problems: [MappingProblem]) {
        do {
            // Yams answers nil, not an error, for a text without any document (empty, blank or
            // only comments). Every reader of a file needs one, and a nil root with no problem
            // read as "nothing wrong": an empty mapping file validated, loaded nothing silently
            // and was refused with an empty message.
            guard let root = try Yams.compose(yaml: text) else { return (nil, [emptyProblem(file: file)]) }
            return (root, [])
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            let found = DuplicateKeyScanner.scan(text)
            guard !found.isEmpty else {
                let keys = duplicates.joined(separator: ", ")
                return (
                    nil,
                    [MappingProblem(file: file, mapping: nil, reason: "duplicate key \(keys)", line: context.mark.line)]
                )
            }
            var problems = found.map { problem(for: $0, file: file) }
            let rewritten = DuplicateKeyScanner.renaming(found, in: text)
            do {
                guard let root = try Yams.compose(yaml: rewritten) else { return (nil, problems + [emptyProblem(file: file)]) }
                return (root, problems)
            } catch {
                problems.append(syntaxProblem(error, file: file))
                return (nil, problems)
            }
        } catch {
            return (nil, [syntaxProblem(error, file: file)])
        }
    }

    /// The text holds no YAML document.
    static func emptyProblem(file: String) -> MappingProblem {
        MappingProblem(file: file, mapping: nil, reason: "the file is empty (nothing but blank lines or comments)")
    }

    private static func problem(for duplicate: DuplicateKeyScanner.Duplicate, file: String) -> MappingProblem {
        let lines = "lines \(duplicate.firstLine) and \(duplicate.line)"
        let path = duplicate.path
        if path.first == "mappings" {
            if path.count == 1 {
                return MappingProblem(
                    file: file, mapping: duplicate.key,
                    reason: "defined twice (\(lines)); the first definition is kept", line: duplicate.line)
            }
            let inner = (Array(path.dropFirst(2)) + [duplicate.key]).joined(separator: ".")
            return MappingProblem(
                file: file, mapping: path[1], reason: "duplicate key \(inner) (\(lines))", line: duplicate.line)
        }
        let key = (path + [duplicate.key]).joined(separator: ".")
        return MappingProblem(file: file, mapping: nil, reason: "duplicate key \(key) (\(lines))", line: duplicate.line)
    }

    static func syntaxProblem(_ error: any Error, file: String) -> MappingProblem {
        var line: Int?
        var message = "\(error)"
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(let context, let problem, let mark, _):
                line = mark.line
                message = "\(context?.text ?? "") \(problem)".trimmingSpaces
            case .parser(let context, let problem, let mark, _):
                line = mark.line
                message = "\(context?.text ?? "") \(problem)".trimmingSpaces
            default:
                message = "\(yamlError)".split(separator: "\n").first.map(String.init) ?? message
            }
        }
        return MappingProblem(
            file: file, mapping: nil,
            reason: "not valid YAML: \(message)" + (line.map { " (line \($0))" } ?? ""), line: line)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s.removeLast() }
        return String(s)
    }
}

extension Node {
    /// The 1-based line of the node, when Yams recorded it.
    var line: Int? { mark?.line }

    /// The node's pairs when it is a mapping, skipping duplicate placeholders.
    var pairs: [(key: String, value: Node, line: Int?)]? {
        guard let mapping else { return nil }
        var out: [(key: String, value: Node, line: Int?)] = []
        out.reserveCapacity(mapping.count)
        for (k, v) in mapping {
            guard let key = k.scalar?.string, !key.hasPrefix(YAMLDocument.duplicateKeyPrefix) else { continue }
            out.append((key, v, k.line))
        }
        return out
    }

    /// The value for a key of a mapping node.
    func value(_ key: String) -> Node? {
        guard let mapping else { return nil }
        return mapping[key]
    }

    /// A scalar's text, whatever its resolved type (`1.0` stays `1.0`).
    var scalarText: String? { scalar?.string }

    /// True for an explicit null scalar (`~`, `null`, or nothing).
    var isNullScalar: Bool {
        guard let scalar else { return false }
        return scalar.style == .plain
            && (scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" || scalar.string == "Null"
                || scalar.string == "NULL")
    }
}

/// Finds duplicate keys in block-style YAML by indentation, with their lines and key paths.
///
/// It understands what the Fleeti files use: nested block mappings, `- ` sequence items
/// holding mappings, quoted keys, comments, block scalars (`|`, `>`) and single- or
/// multi-line flow collections (whose insides it skips; Yams reports those duplicates).
enum DuplicateKeyScanner {
    struct Duplicate: Hashable {
        var key: String
        /// Keys leading to the mapping holding the duplicate (sequence items add no component).
        var path: [String]
        var line: Int
        var firstLine: Int
        /// UTF-8 offset of the key in its line, and the key's length in the line (quotes included).
        var keyOffset: Int
        var keyLength: Int
    }

    private struct Scope {
        var column: Int
        var path: [String]
        var keys: [String: Int] = [:]
        var lastKey: String?
    }

    static func scan(_ text: String) -> [Duplicate] {
        var duplicates: [Duplicate] = []
        var scopes: [Scope] = []
        var blockScalarParent: Int?  // skip lines indented deeper than this
        var flowDepth = 0
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Array(rawLine.utf8.filter { $0 != 13 })
            let indent = line.prefix(while: { $0 == 32 }).count
            let content = stripComment(line)
            let isBlank = content.allSatisfy { $0 == 32 || $0 == 9 }
            if flowDepth > 0 {
                flowDepth += bracketBalance(content)
                if flowDepth < 0 { flowDepth = 0 }
                continue
            }
            if let parent = blockScalarParent {
                if isBlank || indent > parent { continue }
                blockScalarParent = nil
            }
            if isBlank { continue }
            if content.starts(with: Array("---".utf8)) || content.starts(with: Array("...".utf8)) { continue }

            var column = indent
            var position = indent
            // Sequence items: each "- " opens a new item; a key after it starts a new mapping.
            var startsItem = false
            while position < content.count, content[position] == UInt8(ascii: "-"),
                position + 1 == content.count || content[position + 1] == 32
            {
                startsItem = true
                position += 1
                while position < content.count, content[position] == 32 { position += 1 }
                column = position
                while let top = scopes.last, top.column >= column { scopes.removeLast() }
            }
            guard let (key, keyLength, valueStart) = parseKey(content, at: position) else {
                // A scalar item or a flow collection value.
                flowDepth = max(0, bracketBalance(Array(content[position...])))
                continue
            }
            while let top = scopes.last, top.column > column { scopes.removeLast() }
            if startsItem || scopes.last?.column != column {
                let parentPath: [String]
                if let parent = scopes.last {
                    parentPath = parent.path + (parent.lastKey.map { [$0] } ?? [])
                } else {
                    parentPath = []
                }
                scopes.append(Scope(column: column, path: parentPath))
            }
            if let first = scopes[scopes.count - 1].keys[key] {
                duplicates.append(
                    Duplicate(
                        key: key, path: scopes[scopes.count - 1].path, line: lineNumber, firstLine: first,
                        keyOffset: position, keyLength: keyLength))
            } else {
                scopes[scopes.count - 1].keys[key] = lineNumber
            }
            scopes[scopes.count - 1].lastKey = key
            let value = Array(content[valueStart...]).drop(while: { $0 == 32 || $0 == 9 })
            if let first = value.first {
                if first == UInt8(ascii: "|") || first == UInt8(ascii: ">") {
                    blockScalarParent = column
                } else if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") {
                    flowDepth = max(0, bracketBalance(Array(value)))
                }
            }
        }
        return duplicates
    }

    /// The text with each duplicate key renamed to a placeholder (`__duplicate_<line>_<key>`).
    static func renaming(_ duplicates: [Duplicate], in text: String) -> String {
        let byLine = Dictionary(grouping: duplicates, by: \.line)
        var out: [String] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            guard let dups = byLine[lineNumber], let dup = dups.first else {
                out.append(String(rawLine))
                continue
            }
            var bytes = Array(rawLine.utf8)
            let placeholder = Array("\(YAMLDocument.duplicateKeyPrefix)\(lineNumber)_\(sanitized(dup.key))".utf8)
            bytes.replaceSubrange(dup.keyOffset..<(dup.keyOffset + dup.keyLength), with: placeholder)
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out.joined(separator: "\n")
    }

    private static func sanitized(_ key: String) -> String {
        String(key.unicodeScalars.map { $0.properties.isAlphabetic || ("0"..."9").contains($0) ? Character($0) : "_" })
    }

    /// Parses `key:` at `position`: returns the key, its length in the line, and where the value starts.
    private static func parseKey(_ c: [UInt8], at position: Int) -> (String, Int, Int)? {
        guard position < c.count else { return nil }
        let first = c[position]
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            var i = position + 1
            while i < c.count, c[i] != first {
                i += (c[i] == UInt8(ascii: "\\") && first == UInt8(ascii: "\"")) ? 2 : 1
            }
            guard i < c.count else { return nil }
            var j = i + 1
            while j < c.count, c[j] == 32 { j += 1 }
            guard j < c.count, c[j] == UInt8(ascii: ":"), j + 1 == c.count || c[j + 1] == 32 else { return nil }
            return (String(decoding: c[(position + 1)..<i], as: UTF8.self), i + 1 - position, j + 1)
        }
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") || first == UInt8(ascii: "?") { return nil }
        var i = position
        while i < c.count {
            if c[i] == UInt8(ascii: ":"), i + 1 == c.count || c[i + 1] == 32 {
                var end = i
                while end > position, c[end - 1] == 32 { end -= 1 }
                guard end > position else { return nil }
                return (String(decoding: c[position..<end], as: UTF8.self), end - position, i + 1)
            }
            i += 1
        }
        return nil
    }

    /// The line without its comment (a `#` at the start or after a space, outside quotes).
    private static func stripComment(_ line: [UInt8]) -> [UInt8] {
        var quote: UInt8?
        for (i, b) in line.enumerated() {
            if let q = quote {
                if b == q { quote = nil }
                continue
            }
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                quote = b
            } else if b == UInt8(ascii: "#"), i == 0 || line[i - 1] == 32 || line[i - 1] == 9 {
                return Array(line[..<i])
            }
        }
        return line
    }

    /// Opening minus closing brackets outside quotes.
    private static func bracketBalance(_ s: [UInt8]) -> Int {
        var depth = 0
        var quote: UInt8?
        for b in s {
            if let q = quote {
                if b == q { quote = nil }
                continue
            }
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = b
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return depth
    }
}
