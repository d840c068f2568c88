public import TelemetryCore

extension FieldValue {
    /// An object value: `FieldValue` has no object case, so the mapping layer writes Fleeti
    /// objects (a geofence, a sensor) as a list of `[key, value]` pairs, in a fixed key order.
    /// - Parameter pairs: the object's keys and values.
    /// - Returns: `.array([.array([.string(key), value]), ...])`.
    public static func keyed(_ pairs: [(String, FieldValue)]) -> FieldValue {
        .array(pairs.map { .array([.string($0.0), $0.1]) })
    }

    /// The pairs of an object value written by `keyed(_:)`, or nil when this is not one.
    public var keyedPairs: [(key: String, value: FieldValue)]? {
        guard case .array(let items) = self else { return nil }
        var out: [(key: String, value: FieldValue)] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .array(let pair) = item, pair.count == 2, case .string(let key) = pair[0] else { return nil }
            out.append((key, pair[1]))
        }
        return out
    }

    /// The value of one key of an object value written by `keyed(_:)`.
    public subscript(key key: String) -> FieldValue? {
        keyedPairs?.first(where: { $0.key == key })?.value
    }

    /// True for `.null`.
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A number from an int, a double, a bool (0/1) or a numeric string.
    var asDouble: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v.isFinite ? v : nil
        case .bool(let b): return b ? 1 : 0
        case .string(let s): return Double(s.trimmingSpaces)
        case .null, .bytes, .array: return nil
        }
    }

    /// An integer from an int, an integral double, a bool or an integer string (decimal or `0x` hex).
    var asInt64: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let v):
            guard v.isFinite, v.rounded() == v, abs(v) < 9.2e18 else { return nil }
            return Int64(v)
        case .bool(let b): return b ? 1 : 0
        case .string(let s):
            let t = s.trimmingSpaces
            if t.hasPrefix("0x") || t.hasPrefix("0X") {
                return UInt64(t.dropFirst(2), radix: 16).map { Int64(bitPattern: $0) }
            }
            if let i = Int64(t) { return i }
            if let u = UInt64(t) { return Int64(bitPattern: u) }
            return Double(t).flatMap { FieldValue.double($0).asInt64 }
        case .null, .bytes, .array: return nil
        }
    }

    /// A boolean from a bool, a number (non-zero is true) or `true`/`false`/`on`/`off`/`1`/`0`.
    var asBool: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let v): return v != 0
        case .double(let v): return v.isFinite ? v != 0 : nil
        case .string(let s):
            switch s.trimmingSpaces.lowercased() {
            case "true", "on", "yes", "1": return true
            case "false", "off", "no", "0": return false
            default: return nil
            }
        case .null, .bytes, .array: return nil
        }
    }

    /// The text of a string value.
    var asString: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}
