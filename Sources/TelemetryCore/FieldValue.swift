/// A typed telemetry value: what one field of a record holds.
///
/// The set matches the wire protocol's value types and the storage encoding
/// (docs/storage-format.md). Arrays may nest any of these, including arrays.
public enum FieldValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case array([FieldValue])

    /// The value as a double when it is numeric (int or double), else nil.
    public var numericValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        case .null, .bool, .string, .bytes, .array: return nil
        }
    }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "int64"
        case .double: return "double"
        case .string: return "string"
        case .bytes: return "bytes"
        case .array: return "array"
        }
    }
}

extension FieldValue {
    /// Equality as a store sees it: doubles compare by bit pattern, so NaN equals
    /// itself and 0.0 differs from -0.0 (both round-trip exactly through storage).
    public func isIdentical(to other: FieldValue) -> Bool {
        switch (self, other) {
        case (.double(let a), .double(let b)): return a.bitPattern == b.bitPattern
        case (.array(let a), .array(let b)):
            guard a.count == b.count else { return false }
            for i in a.indices where !a[i].isIdentical(to: b[i]) { return false }
            return true
        default: return self == other
        }
    }
}
