/// gRPC's status codes, with gRPC's numbers and names: every layer's errors map to one.
public struct StatusCode: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init?(rawValue: UInt8) {
        guard rawValue <= 16 else { return nil }
        self.rawValue = rawValue
    }

    private init(_ value: UInt8) { self.rawValue = value }

    public static let ok = StatusCode(0)
    public static let cancelled = StatusCode(1)
    public static let unknown = StatusCode(2)
    public static let invalidArgument = StatusCode(3)
    public static let deadlineExceeded = StatusCode(4)
    public static let notFound = StatusCode(5)
    public static let alreadyExists = StatusCode(6)
    public static let permissionDenied = StatusCode(7)
    public static let resourceExhausted = StatusCode(8)
    public static let failedPrecondition = StatusCode(9)
    public static let aborted = StatusCode(10)
    public static let outOfRange = StatusCode(11)
    public static let unimplemented = StatusCode(12)
    public static let `internal` = StatusCode(13)
    public static let unavailable = StatusCode(14)
    public static let dataLoss = StatusCode(15)
    public static let unauthenticated = StatusCode(16)

    /// gRPC's upper-case name, e.g. `INVALID_ARGUMENT`.
    public var name: String {
        Self.names[Int(rawValue)]
    }

    public var description: String { name }

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
}

/// An error that knows which status code and message a client should get for it.
public protocol StatusCodeConvertible: Error {
    /// The status code to report.
    var statusCode: StatusCode { get }
    /// A message for the client: names the problem and where, never internal details.
    var statusMessage: String { get }
}

/// A failed request as a client sees it: a status code and a message naming the problem.
///
/// Two errors are equal when their code and message are; `fromServer` only tells where the
/// error was made.
public struct StatusError: Error, Sendable, Hashable, CustomStringConvertible, StatusCodeConvertible {
    public var code: StatusCode
    public var message: String
    /// True when the server sent this status; false when the client made it (it could not
    /// connect, the connection broke, no answer came in time). `telemetryctl` tells "server
    /// unreachable" from a server's own UNAVAILABLE (degraded, draining) by it.
    public var fromServer: Bool

    public init(_ code: StatusCode, _ message: String, fromServer: Bool = false) {
        self.code = code
        self.message = message
        self.fromServer = fromServer
    }

    public static func == (a: StatusError, b: StatusError) -> Bool { a.code == b.code && a.message == b.message }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }

    public var statusCode: StatusCode { code }
    public var statusMessage: String { message }
    public var description: String { "\(code.name): \(message)" }
}
