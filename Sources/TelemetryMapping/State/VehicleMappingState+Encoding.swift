import TelemetryCore

/// Why stored state bytes could not be decoded.
public struct VehicleMappingStateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String

    /// `vehicle mapping state: message`.
    public var description: String { "vehicle mapping state: \(message)" }
}

extension VehicleMappingState {
    /// The encoding's format version (the first byte). Version 1 (names inline, times
    /// absolute) is still read.
    public static let encodingVersion: UInt8 = 2

    /// Memory keys that version 2 writes as their position in this list, plus one: the
    /// names of the catalog's stateful fields, which every state of a Fleeti mapping holds.
    /// Spelled out they were half of a state's bytes, and a state is written with every
    /// batch. **Append only**: stored states name keys by position.
    static let wellKnownMemoryKeys: [String] = [
        "location_last_changed_at", "last_updated_at", "top_status_last_changed_at",
        "statuses_connectivity_last_changed_at", "statuses_immobilization_last_changed_at",
        "statuses_engine_last_changed_at", "statuses_transit_last_changed_at", "ignition_last_changed_at",
        "movement_last_updated_at", "is_moving_last_updated_at", "engine_hours_last_updated_at",
        "odometer_last_updated_at", "driver_name", "fuel_tank_level_last_updated_at", "ongoing_trip_started_at",
        "driver_last_changed_at", "fuel_consumption_cumulative_last_updated_at", "status_statuses_last_changed_at",
        "driver_id_last_changed_at", "driver_privacy_mode_last_changed_at", "trip_started_at",
    ]
    static let wellKnownMemoryKeyIndex: [String: Int] = Dictionary(
        uniqueKeysWithValues: wellKnownMemoryKeys.enumerated().map { ($1, $0 + 1) })

    /// The state as compact bytes, for the store's opaque per-vehicle state.
    ///
    /// ```
    /// +------+-------+-----------------------------------------------------------------+
    /// | 0x01 | flags | present parts, in flag-bit order                                |
    /// +------+-------+-----------------------------------------------------------------+
    /// bit 0 lastPacketAt        zigzag varint, ms
    /// bit 1 connectivityCode    varint length + UTF-8
    /// bit 2 transit.code        u8 (1 in_transit, 2 parked)
    /// bit 3 transit.stillSince  zigzag varint, ms
    /// bit 4 transit.lastIgnition u8 (0 false, 1 true)
    /// bit 5 trip                zigzag startedAt, u8 hasOdometer [+ f64 LE], varint n,
    ///                           n waypoints as microdegree (lat, lng) zigzag varints, each
    ///                           after the first a delta from the previous
    /// bit 6 immobilizerCommand  u8 kind, zigzag varint sentAt
    /// bit 7 memory              varint n, n x (key, input, output), keys sorted by name.
    ///                           key: varint k; k >= 1 is `wellKnownMemoryKeys[k - 1]`, k = 0 is
    ///                           followed by varint length + UTF-8 (version 1: always the latter,
    ///                           without k). Input and output are tagged values:
    ///                           0 null, 1 false, 2 true, 3 int (zigzag varint), 4 double (f64 LE),
    ///                           5 string, 6 bytes (varint length + bytes), 7 array (varint n + n values),
    ///                           8 int as zigzag varint of (value - lastPacketAt), version 2, only
    ///                           with lastPacketAt and only where shorter than tag 3 (the
    ///                           remembered times sit near the last packet)
    /// ```
    /// Equal states encode to equal bytes.
    /// - Returns: the bytes; an empty state encodes to two bytes.
    public func encoded() -> [UInt8] {
        let memoryEntries = memoryCount
        var w = StateWriter()
        w.bytes.reserveCapacity(64 + memoryEntries * 64 + (trip?.waypoints.count ?? 0) * 6)
        w.bytes.append(Self.encodingVersion)
        var flags: UInt8 = 0
        if lastPacketAt != nil { flags |= 1 << 0 }
        if connectivityCode != nil { flags |= 1 << 1 }
        if transit.code != nil { flags |= 1 << 2 }
        if transit.stillSince != nil { flags |= 1 << 3 }
        if transit.lastIgnition != nil { flags |= 1 << 4 }
        if trip != nil { flags |= 1 << 5 }
        if immobilizerCommand != nil { flags |= 1 << 6 }
        if memoryEntries > 0 { flags |= 1 << 7 }
        w.bytes.append(flags)
        if let t = lastPacketAt { w.zigzag(t) }
        if let c = connectivityCode { w.string(c) }
        if let c = transit.code { w.bytes.append(c.rawValue) }
        if let t = transit.stillSince { w.zigzag(t) }
        if let i = transit.lastIgnition { w.bytes.append(i ? 1 : 0) }
        if let trip {
            w.zigzag(trip.startedAt)
            if let odo = trip.startOdometer {
                w.bytes.append(1)
                w.double(odo)
            } else {
                w.bytes.append(0)
            }
            w.varint(UInt64(trip.waypoints.count))
            var prevLat: Int64 = 0
            var prevLng: Int64 = 0
            for p in trip.waypoints {
                let lat = OngoingTrip.microdegrees(p.latitude)
                let lng = OngoingTrip.microdegrees(p.longitude)
                w.zigzag(lat &- prevLat)
                w.zigzag(lng &- prevLng)
                prevLat = lat
                prevLng = lng
            }
        }
        if let cmd = immobilizerCommand {
            w.bytes.append(cmd.kind.rawValue)
            w.zigzag(cmd.sentAt)
        }
        if memoryEntries > 0 {
            w.varint(UInt64(memoryEntries))
            // Keys sorted, as one dictionary's would be: the slotted keys in the layout's key
            // order merged with the named ones sorted (the two never share a key).
            let named = namedMemory.sorted(by: { $0.key < $1.key })
            var n = 0
            func writeNamed(before key: String?) {
                while n < named.count, key.map({ named[n].key < $0 }) ?? true {
                    w.memory(named[n].key, named[n].value, near: lastPacketAt)
                    n += 1
                }
            }
            if let layout = memoryLayout {
                for slot in layout.sortedSlots {
                    guard let entry = memorySlots[slot] else { continue }
                    writeNamed(before: layout.names[slot])
                    // The key's length and UTF-8, encoded once per layout.
                    w.bytes.append(contentsOf: layout.encodedNames[slot])
                    w.value(entry.input, near: lastPacketAt)
                    w.value(entry.output, near: lastPacketAt)
                }
            }
            writeNamed(before: nil)
        }
        return w.bytes
    }

