import Foundation
import TelemetryCore

/// Reads JSON lines: one object per line, blank lines skipped.
///
/// ```
/// {"vehicle":"truck-1","timestamp":1704067200000,"speed":42.5,"ignition":true}
/// {"vehicle":"truck-1","ts":"2024-01-01T00:00:01Z","provider":"navixy","sequence":7,"fields":{"speed":40}}
/// ```
///
/// - Keys: `vehicle`/`vehicle_id` (or `InputOptions.vehicleKey`), a string or an integer;
///   `timestamp`/`time`/`ts` (or `InputOptions.timestampKey`), an integer in the given
///   precision or a string (integer text or RFC 3339); optional `provider` (else, for a
///   record a store kept unmapped, the `provider` of the `provenance` object `telemetryctl query`
///   writes; `InputOptions.provider`, when given, wins over both); optional `sequence`, the
///   gateway's non-negative sequence number.
/// - Fields: the `fields` object when there is one, and then every other top-level key
///   is left out (so that `dlq list --format jsonl`, with its id and reason beside the
///   fields, reads back in), and named once in `notes`. Without `fields`, every other
///   top-level key is a field.
/// - Types: an integer that fits `Int64` is an int (a longer one a double, named in
///   `notes`); any number
///   with a fraction or exponent is a double, so `12.0` stays a double; booleans, strings
///   and null map to themselves; arrays map element by element. Bytes are an object with
///   one key, `{"base64": "..."}` (as `query --format jsonl` writes them); any other nested
///   object has no `FieldValue` and is an error naming its key.
/// - `provider`, `sequence` and `provenance` may be null, meaning absent; `provenance` is
///   otherwise an object (a reserved key, never a field). Duplicate keys are errors,
///   as a record holds at most one value per field.
struct JSONLinesRecordParser: LineRecordParser {
    private let options: InputOptions
    /// The mapping version of records a store kept as they came (`telemetryd --mapping identity`).
    static let unmappedVersion = "identity"

    /// Keys left out because the line had a `fields` object, with the first line of each.
    private var ignoredKeys: [(key: String, line: Int)] = []
    /// Keys whose integer did not fit Int64 and was read as a double, with the first line.
    private var widenedKeys: [(key: String, line: Int)] = []
    /// The keys of both lists, so that a file of many lines checks each key in constant time.
    private var notedKeys: Set<String> = []

    init(options: InputOptions) {
        self.options = options
    }

    var notes: [String] {
        func named(_ keys: [(key: String, line: Int)]) -> String {
            let names = keys.prefix(10).map { "\"\($0.key)\"" }.joined(separator: ", ")
            return names + (keys.count > 10 ? " and \(keys.count - 10) more" : "") + " (first at line \(keys[0].line))"
        }
        var notes: [String] = []
        if !ignoredKeys.isEmpty {
            notes.append(
                "keys beside a \"fields\" object are not fields, and were left out: \(named(ignoredKeys)); put them in \"fields\" to store them")
        }
        if !widenedKeys.isEmpty {
            notes.append("integers beyond 64 bits were read as doubles, rounded: \(named(widenedKeys)); send them as strings to keep every digit")
        }
        return notes
    }

