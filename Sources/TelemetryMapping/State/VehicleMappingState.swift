public import TelemetryCore

/// Everything the stateful rules remember about one vehicle between two records.
///
/// The store keeps it opaque (`encoded()`), per vehicle, and writes it in the same batch as
/// the record that changed it, so a restart continues every state machine where it stood.
/// A vehicle with no stored state starts from `VehicleMappingState()` (SPEC: "no cached
/// state: start empty").
public struct VehicleMappingState: Sendable, Hashable {
    /// The newest packet time seen (the record's `last_updated_at`), ms; the connectivity
    /// sweep measures silence from it.
    public var lastPacketAt: Int64?
    /// The connectivity code last produced (`online`/`offline`), by a record or by the sweep.
    public var connectivityCode: String?
    /// The transit state machine.
    public var transit: TransitState
    /// The ongoing trip, while the vehicle is in transit after a parked period.
    public var trip: OngoingTrip?
    /// An immobilize/release command the backend sent and the output has not confirmed yet.
    public var immobilizerCommand: ImmobilizerCommand?
    /// Per-rule memory (previous input, previous output, a time), keyed by the canonical field
    /// name of the mapping that owns it (`statuses_engine_last_changed_at`, `driver_name`, ...).
    public var memory: [String: FieldMemory]

    /// An empty state: no vehicle history.
    public init() {
        self.transit = TransitState()
        self.memory = [:]
    }

    /// True when nothing has been remembered yet.
    public var isEmpty: Bool { self == VehicleMappingState() }

    /// Records that the backend sent an immobilize or release command (after the REST call
    /// succeeded): the immobilization code reports `immobilizing`/`releasing` until the
    /// output confirms it or the engine's `immobilizerCommandTimeout` passes.
    /// - Parameters:
    ///   - kind: which command.
    ///   - time: when it was sent, ms.
    public mutating func recordImmobilizerCommand(_ kind: ImmobilizerCommand.Kind, at time: Int64) {
        immobilizerCommand = ImmobilizerCommand(kind: kind, sentAt: time)
    }
}

/// What one rule remembers between records.
public struct FieldMemory: Sendable, Hashable {
    /// The input the rule compared against (a status code, a driver key, an anchor position).
    public var input: FieldValue
    /// The rule's previous output (a `last_changed_at`, a driver name, a last known value).
    public var output: FieldValue

    /// Creates a memory.
    public init(input: FieldValue = .null, output: FieldValue = .null) {
        self.input = input
        self.output = output
    }
}

/// The transit state machine's state (SPEC section 4).
public struct TransitState: Sendable, Hashable {
    /// A transit code.
    public enum Code: UInt8, Sendable, Hashable {
        /// `in_transit`.
        case inTransit = 1
        /// `parked`.
        case parked = 2

        /// The code as stored in records.
        public var name: String { self == .inTransit ? "in_transit" : "parked" }
    }

    /// The current code; nil before the first evaluation.
    public var code: Code?
    /// When the "still" condition (not moving, speed at most 0.5 km/h) started holding, ms;
    /// nil while the vehicle moves.
    public var stillSince: Int64?
    /// The previous record's ignition, for the off->on and on->off triggers.
    public var lastIgnition: Bool?

    /// Creates a state.
    public init(code: Code? = nil, stillSince: Int64? = nil, lastIgnition: Bool? = nil) {
        self.code = code
        self.stillSince = stillSince
        self.lastIgnition = lastIgnition
    }
}

/// The trip in progress.
public struct OngoingTrip: Sendable, Hashable {
    /// When the trip started (the parked -> in_transit record's time), ms.
    public var startedAt: Int64
    /// The odometer at the start (the first odometer seen during the trip), km.
    public var startOdometer: Double?
    /// Positions along the trip, thinned (docs/mapping.md, "Ongoing trip").
    public var waypoints: [Coordinate]

    /// Creates a trip.
    public init(startedAt: Int64, startOdometer: Double? = nil, waypoints: [Coordinate] = []) {
        self.startedAt = startedAt
        self.startOdometer = startOdometer
        self.waypoints = waypoints
    }
}

/// A command sent to the immobilizer relay, awaiting confirmation.
public struct ImmobilizerCommand: Sendable, Hashable {
    /// Which command.
    public enum Kind: UInt8, Sendable, Hashable {
        /// Lock: reported as `immobilizing` until the output reads 1.
        case immobilize = 1
        /// Unlock: reported as `releasing` until the output reads 0.
        case release = 2
    }

    /// Which command.
    public var kind: Kind
    /// When the backend sent it, ms.
    public var sentAt: Int64

    /// Creates a command.
    public init(kind: Kind, sentAt: Int64) {
        self.kind = kind
        self.sentAt = sentAt
    }
}
