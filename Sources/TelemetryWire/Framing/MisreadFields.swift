public import Foundation

/// The fields of a decoded message that the protobuf library kept as unknown although their
/// number is one the message defines: the sender used another wire type for them. The
/// library does not fail on those; it sets nothing, so a `request_id` sent as a string reads
/// as 0 and a body sent as a varint reads as "no body". The server names them instead.
public enum MisreadFields {
    /// One field found in the unknown bytes.
    public struct Found: Sendable, Hashable {
        public var number: Int
        public var wireType: Int
    }

    /// The fields in `unknown` (a message's `unknownFields.data`) whose number is in `numbers`,
    /// in the order they appear. Stops quietly at bytes it cannot follow: they were accepted
    /// by the decoder, so this only happens for groups, which the protocol never uses.
    public static func find(in unknown: Data, numbers: ClosedRange<Int>) -> [Found] {
        var found: [Found] = []
        var bytes = unknown[...]
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while let byte = bytes.popFirst() {
                guard shift < 64 else { return nil }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while !bytes.isEmpty {
            guard let tag = varint() else { break }
            let number = Int(truncatingIfNeeded: tag >> 3)
            let wireType = Int(tag & 7)
            if numbers.contains(number) { found.append(Found(number: number, wireType: wireType)) }
            switch wireType {
            case 0: guard varint() != nil else { return found }
            case 1: guard bytes.count >= 8 else { return found }; bytes = bytes.dropFirst(8)
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count) else { return found }
                bytes = bytes.dropFirst(Int(length))
            case 5: guard bytes.count >= 4 else { return found }; bytes = bytes.dropFirst(4)
            default: return found
            }
        }
        return found
    }

    /// The wire type's name for a message to a person.
    public static func wireTypeName(_ wireType: Int) -> String {
        switch wireType {
        case 0: "0 (varint)"
        case 1: "1 (64-bit)"
        case 2: "2 (length-delimited)"
        case 5: "5 (32-bit)"
        default: "\(wireType)"
        }
    }
}
