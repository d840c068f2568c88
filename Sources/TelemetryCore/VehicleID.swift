/// A vehicle identifier: a UTF-8 string of 1 to 64 bytes.
///
/// Validation happens once, at the boundary (wire decoding, CLI parsing), so every
/// layer below can rely on it.
public struct VehicleID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The longest vehicle id accepted, in UTF-8 bytes.
    public static let maxByteCount = 64

    /// The id as text.
    public let rawValue: String

    /// Validates and wraps a vehicle id.
    /// - Parameter rawValue: the id; 1 to 64 bytes of UTF-8, no NUL or control characters.
    /// - Throws: `VehicleIDError` naming the problem.
    public init(_ rawValue: String) throws(VehicleIDError) {
        let count = rawValue.utf8.count
        guard count > 0 else { throw .empty }
        guard count <= Self.maxByteCount else { throw .tooLong(byteCount: count) }
        if rawValue.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw .controlCharacter
        }
        self.rawValue = rawValue
    }

    /// Validates an id given as raw bytes (from the wire or from disk).
    ///
    /// Inlinable so that callers in other modules (the storage's dictionary loading, wire
    /// decoding) get it specialized for their byte collection, instead of the generic version
    /// going through the protocol witness for every byte.
    /// - Throws: `VehicleIDError.notUTF8` when the bytes are not valid UTF-8, or as `init(_:)`.
    @inlinable
    public init<Bytes: Collection<UInt8>>(utf8Bytes bytes: Bytes) throws(VehicleIDError) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        try self.init(text)
    }

    public var description: String { rawValue }

    public static func < (lhs: VehicleID, rhs: VehicleID) -> Bool {
        // Byte order, the order keys sort in on disk.
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }
}

/// Why a string is not a valid vehicle id.
public enum VehicleIDError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    case tooLong(byteCount: Int)
    case notUTF8
    case controlCharacter

    public var description: String {
        switch self {
        case .empty: return "vehicle id is empty"
        case .tooLong(let n): return "vehicle id is \(n) bytes long (max \(VehicleID.maxByteCount))"
        case .notUTF8: return "vehicle id is not valid UTF-8"
        case .controlCharacter: return "vehicle id contains a control character"
        }
    }
}
