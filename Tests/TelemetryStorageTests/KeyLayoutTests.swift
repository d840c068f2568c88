import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Key coding")
struct KeyLayoutTests {
    @Test("record keys sort by key slot, vehicle, then time, negatives first")
    func ordering() {
        let keysLayout = RecordKeys(width: 3_600_000, slotWidth: 60_000)
        let timestamps: [Int64] = [.min, -3_600_001, -3_600_000, -60_001, -60_000, -1, 0, 1, 59_999, 60_000, 3_599_999, 3_600_000, .max]
        var keys: [(Int64, UInt32, [UInt8])] = []
        for ts in timestamps {
            for vehicle: UInt32 in [1, 2, 255, 256, .max] {
                keys.append((ts, vehicle, keysLayout.key(.canonical, vehicle: vehicle, timestamp: ts)))
            }
        }
        let byBytes = keys.sorted { $0.2.lexicographicallyPrecedes($1.2) }
        let byMeaning = keys.sorted {
            (keysLayout.slot(of: $0.0), $0.1, $0.0) < (keysLayout.slot(of: $1.0), $1.1, $1.0)
        }
        #expect(byBytes.map(\.2) == byMeaning.map(\.2))
        for (ts, vehicle, key) in keys {
            let parsed = key.withUnsafeBufferPointer { KeyLayout.parseRecordKey($0) }
            #expect(parsed?.timestamp == ts)
            #expect(parsed?.vehicle == vehicle)
            #expect(parsed?.slot == keysLayout.slot(of: ts))
        }
    }

    @Test("record keys have the documented bytes: keyspace, slot and time sign-flipped big-endian, vehicle big-endian")
    func recordKeyBytes() {
        let values: [Int64] = [.min, -3_600_001, -1, 0, 1, 1_704_067_200_001, .max]
        // docs/storage-format.md, section 5, written out byte by byte.
        func documented(_ k: Keyspace, _ slot: Int64, _ vehicle: UInt32, _ ts: Int64) -> [UInt8] {
            let s = UInt64(bitPattern: slot) ^ (1 << 63)
            let t = UInt64(bitPattern: ts) ^ (1 << 63)
            return [k.rawValue] + (0..<8).map { UInt8(truncatingIfNeeded: s >> (56 - 8 * UInt64($0))) }
                + (0..<4).map { UInt8(truncatingIfNeeded: vehicle >> (24 - 8 * UInt32($0))) }
                + (0..<8).map { UInt8(truncatingIfNeeded: t >> (56 - 8 * UInt64($0))) }
        }
        for keyspace in [Keyspace.canonical, .raw] {
            for slot in values {
                for vehicle in [0, 1, 0x0102_0304, .max] as [UInt32] {
                    for ts in values {
                        #expect(KeyLayout.recordKey(keyspace, slot: slot, vehicle: vehicle, timestamp: ts) == documented(keyspace, slot, vehicle, ts))
                    }
                }
            }
        }
        #expect(KeyLayout.recordKey(.canonical, slot: 0, vehicle: 0x0102_0304, timestamp: -1)
            == [0x02, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test("key slots tile partitions, to the ends of Int64", arguments: [
        Int64.min, -3_600_001, -3_600_000, -60_001, -60_000, -1, 0, 1, 59_999, 60_000, 3_599_999, 3_600_000, 1_700_000_000_000, .max,
    ])
    func slotsTilePartitions(_ ts: Int64) {
        let keys = RecordKeys(width: 3_600_000, slotWidth: 60_000)
        let slot = keys.slot(of: ts)
        let p = keys.partition(of: ts)
        #expect(keys.partition(ofSlot: slot) == p)
        let slots = keys.slots(of: p)
        #expect(slots.count == 60)
        #expect(slots.contains(slot))
        // The slots of a partition are exactly those whose partition it is.
        #expect(keys.partition(ofSlot: slots.lowerBound) == p)
        #expect(keys.partition(ofSlot: slots.upperBound) == p)
        #expect(keys.slots(of: p, between: ts, and: ts) == slot...slot)
    }

    @Test("a new store's slot width divides its partition width, else a slot is a partition", arguments: [
        (Int64(3_600_000), Int64?(60_000), Int64(60_000)), (3_600_000, 7_000, 3_600_000), (30_000, 60_000, 30_000),
        (3_600_000, nil, 3_600_000), (3_600_000, 0, 3_600_000), (3_600_000, 3_600_000, 3_600_000),
    ])
    func newStoreSlotWidth(_ width: Int64, _ preferred: Int64?, _ expected: Int64) {
        #expect(RecordKeys.slotWidth(forNewStoreWith: width, preferred: preferred) == expected)
    }

    @Test("partitions use floor division", arguments: [
        (Int64(0), Int64(0)), (1, 0), (3_599_999, 0), (3_600_000, 1), (-1, -1), (-3_600_000, -1), (-3_600_001, -2),
        (.min, -2_562_047_788_016), (.max, 2_562_047_788_015),
    ])
    func partition(_ ts: Int64, _ expected: Int64) {
        #expect(KeyLayout.partition(of: ts, width: 3_600_000) == expected)
    }

    @Test("varints and zigzag round-trip at the edges", arguments: [Int64.min, -1, 0, 1, 63, 64, -64, -65, .max])
    func zigzag(_ v: Int64) throws {
        var out = [UInt8]()
        out.appendZigzag(v)
        let back = try out.withReader { r throws(ByteDecodingError) in try r.readZigzag() }
        #expect(back == v)
    }
}
