/// Integer sequences as sealed blocks store them (docs/storage-format.md, "Sealed blocks").
///
/// A sequence of `count` Int64 values (the count is known to the caller) is turned into
/// residuals by delta coding `order` times (0 = the values, 1 = deltas, 2 = deltas of deltas),
/// zigzagged, and bit-packed in groups of 32 with one width byte per group:
/// ```
/// +-------+---------------------------+--------------------------------------------------------+
/// | order | first `order` residuals    | groups of 32 residuals (the last group may be shorter) |
/// | u8    | zigzag varints (seeds)     | width w: u8 (0...64) | ceil(k * w / 8) bytes, LSB first |
/// +-------+---------------------------+--------------------------------------------------------+
/// ```
/// The seeds (the first value, and for order 2 the first delta) are kept out of the packed
/// groups because they are large (a timestamp) where every later residual is small: packed,
/// they would widen the whole first group. A group of residuals that are all zero (a regular
/// 1 Hz clock, a constant field) takes its width byte and nothing else.
///
/// All arithmetic wraps, so any Int64 sequence (Int64.min next to Int64.max included)
/// round-trips exactly.
enum PackedIntegers {
    static let groupSize = 32

    /// Appends `values`, choosing the delta order (0, 1 or 2) that packs smallest.
    static func encode(_ values: [Int64], into out: inout [UInt8]) {
        guard !values.isEmpty else {
            out.append(0)
            return
        }
        // Sizes are computed from the group widths alone; only the winner is bit-packed.
        var bestOrder = 0
        var bestSize = Int.max
        for order in 0...2 where order == 0 || values.count > order {
            let size = packedSize(residuals(values, order: order), seeds: min(order, values.count))
            if size < bestSize {
                bestSize = size
                bestOrder = order
            }
        }
        encode(values, order: bestOrder, into: &out)
    }

    /// `values` delta-coded `order` times, the first `order` values left as seeds.
    static func residuals(_ values: [Int64], order: Int) -> [Int64] {
        var residuals = values
        for pass in 0..<order {
            // Each pass leaves the seeds before it alone: r[i] -= r[i-1] from the back.
            var i = residuals.count - 1
            while i > pass {
                residuals[i] = residuals[i] &- residuals[i - 1]
                i -= 1
            }
        }
        return residuals
    }

    /// Bytes `encode(_:order:into:)` writes for these residuals, the order byte aside.
    static func packedSize(_ residuals: [Int64], seeds: Int) -> Int {
        var size = 0
        for i in 0..<seeds {
            var z = zigzag(residuals[i])
            repeat {
                size += 1
                z >>= 7
            } while z > 0
        }
        var start = seeds
        while start < residuals.count {
            let end = min(start + groupSize, residuals.count)
            var all: UInt64 = 0
            for i in start..<end { all |= zigzag(residuals[i]) }
            size += 1 + ((end - start) * (64 - all.leadingZeroBitCount) + 7) / 8
            start = end
        }
        return size
    }

    static func encode(_ values: [Int64], order: Int, into out: inout [UInt8]) {
        precondition((0...2).contains(order), "delta order \(order) is not 0, 1 or 2")
        let residuals = residuals(values, order: order)
        out.append(UInt8(order))
        let seeds = min(order, residuals.count)
        for i in 0..<seeds { out.appendZigzag(residuals[i]) }
        var writer = BitWriter()
        var start = seeds
        while start < residuals.count {
            let end = min(start + groupSize, residuals.count)
            var all: UInt64 = 0
            for i in start..<end { all |= zigzag(residuals[i]) }
            let width = 64 - all.leadingZeroBitCount
            out.append(UInt8(width))
            if width > 0 {
                for i in start..<end { writer.write(zigzag(residuals[i]), width: width, into: &out) }
                writer.flush(into: &out)
            }
            start = end
        }
    }