    mutating func parse(line: ArraySlice<UInt8>, lineNumber: Int) throws(ParseProblem) -> ProviderRecord? {
        if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return nil }
        let value: JSONValue
        do {
            value = try JSONScanner.parse(line)
        } catch {
            throw ParseProblem("invalid JSON at column \(error.column): \(error.message)")
        }
        guard case .object(let members) = value else {
            throw ParseProblem("expected a JSON object, found \(value.typeName)")
        }
        let (record, ignored, widened) = try makeRecord(members)
        for key in ignored where notedKeys.insert("ignored:" + key).inserted { ignoredKeys.append((key, lineNumber)) }
        for key in widened where notedKeys.insert("widened:" + key).inserted { widenedKeys.append((key, lineNumber)) }
        return record
    }

    mutating func finish() throws(ParseProblem) {}

    /// - Returns: the record, the keys it left out (beside a `fields` object), and those whose
    ///   integer was read as a double.
    private func makeRecord(_ members: [JSONValue.Member]) throws(ParseProblem) -> (ProviderRecord, ignored: [String], widened: [String]) {
        var vehicleMember: JSONValue.Member?
        var timestampMember: JSONValue.Member?
        var providerValue: JSONValue?
        var provenanceProvider: JSONValue?
        var sequenceValue: JSONValue?
        var fieldsValue: JSONValue?
        var others: [JSONValue.Member] = []
        var seen = Set<String>()
        let vehicleKeys = options.vehicleKeys
        let timestampKeys = options.timestampKeys
        for member in members {
            guard seen.insert(member.key).inserted else { throw ParseProblem("duplicate key \"\(member.key)\"") }
            if vehicleKeys.contains(member.key) {
                if let vehicleMember {
                    throw ParseProblem("keys \"\(vehicleMember.key)\" and \"\(member.key)\" both name the vehicle")
                }
                vehicleMember = member
            } else if timestampKeys.contains(member.key) {
                if let timestampMember {
                    throw ParseProblem(
                        "keys \"\(timestampMember.key)\" and \"\(member.key)\" both name the timestamp"
                    )
                }
                timestampMember = member
            } else if member.key == "provider" {
                providerValue = member.value
            } else if member.key == "provenance" {
                if case .null = member.value { continue }  // absent, as a null provider is
                guard case .object(let provenance) = member.value else {
                    throw ParseProblem("key \"provenance\": expected an object (as query --format jsonl writes it), found \(member.value.typeName)")
                }
                // `query --format jsonl` output keeps the record's provider there. Its fields are
                // the provider's own only when the store did not map it (mapping version
                // "identity"); a mapped record holds canonical names, and under its provider
                // they would be mapped a second time: it reads as `generic` (passthrough).
                if provenance.first(where: { $0.key == "mapping_version" })?.value == .string(Self.unmappedVersion) {
                    provenanceProvider = provenance.first { $0.key == "provider" }?.value
                }
            } else if member.key == "sequence" {
                sequenceValue = member.value
            } else if member.key == "fields" {
                fieldsValue = member.value
            } else {
                others.append(member)
            }
        }

        guard let vehicleMember else { throw ParseProblem("missing key \"\(vehicleKeys[0])\"") }
        let vehicle: VehicleID
        switch vehicleMember.value {
        case .string(let text):
            vehicle = try RecordParsing.vehicleID(text)
        case .number(let literal, isInteger: true):
            // Some gateways number their trackers; the id is the integer's text.
            vehicle = try RecordParsing.vehicleID(literal)
        default:
            throw ParseProblem("key \"\(vehicleMember.key)\": expected a string, found \(vehicleMember.value.typeName)")
        }

        guard let timestampMember else { throw ParseProblem("missing key \"\(timestampKeys[0])\"") }
        let timestamp: Int64
        do throws(ParseProblem) {
            switch timestampMember.value {
            case .number(let literal, isInteger: true), .string(let literal):
                timestamp = try RecordParsing.timestamp(literal.utf8, precision: options.precision, allowText: true)
            case .number(let literal, isInteger: false):
                throw ParseProblem("timestamp \(literal) is not an integer")
            default:
                throw ParseProblem("expected a number or a string, found \(timestampMember.value.typeName)")
            }
        } catch {
            throw ParseProblem("key \"\(timestampMember.key)\": \(error.message)")
        }

        var provider = InputOptions.defaultProvider
        for (key, value) in [("provenance.provider", provenanceProvider), ("provider", providerValue)] {
            switch value {
            case nil, .null?: break
            case .string(let text)?:
                guard !text.isEmpty else { throw ParseProblem("key \"\(key)\": provider is empty") }
                provider = text
            case let other?:
                throw ParseProblem("key \"\(key)\": expected a string, found \(other.typeName)")
            }
        }
        if let chosen = options.provider { provider = chosen }

        var sequence: UInt64?
        switch sequenceValue {
        case nil, .null?: break
        case .number(let literal, isInteger: true)? where NumberLiteral.uint64(literal.utf8) != nil:
            sequence = NumberLiteral.uint64(literal.utf8)
        case let other?:
            throw ParseProblem("key \"sequence\": expected a non-negative integer, found \(Self.describe(other))")
        }
        // 0 means "no sequence" (PROTOCOL.md section 8), which the server takes without a gateway id.
        if let s = sequence, s != 0, options.refusesSequences {
            throw ParseProblem("key \"sequence\": a gateway sequence needs --gateway-id (the server refuses one without it)")
        }

        var fields: [Field] = []
        var widened: [String] = []
        if let fieldsValue {
            guard case .object(let fieldMembers) = fieldsValue else {
                throw ParseProblem("key \"fields\": expected an object, found \(fieldsValue.typeName)")
            }
            var seenFields = Set<String>()
            fields.reserveCapacity(fieldMembers.count)
            for member in fieldMembers {
                guard seenFields.insert(member.key).inserted else {
                    throw ParseProblem("duplicate key \"fields.\(member.key)\"")
                }
                fields.append(Field(member.key, try Self.fieldValue(member.value, key: "fields.\(member.key)", widened: &widened)))
            }
        } else {
            fields.reserveCapacity(others.count)
            for member in others {
                fields.append(Field(member.key, try Self.fieldValue(member.value, key: member.key, widened: &widened)))
            }
        }
        guard !fields.isEmpty else { throw ParseProblem("record has no fields") }
        let record = ProviderRecord(
            vehicle: vehicle,
            timestamp: timestamp,
            provider: provider,
            fields: fields,
            gatewaySequence: sequence
        )
        return (record, fieldsValue == nil ? [] : others.map(\.key), widened)
    }

    /// The field value of a JSON value (see the type's documentation for the mapping).
    /// - Parameter widened: gets `key` when an integer did not fit Int64 and became a double.
    static func fieldValue(_ value: JSONValue, key: String, widened: inout [String]) throws(ParseProblem) -> FieldValue {
        switch value {
        case .null: return .null
        case .bool(let flag): return .bool(flag)
        case .string(let text): return .string(text)
        case .number(let literal, let isInteger):
            if isInteger, let integer = Int64(literal) { return .int(integer) }
            guard let double = Double(literal), double.isFinite else {
                throw ParseProblem("key \"\(key)\": number \(literal) is out of range")
            }
            if isInteger && !widened.contains(key) { widened.append(key) }
            return .double(double)
        case .array(let elements):
            var values: [FieldValue] = []
            values.reserveCapacity(elements.count)
            for element in elements { values.append(try fieldValue(element, key: key, widened: &widened)) }
            return .array(values)
        case .object(let members):
            guard members.count == 1, members[0].key == JSONText.bytesKey else {
                throw ParseProblem(
                    "key \"\(key)\": nested objects are not supported (bytes are written {\"\(JSONText.bytesKey)\": \"...\"})")
            }
            guard case .string(let text) = members[0].value else {
                throw ParseProblem("key \"\(key)\": \"\(JSONText.bytesKey)\" must be a string, found \(describe(members[0].value))")
            }
            guard let data = Data(base64Encoded: text) else {
                throw ParseProblem("key \"\(key)\": \"\(JSONText.bytesKey)\" is not valid base64")
            }
            return .bytes(Array(data))
        }
    }

    /// A value for an error message: numbers by their text, other types by name.
    private static func describe(_ value: JSONValue) -> String {
        if case .number(let literal, _) = value { return literal }
        return value.typeName
    }
}
