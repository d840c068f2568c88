import Testing
import TelemetryCore
@testable import TelemetryStorage

@Suite("Key coding")
struct KeyLayoutTests {
    @Test("record keys sort by partition, vehicle, then time, negatives first")
    func ordering() {
        let timestamps: [Int64] = [.min, -3_600_001, -3_600_000, -1, 0, 1, 3_599_999, 3_600_000, .max]
        var keys: [(Int64, UInt32, [UInt8])] = []
        for ts in timestamps {
            for vehicle: UInt32 in [1, 2, 255, 256, .max] {
                let p = KeyLayout.partition(of: ts, width: 3_600_000)
                keys.append((ts, vehicle, KeyLayout.recordKey(.canonical, partition: p, vehicle: vehicle, timestamp: ts)))
            }
        }
        let byBytes = keys.sorted { $0.2.lexicographicallyPrecedes($1.2) }
        let byMeaning = keys.sorted {
            let pa = KeyLayout.partition(of: $0.0, width: 3_600_000)
            let pb = KeyLayout.partition(of: $1.0, width: 3_600_000)
            return (pa, $0.1, $0.0) < (pb, $1.1, $1.0)
        }
        #expect(byBytes.map(\.2) == byMeaning.map(\.2))
        for (ts, vehicle, key) in keys {
            let parsed = key.withUnsafeBufferPointer { KeyLayout.parseRecordKey($0) }
            #expect(parsed?.timestamp == ts)
            #expect(parsed?.vehicle == vehicle)
        }
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
