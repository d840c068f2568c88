/// Finds the role a hello's token grants, in time that does not depend on how much of
/// a secret a guess got right.
struct TokenAuthenticator: Sendable {
    private let tokens: [(secret: [UInt8], role: Role)]

    init(tokens: [AccessToken]) {
        self.tokens = tokens.map { (Array($0.secret.utf8), $0.role) }
    }

    /// True when no token is configured: every client is admin (loopback only).
    var isOpen: Bool { tokens.isEmpty }

    /// The role `token` grants, or nil. Every configured secret is compared in full, so the
    /// time taken says nothing about which secret, or how much of it, matched.
    func role(for token: String) -> Role? {
        if tokens.isEmpty { return .admin }
        let offered = Array(token.utf8)
        var granted: Role? = nil
        for t in tokens {
            if Self.constantTimeEquals(offered, t.secret) && granted == nil { granted = t.role }
        }
        return granted
    }

    /// Compares without an early exit: the loop always runs over the longer input.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: a.count ^ b.count)
        let n = Swift.max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= UInt(x ^ y)
        }
        return difference == 0
    }
}

extension Role {
    /// Whether this role may make a request of `kind`.
    func permits(_ kind: RequestKind) -> Bool {
        switch (self, kind) {
        case (.admin, _): return true
        case (_, .ping), (_, .hello): return true
        case (.ingest, .ingest): return true
        case (.query, .rangeQuery), (.query, .latest), (.query, .aggregate), (.query, .listVehicles): return true
        case (.ingest, _), (.query, _): return false
        }
    }
}

/// The kinds of request, for permissions, metrics and logs.
enum RequestKind: String, Sendable, CaseIterable {
    case hello, ingest, rangeQuery = "range_query", latest, aggregate, listVehicles = "list_vehicles", ping, admin
}
