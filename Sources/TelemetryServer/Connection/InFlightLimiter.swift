import CoreMetrics
import Synchronization

/// Counts a connection's requests in flight. The reader takes a slot before it reads the
/// next frame, so at the limit it stops reading: TCP's window then pushes back on the
/// client (backpressure), and nothing is dropped.
final class InFlightLimiter: Sendable {
    private struct State {
        var available: Int
        // Only the connection's reader waits, so this holds at most one continuation.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>
    private let limit: Int

    init(limit: Int) {
        precondition(limit > 0, "the in-flight limit must be positive")
        self.limit = limit
        state = Mutex(State(available: limit))
    }

    /// Requests in flight now: the idle timeout leaves a connection with work alone.
    var inUse: Int { state.withLock { limit - $0.available } }

    /// Waits until a slot is free and takes it.
    func acquire() async {
        // Fast path without suspending.
        let taken = state.withLock { s -> Bool in
            guard s.available > 0 else { return false }
            s.available -= 1
            return true
        }
        if taken { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.available > 0 {
                    s.available -= 1
                    return true
                }
                s.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Gives a slot back, handing it straight to a waiter if there is one.
    func release() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.available += 1
            return nil
        }
        waiter?.resume()
    }
}

/// One connection's share of `telemetry_requests_in_flight`. What the connection still holds
/// when it ends (batches left in its ingest lane when the connection broke, queries cancelled
/// before they ran) is taken off the server-wide meter, so that the meter does not drift.
final class RequestsInFlight: Sendable {
    private let meter: Meter
    private let count = Mutex(0)

    init(meter: Meter) { self.meter = meter }

    func started() {
        count.withLock { $0 += 1 }
        meter.increment()
    }

    func finished() {
        count.withLock { $0 -= 1 }
        meter.decrement()
    }

    /// Takes whatever this connection still counts off the meter; call once, when it ends.
    func connectionEnded() {
        let left = count.withLock { n in
            defer { n = 0 }
            return n
        }
        if left > 0 { meter.decrement(by: Double(left)) }
    }
}
