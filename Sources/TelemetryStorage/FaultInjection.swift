import Synchronization

/// Test hooks in the real write path: makes writes fail as if the disk had, so tests can drive
/// the degraded path, and runs code right after a commit, so tests can read in the window
/// between a batch reaching LevelDB and readers' view moving forward. Never armed in
/// production: nothing outside tests calls `failNextWrite` or `afterNextCommit`.
package final class FaultInjection: Sendable {
    private struct Armed {
        var failure: LevelDBError?
        var afterCommit: (@Sendable () -> Void)?
    }

    private let armed = Mutex(Armed())

    package init() {}

    /// The next write fails with `error` (and, the store then being degraded, no write follows).
    package func failNextWrite(with error: LevelDBError = LevelDBError(code: .ioError, message: "IO error: injected fault")) {
        armed.withLock { $0.failure = error }
    }

    /// Runs `body` once, right after the next successful LevelDB write: on the writing thread,
    /// with the writer lock held, before the write's vehicle states are published to readers.
    /// `body` may read from the store but must not write to it (the writer lock is not reentrant).
    package func afterNextCommit(_ body: @escaping @Sendable () -> Void) {
        armed.withLock { $0.afterCommit = body }
    }

    /// Before a write: throws the armed failure, if any; otherwise returns the hook to run once
    /// the write succeeded. One lock either way, as before the hook existed.
    func check() throws(LevelDBError) -> (@Sendable () -> Void)? {
        let (failure, hook) = armed.withLock { a -> (LevelDBError?, (@Sendable () -> Void)?) in
            if let failure = a.failure {
                a.failure = nil
                return (failure, nil)
            }
            defer { a.afterCommit = nil }
            return (nil, a.afterCommit)
        }
        if let failure { throw failure }
        return hook
    }
}