    /// Decodes bytes written by `encoded()`. Empty bytes decode to an empty state.
    /// - Throws: `VehicleMappingStateError` for an unknown format version or corrupt bytes.
    public init(encoded bytes: [UInt8]) throws(VehicleMappingStateError) {
        self.init()
        guard !bytes.isEmpty else { return }
        var r = StateReader(bytes: bytes)
        let version = try r.byte()
        guard version == 1 || version == Self.encodingVersion else {
            throw VehicleMappingStateError(message: "unsupported format version \(version)")
        }
        let flags = try r.byte()
        if flags & (1 << 0) != 0 { lastPacketAt = try r.zigzag() }
        if flags & (1 << 1) != 0 { connectivityCode = try r.string() }
        if flags & (1 << 2) != 0 {
            let c = try r.byte()
            guard let code = TransitState.Code(rawValue: c) else {
                throw VehicleMappingStateError(message: "bad transit code \(c)")
            }
            transit.code = code
        }
        if flags & (1 << 3) != 0 { transit.stillSince = try r.zigzag() }
        if flags & (1 << 4) != 0 { transit.lastIgnition = try r.byte() != 0 }
        if flags & (1 << 5) != 0 {
            var t = OngoingTrip(startedAt: try r.zigzag())
            if try r.byte() != 0 { t.startOdometer = try r.double() }
            let n = try r.count(minimumBytesEach: 2)
            t.waypoints.reserveCapacity(n)
            var lat: Int64 = 0
            var lng: Int64 = 0
            for _ in 0..<n {
                lat = lat &+ (try r.zigzag())
                lng = lng &+ (try r.zigzag())
                t.waypoints.append(Coordinate(latitude: Double(lat) / 1e6, longitude: Double(lng) / 1e6))
            }
            trip = t
        }
        if flags & (1 << 6) != 0 {
            let k = try r.byte()
            guard let kind = ImmobilizerCommand.Kind(rawValue: k) else {
                throw VehicleMappingStateError(message: "bad immobilizer command \(k)")
            }
            immobilizerCommand = ImmobilizerCommand(kind: kind, sentAt: try r.zigzag())
        }
        if flags & (1 << 7) != 0 {
            let n = try r.count(minimumBytesEach: 3)
            namedMemory.reserveCapacity(n)
            for _ in 0..<n {
                let key = version == 1 ? try r.string() : try r.memoryKey()
                let input = try r.value(depth: 0, near: lastPacketAt)
                let output = try r.value(depth: 0, near: lastPacketAt)
                namedMemory[key] = FieldMemory(input: input, output: output)
            }
        }
        guard r.offset == bytes.count else {
            throw VehicleMappingStateError(message: "\(bytes.count - r.offset) trailing bytes")
        }
    }
}

extension OngoingTrip {
    /// Coordinates are kept at microdegree precision (about 0.1 m) so a state that went
    /// through storage maps exactly like one that stayed in memory.
    static func microdegrees(_ degrees: Double) -> Int64 {
        Int64((degrees * 1e6).rounded())
    }

    static func quantized(_ c: Coordinate) -> Coordinate {
        Coordinate(latitude: Double(microdegrees(c.latitude)) / 1e6, longitude: Double(microdegrees(c.longitude)) / 1e6)
    }
}

