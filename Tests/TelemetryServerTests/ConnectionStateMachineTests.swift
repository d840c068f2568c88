import Testing
@testable import TelemetryServer

@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    @Test("before a hello only a hello is served; anything else is UNAUTHENTICATED")
    func awaitingHello() {
        var m = ConnectionStateMachine()
        #expect(m.requestReceived(.ingest) == .reject(code: 16, message: "the first request on a connection must be a hello with a token; got ingest"))
        #expect(m.state == .awaitingHello)
        #expect(m.requestReceived(.hello) == .authenticate)
    }

    @Test("an accepted hello serves the role's requests and refuses the others")
    func roles() {
        var ingest = ConnectionStateMachine()
        ingest.helloAccepted(role: .ingest)
        #expect(ingest.requestReceived(.ingest) == .dispatch(role: .ingest))
        #expect(ingest.requestReceived(.ping) == .dispatch(role: .ingest))
        #expect(ingest.requestReceived(.rangeQuery) == .reject(code: 7, message: "role ingest may not make range_query requests"))
        #expect(ingest.requestReceived(.admin) == .reject(code: 7, message: "role ingest may not make admin requests"))

        var query = ConnectionStateMachine()
        query.helloAccepted(role: .query)
        for kind in [RequestKind.rangeQuery, .latest, .aggregate, .listVehicles, .ping] {
            #expect(query.requestReceived(kind) == .dispatch(role: .query))
        }
        #expect(query.requestReceived(.ingest) == .reject(code: 7, message: "role query may not make ingest requests"))

        var admin = ConnectionStateMachine()
        admin.helloAccepted(role: .admin)
        for kind in RequestKind.allCases where kind != .hello {
            #expect(admin.requestReceived(kind) == .dispatch(role: .admin))
        }
    }

    @Test("a second hello is FAILED_PRECONDITION; a refused hello closes")
    func helloTwiceAndRefusal() {
        var m = ConnectionStateMachine()
        m.helloAccepted(role: .admin)
        #expect(m.requestReceived(.hello) == .reject(code: 9, message: "hello was already accepted on this connection"))
        var refused = ConnectionStateMachine()
        refused.helloRefused()
        #expect(refused.isClosed)
    }

    @Test("while draining every new request is UNAVAILABLE")
    func draining() {
        var m = ConnectionStateMachine()
        m.helloAccepted(role: .admin)
        m.drainStarted()
        #expect(m.requestReceived(.ingest) == .reject(code: 14, message: "the server is shutting down; reconnect and retry"))
    }
}

@Suite("Tokens")
struct TokenAuthenticatorTests {
    @Test("a token grants its role; an unknown, shorter, longer or empty one none")
    func roles() {
        let auth = TokenAuthenticator(tokens: [
            AccessToken(secret: "ingest-secret-0001", role: .ingest), AccessToken(secret: "admin-secret-00001", role: .admin),
        ])
        #expect(auth.role(for: "ingest-secret-0001") == .ingest)
        #expect(auth.role(for: "admin-secret-00001") == .admin)
        #expect(auth.role(for: "ingest-secret-000") == nil)
        #expect(auth.role(for: "ingest-secret-00011") == nil)
        #expect(auth.role(for: "") == nil)
        #expect(!auth.isOpen)
    }

    @Test("with no tokens configured every client is admin")
    func open() {
        let auth = TokenAuthenticator(tokens: [])
        #expect(auth.isOpen && auth.role(for: "anything") == .admin)
    }

    @Test("the comparison treats length and content alike")
    func constantTime() {
        #expect(TokenAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!TokenAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!TokenAuthenticator.constantTimeEquals(Array("abc".utf8), Array("abc\0".utf8)))
        #expect(!TokenAuthenticator.constantTimeEquals([], Array("a".utf8)))
    }
}
