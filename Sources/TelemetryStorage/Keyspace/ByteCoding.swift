/// Appending primitives for keys and values. Keys use fixed-width big-endian integers
/// (byte order = numeric order); values use varints (compact).
extension Array where Element == UInt8 {
    /// Signed 64-bit integer, order-preserving: the sign bit is flipped so that
    /// Int64.min encodes as 00..00 and Int64.max as FF..FF.
    @inlinable mutating func appendOrderedInt64(_ value: Int64) {
        appendBigEndian(UInt64(bitPattern: value) ^ 0x8000_0000_0000_0000)
    }

    @inlinable mutating func appendBigEndian(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    @inlinable mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    /// LEB128: 7 bits a byte, low bits first, high bit set on every byte but the last.
    @inlinable mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(truncatingIfNeeded: v))
    }

    /// Zigzag then LEB128, so small negative numbers stay small.
    @inlinable mutating func appendZigzag(_ value: Int64) {
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    @inlinable mutating func appendLengthPrefixed<C: Collection<UInt8>>(_ bytes: C) {
        appendVarint(UInt64(bytes.count))
        append(contentsOf: bytes)
    }
}

extension UInt32 {
    /// The 4 big-endian bytes of a metadata value.
    var bigEndianBytes: [UInt8] {
        var out = [UInt8]()
        out.appendBigEndian(self)
        return out
    }
}

extension UInt64 {
    /// The 8 big-endian bytes of a metadata value.
    var bigEndianBytes: [UInt8] {
        var out = [UInt8]()
        out.appendBigEndian(self)
        return out
    }
}

/// Why stored bytes could not be decoded: always a sign of damage or of a bug, reported
/// to clients as DATA_LOSS.
struct ByteDecodingError: Error, Sendable, Hashable {
    var reason: String
}

/// A forward reader over borrowed bytes.
struct ByteReader: ~Copyable {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { bytes.count - offset }

    mutating func readByte() throws(ByteDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw ByteDecodingError(reason: "truncated at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// An unsigned LEB128 varint in its shortest form, as the writer emits it.
    ///
    /// Anything else is damage: a 10th byte above 1 (its bits beyond bit 63 would be dropped,
    /// and a continuation bit would ask for an 11th byte), or a last byte of 0 after the first
    /// (a padded form). Accepting a padded form would give one value two encodings, and
    /// duplicate detection compares record values byte for byte.
    mutating func readVarint() throws(ByteDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw ByteDecodingError(reason: "truncated varint at byte \(offset)") }
            let byte = bytes[offset]
            offset += 1
            if shift == 63, byte > 1 {
                throw ByteDecodingError(reason: "varint overflows 64 bits at byte \(offset - 1)")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                guard byte != 0 || shift == 0 else {
                    throw ByteDecodingError(reason: "varint not in its shortest form at byte \(offset - 1)")
                }
                return result
            }
            shift += 7
        }
    }

    mutating func readZigzag() throws(ByteDecodingError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func readBigEndianUInt64() throws(ByteDecodingError) -> UInt64 {
        guard remaining >= 8 else { throw ByteDecodingError(reason: "truncated integer at byte \(offset)") }
        var v: UInt64 = 0
        for i in 0..<8 { v = (v << 8) | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    mutating func readBigEndianUInt32() throws(ByteDecodingError) -> UInt32 {
        guard remaining >= 4 else { throw ByteDecodingError(reason: "truncated integer at byte \(offset)") }
        var v: UInt32 = 0
        for i in 0..<4 { v = (v << 8) | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }

    mutating func readOrderedInt64() throws(ByteDecodingError) -> Int64 {
        Int64(bitPattern: try readBigEndianUInt64() ^ 0x8000_0000_0000_0000)
    }

    /// A length-prefixed run of bytes, borrowed.
    mutating func readLengthPrefixed() throws(ByteDecodingError) -> UnsafeBufferPointer<UInt8> {
        let length = try readVarint()
        guard length <= UInt64(remaining) else {
            throw ByteDecodingError(reason: "length \(length) runs past the end at byte \(offset)")
        }
        let slice = UnsafeBufferPointer(rebasing: bytes[offset..<(offset + Int(length))])
        offset += Int(length)
        return slice
    }

    /// A length-prefixed UTF-8 string; bytes that are not UTF-8 are damage, not U+FFFD.
    mutating func readString(_ what: @autoclosure () -> String) throws(ByteDecodingError) -> String {
        let bytes = try readLengthPrefixed()
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw ByteDecodingError(reason: "\(what()) is not UTF-8")
        }
        return string
    }

    mutating func skip(_ count: Int) throws(ByteDecodingError) {
        guard count <= remaining else { throw ByteDecodingError(reason: "truncated at byte \(offset)") }
        offset += count
    }
}

extension Array where Element == UInt8 {
    /// Runs `body` with a reader over this array's bytes.
    func withReader<T, E: Error>(_ body: (inout ByteReader) throws(E) -> T) throws(E) -> T {
        let result: Result<T, E> = withUnsafeBufferPointer { buffer in
            var reader = ByteReader(buffer)
            do throws(E) { return .success(try body(&reader)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