struct StateWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ v: Int64) {
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    mutating func double(_ d: Double) {
        var bits = d.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    mutating func string(_ s: String) {
        varint(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    mutating func memory(_ key: String, _ m: FieldMemory, near base: Int64?) {
        memoryKey(key)
        value(m.input, near: base)
        value(m.output, near: base)
    }

    /// A memory key: its place in `wellKnownMemoryKeys` plus one, or 0 and the name.
    mutating func memoryKey(_ key: String) {
        if let k = VehicleMappingState.wellKnownMemoryKeyIndex[key] {
            varint(UInt64(k))
        } else {
            bytes.append(0)
            string(key)
        }
    }

    static func zigzagLength(_ v: Int64) -> Int {
        var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        var n = 1
        while u >= 0x80 {
            u >>= 7
            n += 1
        }
        return n
    }

    /// - Parameter base: the state's lastPacketAt: an int is written relative to it (tag 8)
    ///   when that is shorter.
    mutating func value(_ v: FieldValue, near base: Int64? = nil) {
        switch v {
        case .null: bytes.append(0)
        case .bool(let b): bytes.append(b ? 2 : 1)
        case .int(let i):
            if let base {
                let (delta, overflow) = i.subtractingReportingOverflow(base)
                if !overflow, Self.zigzagLength(delta) < Self.zigzagLength(i) {
                    bytes.append(8)
                    zigzag(delta)
                    return
                }
            }
            bytes.append(3)
            zigzag(i)
        case .double(let d):
            bytes.append(4)
            double(d)
        case .string(let s):
            bytes.append(5)
            string(s)
        case .bytes(let b):
            bytes.append(6)
            varint(UInt64(b.count))
            bytes.append(contentsOf: b)
        case .array(let items):
            bytes.append(7)
            varint(UInt64(items.count))
            for item in items { value(item) }
        }
    }
}

private struct StateReader {
    let bytes: [UInt8]
    var offset = 0
    static let maxDepth = 16

    mutating func byte() throws(VehicleMappingStateError) -> UInt8 {
        guard offset < bytes.count else { throw VehicleMappingStateError(message: "truncated") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(VehicleMappingStateError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw VehicleMappingStateError(message: "varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func zigzag() throws(VehicleMappingStateError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// A count that cannot exceed what the remaining bytes could hold (corrupt counts must not
    /// allocate gigabytes).
    mutating func count(minimumBytesEach: Int) throws(VehicleMappingStateError) -> Int {
        let n = try varint()
        guard n <= UInt64(bytes.count - offset) / UInt64(max(1, minimumBytesEach)) + 1 else {
            throw VehicleMappingStateError(message: "count \(n) exceeds the data")
        }
        return Int(n)
    }

    mutating func double() throws(VehicleMappingStateError) -> Double {
        guard bytes.count - offset >= 8 else { throw VehicleMappingStateError(message: "truncated") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return Double(bitPattern: bits)
    }

    mutating func raw() throws(VehicleMappingStateError) -> ArraySlice<UInt8> {
        let n = try varint()
        guard n <= UInt64(bytes.count - offset) else { throw VehicleMappingStateError(message: "truncated") }
        defer { offset += Int(n) }
        return bytes[offset..<(offset + Int(n))]
    }

    mutating func string() throws(VehicleMappingStateError) -> String {
        let raw = try raw()
        // ASCII (every key and code the engine writes) is valid UTF-8 as it is.
        if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) }
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw VehicleMappingStateError(message: "invalid UTF-8")
        }
        return s
    }

    /// A memory key of version 2 (`StateWriter.memoryKey`).
    mutating func memoryKey() throws(VehicleMappingStateError) -> String {
        let k = try varint()
        if k == 0 { return try string() }
        guard k <= UInt64(VehicleMappingState.wellKnownMemoryKeys.count) else {
            throw VehicleMappingStateError(message: "unknown memory key \(k) (written by a newer version?)")
        }
        return VehicleMappingState.wellKnownMemoryKeys[Int(k) - 1]
    }

    /// - Parameter base: the state's lastPacketAt, which tag 8 is relative to.
    mutating func value(depth: Int, near base: Int64? = nil) throws(VehicleMappingStateError) -> FieldValue {
        let tag = try byte()
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try zigzag())
        case 8:
            guard let base else { throw VehicleMappingStateError(message: "a relative time without lastPacketAt") }
            let (value, overflow) = base.addingReportingOverflow(try zigzag())
            guard !overflow else { throw VehicleMappingStateError(message: "a relative time out of range") }
            return .int(value)
        case 4: return .double(try double())
        case 5: return .string(try string())
        case 6: return .bytes(Array(try raw()))
        case 7:
            guard depth < Self.maxDepth else { throw VehicleMappingStateError(message: "arrays nested too deep") }
            let n = try count(minimumBytesEach: 1)
            var items: [FieldValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(depth: depth + 1)) }
            return .array(items)
        default:
            throw VehicleMappingStateError(message: "unknown value tag \(tag)")
        }
    }
}
