import Synchronization

/// Makes the next writes fail as if the disk had, so tests can drive the degraded path
/// through the real write code. Never armed in production: nothing outside tests calls `arm`.
package final class FaultInjection: Sendable {
    private let armed = Mutex<LevelDBError?>(nil)

    package init() {}

    /// The next write fails with `error` (and, the store then being degraded, no write follows).
    package func failNextWrite(with error: LevelDBError = LevelDBError(code: .ioError, message: "IO error: injected fault")) {
        armed.withLock { $0 = error }
    }

    func check() throws(LevelDBError) {
        if let error = armed.withLock({ e -> LevelDBError? in defer { e = nil }; return e }) { throw error }
    }
}
