import Synchronization
public import TelemetryStorage
import TelemetryCore

/// The server's current store: one place that every user of the store reads it from
/// (dispatcher, maintenance, monitoring), so that an online restore can swap it.
///
/// Also keeps backup and restore apart: a backup holds a snapshot of the store for its whole
/// run, and a restore must close the store, so a restore waits for no backup and refuses to
/// start while one runs (and backups refuse while a restore runs).
public final class StoreHandle: Sendable {
    private struct State {
        var store: TelemetryStore
        var backups = 0
        var restoring = false
        /// Between closing the old store and installing the new one.
        var swapping = false
        /// Whether a restore ever replaced the store (requests may still hold the old one).
        var replaced = false
    }

    private let state: Mutex<State>

    public init(_ store: TelemetryStore) {
        state = Mutex(State(store: store))
    }

    /// The store to use now. Read it for each request: it changes after an online restore.
    public var current: TelemetryStore { state.withLock { $0.store } }

    func beginBackup() throws(StatusError) {
        try state.withLock { s throws(StatusError) in
            guard !s.restoring else { throw StatusError(.failedPrecondition, "a restore is running; back up after it") }
            s.backups += 1
        }
    }

    func endBackup() { state.withLock { $0.backups -= 1 } }

    func beginRestore() throws(StatusError) {
        try state.withLock { s throws(StatusError) in
            guard !s.restoring else { throw StatusError(.failedPrecondition, "a restore is already running") }
            guard s.backups == 0 else {
                throw StatusError(.failedPrecondition, "\(s.backups) backup(s) running; restore after they finish")
            }
            s.restoring = true
        }
    }

    /// The old store is about to close: requests that meet it closed are told to retry.
    func swapStarted() { state.withLock { $0.swapping = true } }

    /// Ends a restore; `store` (the restored one, or the old one reopened) becomes current.
    func endRestore(installing store: TelemetryStore?) {
        state.withLock { s in
            if let store, store !== s.store {
                s.store = store
                s.replaced = true
            }
            s.swapping = false
            s.restoring = false
        }
    }

    /// The answer for a request that met a store closed by a restore: UNAVAILABLE, retry
    /// (the retry reaches the restored store). Nil for any other error, and for a store closed
    /// because the server is shutting down.
    func statusDuringRestore(for error: any Error) -> StatusError? {
        guard let storage = error as? StorageError, storage.code == .closed else { return nil }
        let (swapping, replaced, store) = state.withLock { ($0.swapping, $0.replaced, $0.store) }
        // After a restore, the current store open while the error says closed: the request
        // used the store the restore replaced.
        guard swapping || (replaced && store.health != .closed) else { return nil }
        return StatusError(.unavailable, "the store is being restored; retry")
    }
}
