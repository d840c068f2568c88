import CMalloc

/// How `telemetryd` sets up glibc's allocator before it serves (`mallopt`).
///
/// - Two arenas, not one per thread that allocates: with NIO's event loops, its thread pool and
///   the cooperative threads, per-thread arenas multiply the free memory each keeps.
/// - While the memory trim runs (`ServerConfiguration.memoryTrimSeconds`), glibc keeps what is
///   freed instead of giving it back at once: large allocations come from the heap, not from a
///   fresh `mmap` each, and the heap's top is not cut back after every free. A range answer of
///   2000 rows x 12 fields allocated and freed a few hundred KiB per request; each time the
///   kernel mapped and zeroed those pages again, and page faults were 17 % of the server's CPU
///   over the query benchmark. The periodic trim is then what returns free memory, within its
///   interval. With the trim off, glibc's own thresholds stay, so memory still goes back.
public enum AllocatorSettings {
    /// One `mallopt` call: glibc's parameter number and its value.
    public struct Setting: Sendable, Hashable {
        public var name: String
        public var parameter: Int32
        public var value: Int32
    }

    /// Allocations from this size on get their own mapping: only the rare huge buffer.
    public static let mmapThresholdBytes: Int32 = 32 << 20
    /// Free memory at the heap's top kept before glibc trims it on its own.
    public static let trimThresholdBytes: Int32 = 128 << 20
    /// Extra memory asked of the kernel with each heap growth, so growth is rare.
    public static let topPadBytes: Int32 = 16 << 20

    /// The settings for a server whose memory trim runs every `memoryTrimSeconds` (nil: off).
    public static func settings(memoryTrimSeconds: Int?) -> [Setting] {
        var out = [Setting(name: "M_ARENA_MAX", parameter: M_ARENA_MAX, value: 2)]
        if memoryTrimSeconds != nil {
            out.append(Setting(name: "M_MMAP_THRESHOLD", parameter: M_MMAP_THRESHOLD, value: mmapThresholdBytes))
            out.append(Setting(name: "M_TRIM_THRESHOLD", parameter: M_TRIM_THRESHOLD, value: trimThresholdBytes))
            out.append(Setting(name: "M_TOP_PAD", parameter: M_TOP_PAD, value: topPadBytes))
        }
        return out
    }

    /// Applies `settings(memoryTrimSeconds:)`.
    /// - Returns: the settings glibc refused (`mallopt` answered 0); empty when all took.
    @discardableResult
    public static func apply(memoryTrimSeconds: Int?) -> [Setting] {
        settings(memoryTrimSeconds: memoryTrimSeconds).filter { mallopt($0.parameter, $0.value) == 0 }
    }
}
