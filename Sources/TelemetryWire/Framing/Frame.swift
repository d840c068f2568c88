public import NIOCore

/// One frame of the wire protocol (protocol/PROTOCOL.md):
///
/// ```
/// +-----------+-------------------------+---------------------------+
/// | flags: u8 | length: u32 big-endian  | payload: `length` bytes   |
/// +-----------+-------------------------+---------------------------+
/// flags bit 0: payload is snappy-compressed; bits 1-7 reserved, 0.
/// ```
public struct Frame: Sendable, Hashable {
    /// The flag byte as received; `FrameFlags` names its bits.
    public var flags: UInt8
    /// The payload as received (still compressed when bit 0 is set).
    public var payload: ByteBuffer

    public init(flags: UInt8, payload: ByteBuffer) {
        self.flags = flags
        self.payload = payload
    }

    /// Bytes before the payload.
    public static let headerLength = 5
}

/// The bits of a frame's flag byte.
public enum FrameFlags {
    /// Bit 0: the payload is compressed with snappy (raw format).
    public static let compressed: UInt8 = 0x01
    /// Bits 1-7 are reserved and must be 0.
    public static let reservedMask: UInt8 = 0xFE
}

/// Why a byte stream is not a valid frame sequence. Each case knows its wire status.
public enum FrameError: Error, Sendable, Hashable {
    /// The header announces more than the connection's limit; nothing of it was buffered.
    case frameTooLarge(length: UInt32, limit: Int)
    /// Reserved flag bits are set.
    case reservedFlags(UInt8)
    /// The payload claims snappy compression but does not decompress.
    case badCompression(String)
    /// The decompressed payload would exceed the limit.
    case decompressedTooLarge(length: Int, limit: Int)
}

extension FrameError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            return "frame of \(length) bytes exceeds the maximum frame size of \(limit) bytes"
        case .reservedFlags(let flags):
            return "frame flags 0x\(String(flags, radix: 16)) set reserved bits (only bit 0, compression, is defined)"
        case .badCompression(let why):
            return "frame payload is flagged snappy-compressed but is not valid snappy data (\(why))"
        case .decompressedTooLarge(let length, let limit):
            return "compressed frame expands to \(length) bytes, over the maximum frame size of \(limit) bytes"
        }
    }
}
