import Foundation
import Synchronization

/// Ingest counts since the server started, and per-second buckets of the last minute, for
/// `admin stats` (metrics counters cannot be read back; Prometheus computes its own rates).
public final class IngestTally: Sendable {
    public struct Snapshot: Sendable, Hashable {
        public var stored: UInt64
        public var rejected: UInt64
        public var late: UInt64
        /// Over the last 60 seconds.
        public var storedPerSecond: Double
        public var rejectedPerSecond: Double
    }

    static let window = 60

    private struct State {
        var stored: UInt64 = 0
        var rejected: UInt64 = 0
        var late: UInt64 = 0
        /// Bucket i holds the second `seconds[i]`: (stored, rejected).
        var seconds = [Int64](repeating: .min, count: IngestTally.window)
        var buckets = [(UInt64, UInt64)](repeating: (0, 0), count: IngestTally.window)
    }

    private let state = Mutex(State())
    private let clock: @Sendable () -> Int64

    /// - Parameter clock: seconds since 1970, injectable for tests.
    public init(clock: (@Sendable () -> Int64)? = nil) {
        self.clock = clock ?? { Int64(Date().timeIntervalSince1970) }
    }

    /// Counts one answered batch.
    func record(stored: Int, rejected: Int, late: Int) {
        let now = clock()
        state.withLock { s in
            s.stored += UInt64(stored)
            s.rejected += UInt64(rejected)
            s.late += UInt64(late)
            let i = Int(now.magnitude % UInt64(Self.window))
            if s.seconds[i] != now {
                s.seconds[i] = now
                s.buckets[i] = (0, 0)
            }
            s.buckets[i].0 += UInt64(stored)
            s.buckets[i].1 += UInt64(rejected)
        }
    }

    /// Totals, and rates over the last minute (the current second included).
    public func snapshot() -> Snapshot {
        let now = clock()
        return state.withLock { s in
            var stored: UInt64 = 0
            var rejected: UInt64 = 0
            for i in 0..<Self.window where s.seconds[i] > now - Int64(Self.window) && s.seconds[i] <= now {
                stored += s.buckets[i].0
                rejected += s.buckets[i].1
            }
            return Snapshot(
                stored: s.stored, rejected: s.rejected, late: s.late,
                storedPerSecond: Double(stored) / Double(Self.window), rejectedPerSecond: Double(rejected) / Double(Self.window))
        }
    }
}
