import Testing
@testable import TelemetryServer

@Suite("Allocator settings")
struct AllocatorSettingsTests {
    @Test("with the memory trim on, freed memory is kept for the trim to return; off, glibc's own thresholds stay")
    func settingsFollowTheTrim() {
        let on = AllocatorSettings.settings(memoryTrimSeconds: ServerConfiguration().memoryTrimSeconds)
        #expect(on.map(\.name) == ["M_ARENA_MAX", "M_MMAP_THRESHOLD", "M_TRIM_THRESHOLD", "M_TOP_PAD"])
        #expect(on.first { $0.name == "M_MMAP_THRESHOLD" }?.value == 32 << 20)
        #expect(on.first { $0.name == "M_TRIM_THRESHOLD" }?.value == 128 << 20)
        let off = AllocatorSettings.settings(memoryTrimSeconds: nil)
        #expect(off.map(\.name) == ["M_ARENA_MAX"])
        #expect(off.first?.value == 2)
    }

    @Test("glibc takes every setting")
    func glibcTakesThem() {
        #expect(AllocatorSettings.apply(memoryTrimSeconds: 5).isEmpty)
    }
}