    /// Reads `count` values written by `encode`.
    static func decode(_ reader: inout ByteReader, count: Int) throws(ByteDecodingError) -> [Int64] {
        let order = Int(try reader.readByte())
        guard order <= 2 else { throw ByteDecodingError(reason: "unknown delta order \(order)") }
        var values = [Int64]()
        values.reserveCapacity(count)
        let seeds = min(order, count)
        for _ in 0..<seeds { values.append(try reader.readZigzag()) }
        while values.count < count {
            let k = min(groupSize, count - values.count)
            let width = Int(try reader.readByte())
            guard width <= 64 else { throw ByteDecodingError(reason: "bit width \(width) out of range") }
            if width == 0 {
                for _ in 0..<k { values.append(0) }
                continue
            }
            let bytes = (k * width + 7) / 8
            guard bytes <= reader.remaining else {
                throw ByteDecodingError(reason: "packed group runs past the end at byte \(reader.offset)")
            }
            var bits = BitReader(reader.bytes, offset: reader.offset)
            for _ in 0..<k { values.append(unzigzag(bits.read(width))) }
            try reader.skip(bytes)
        }
        // Undo the delta passes, innermost first.
        var pass = order - 1
        while pass >= 0 {
            if values.count > pass + 1 {
                for i in (pass + 1)..<values.count { values[i] = values[i] &+ values[i - 1] }
            }
            pass -= 1
        }
        return values
    }

    /// Moves past `count` values without building them (projection).
    static func skip(_ reader: inout ByteReader, count: Int) throws(ByteDecodingError) {
        let order = Int(try reader.readByte())
        guard order <= 2 else { throw ByteDecodingError(reason: "unknown delta order \(order)") }
        let seeds = min(order, count)
        for _ in 0..<seeds { _ = try reader.readVarint() }
        var left = count - seeds
        while left > 0 {
            let k = min(groupSize, left)
            let width = Int(try reader.readByte())
            guard width <= 64 else { throw ByteDecodingError(reason: "bit width \(width) out of range") }
            try reader.skip((k * width + 7) / 8)
            left -= k
        }
    }

    @inline(__always) static func zigzag(_ v: Int64) -> UInt64 {
        UInt64(bitPattern: (v << 1) ^ (v >> 63))
    }

    @inline(__always) static func unzigzag(_ u: UInt64) -> Int64 {
        Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }
}

/// Bits into bytes, least significant bit first.
struct BitWriter {
    private var accumulator: UInt64 = 0
    private var pending = 0

    /// Appends the low `width` bits of `value` (width 1...64).
    @inline(__always) mutating func write(_ value: UInt64, width: Int, into out: inout [UInt8]) {
        if width > 32 {
            write(value & 0xFFFF_FFFF, width: 32, into: &out)
            write(value >> 32, width: width - 32, into: &out)
            return
        }
        // pending < 8 here, so pending + width <= 40 fits the accumulator.
        let masked = width == 64 ? value : value & ((1 << UInt64(width)) - 1)
        accumulator |= masked << UInt64(pending)
        pending += width
        while pending >= 8 {
            out.append(UInt8(truncatingIfNeeded: accumulator))
            accumulator >>= 8
            pending -= 8
        }
    }

    /// Writes the last partial byte, zero-padded.
    mutating func flush(into out: inout [UInt8]) {
        if pending > 0 { out.append(UInt8(truncatingIfNeeded: accumulator)) }
        accumulator = 0
        pending = 0
    }
}

/// Reads bits written by `BitWriter`. The caller checks that the bytes it will read exist.
struct BitReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var offset: Int
    private var accumulator: UInt64 = 0
    private var available = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    /// The next `width` bits (1...64).
    @inline(__always) mutating func read(_ width: Int) -> UInt64 {
        if width > 32 {
            let low = read(32)
            return low | (read(width - 32) << 32)
        }
        // available < width <= 32 before each byte, so the accumulator never overflows.
        while available < width {
            // The caller checked the group's byte count; reading past it is our bug, not damage.
            precondition(offset < bytes.count, "bit reader ran past its checked group")
            accumulator |= UInt64(bytes[offset]) << UInt64(available)
            offset += 1
            available += 8
        }
        let value = accumulator & ((1 << UInt64(width)) - 1)
        accumulator >>= UInt64(width)
        available -= width
        return value
    }
}
