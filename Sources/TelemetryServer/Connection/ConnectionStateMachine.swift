/// What one connection may do next, as a plain value: no NIO, so every transition is
/// tested directly (Tests/TelemetryServerTests/ConnectionStateMachineTests.swift).
///
/// ```
///  awaitingHello --hello ok--> active(role) --shutdown--> draining --last answer--> closed
///        |  \--bad token / version--> closed
///        \--any other request: UNAUTHENTICATED, still awaitingHello
/// ```
struct ConnectionStateMachine: Sendable {
    enum State: Sendable, Hashable {
        case awaitingHello
        case active(role: Role)
        /// Shutting down: no new request is taken; answers in flight are still written.
        case draining
        case closed
    }

    private(set) var state: State = .awaitingHello

    /// What to do with a request that just arrived.
    enum RequestAction: Sendable, Hashable {
        /// A hello while none was accepted: authenticate it.
        case authenticate
        /// Serve it with the connection's role.
        case dispatch(role: Role)
        /// Answer with this status; the connection stays open.
        case reject(code: StatusCodeValue, message: String)
    }

    /// A status code as a plain number, so actions stay simple values.
    typealias StatusCodeValue = UInt8

    mutating func requestReceived(_ kind: RequestKind) -> RequestAction {
        switch state {
        case .awaitingHello:
            if kind == .hello { return .authenticate }
            return .reject(
                code: 16, message: "the first request on a connection must be a hello with a token; got \(kind.rawValue)")
        case .active(let role):
            if kind == .hello { return .reject(code: 9, message: "hello was already accepted on this connection") }
            guard role.permits(kind) else {
                return .reject(code: 7, message: "role \(role) may not make \(kind.rawValue) requests")
            }
            return .dispatch(role: role)
        case .draining, .closed:
            return .reject(code: 14, message: "the server is shutting down; reconnect and retry")
        }
    }

    /// The hello was good: the connection is served with `role`.
    mutating func helloAccepted(role: Role) {
        if case .awaitingHello = state { state = .active(role: role) }
    }

    /// The hello was refused (bad token, unsupported version): the connection closes
    /// after the answer, so a peer cannot guess tokens on one connection.
    mutating func helloRefused() {
        state = .closed
    }

    /// Shutdown began.
    mutating func drainStarted() {
        switch state {
        case .awaitingHello, .active: state = .draining
        case .draining, .closed: break
        }
    }

    var isClosed: Bool { state == .closed }
}
