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
    ///
    /// A view: while an engine maps, the entries its plan knows live in slots (below), so a
    /// rule reaches its memory by index instead of hashing its field name for every record.
    /// Reading builds the dictionary; assigning replaces every entry, and keeps the state bound
    /// to its layout: a registered function may assign it in the middle of a record, and the
    /// engine's inline rules go on reading the slots after it.
    public var memory: [String: FieldMemory] {
        get {
            guard let layout = memoryLayout else { return namedMemory }
            var all = namedMemory
            for (slot, entry) in memorySlots.enumerated() {
                if let entry { all[layout.names[slot]] = entry }
            }
            return all
        }
        set {
            let layout = memoryLayout
            namedMemory = newValue
            memorySlots = []
            memoryLayout = nil
            if let layout { bindMemory(to: layout) }
        }
    }

    /// The entries of `memory` whose key `memoryLayout` holds, by its slot (nil: no entry).
    var memorySlots: [FieldMemory?] = []
    /// The names of `memorySlots` (a plan's memory layout), nil while no engine has mapped
    /// with this state since it was decoded or its memory assigned.
    var memoryLayout: MemorySlotLayout?
    /// The entries whose key is not in `memoryLayout` (every entry when there is none); never
    /// a key the layout holds, so the two parts never disagree.
    var namedMemory: [String: FieldMemory] = [:]

    /// An empty state: no vehicle history.
    public init() {
        self.transit = TransitState()
    }

    /// True when nothing has been remembered yet.
    public var isEmpty: Bool {
        lastPacketAt == nil && connectivityCode == nil && transit == TransitState() && trip == nil
            && immobilizerCommand == nil && memoryCount == 0
    }

    /// How many entries `memory` holds.
    var memoryCount: Int {
        namedMemory.count + memorySlots.reduce(0) { $0 + ($1 == nil ? 0 : 1) }
    }

    /// Equal when every part and every memory entry are equal, however the memory is held.
    public static func == (a: VehicleMappingState, b: VehicleMappingState) -> Bool {
        guard a.lastPacketAt == b.lastPacketAt, a.connectivityCode == b.connectivityCode, a.transit == b.transit,
            a.trip == b.trip, a.immobilizerCommand == b.immobilizerCommand
        else { return false }
        if a.memoryLayout === b.memoryLayout { return a.memorySlots == b.memorySlots && a.namedMemory == b.namedMemory }
        return a.memory == b.memory
    }

    /// Hashes every part and the memory entries (as `==` compares them).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(lastPacketAt)
        hasher.combine(connectivityCode)
        hasher.combine(transit)
        hasher.combine(trip)
        hasher.combine(immobilizerCommand)
        hasher.combine(memory)
    }

    /// Moves the memory into a plan's slots (a no-op when it is already there): entries the
    /// layout names go to their slot, the others stay by name. Done once per state and plan,
    /// not per record: the server keeps states in memory between batches.
    mutating func bindMemory(to layout: MemorySlotLayout) {
        if memoryLayout === layout { return }
        let all = memory
        var slots = [FieldMemory?](repeating: nil, count: layout.names.count)
        var rest: [String: FieldMemory] = [:]
        for (key, entry) in all {
            if let slot = layout.slot(of: key) { slots[slot] = entry } else { rest[key] = entry }
        }
        memorySlots = slots
        namedMemory = rest
        memoryLayout = layout
    }

    /// A rule's memory by its key: by slot when the state is bound to the key's layout, else by name.
    subscript(memory key: MemoryKey) -> FieldMemory? {
        get {
            if let layout = memoryLayout, ObjectIdentifier(layout) == key.layout { return memorySlots[key.slot] }
            return self[memoryNamed: key.name]
        }
        set {
            if let layout = memoryLayout, ObjectIdentifier(layout) == key.layout {
                memorySlots[key.slot] = newValue
            } else {
                self[memoryNamed: key.name] = newValue
            }
        }
    }

    /// A memory entry by name (keys no plan slot holds, such as a sensor's `field#probe`).
    subscript(memoryNamed name: String) -> FieldMemory? {
        get {
            if let layout = memoryLayout, let slot = layout.slot(of: name) { return memorySlots[slot] }
            return namedMemory[name]
        }
        set {
            if let layout = memoryLayout, let slot = layout.slot(of: name) {
                memorySlots[slot] = newValue
            } else {
                namedMemory[name] = newValue
            }
        }
    }

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

/// The memory keys a plan gives slots to: the field names of its stateful rules and of its
/// `use_fallback` fields (`<name>#fallback`).
final class MemorySlotLayout: Sendable {
    /// The key of each slot.
    let names: [String]
    /// The slots in key order (`String <`), for the encoding's sorted keys.
    let sortedSlots: [Int]
    /// Each key as the state encoding writes it (`StateWriter.memoryKey`).
    let encodedNames: [[UInt8]]
    private let table: FieldNameTable

    /// - Parameter names: distinct keys.
    init(names: [String]) {
        self.names = names
        self.sortedSlots = names.indices.sorted { names[$0] < names[$1] }
        self.encodedNames = names.map { name in
            var w = StateWriter()
            w.memoryKey(name)
            return w.bytes
        }
        self.table = FieldNameTable(Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    /// The slot of a key, nil when the layout does not hold it.
    func slot(of name: String) -> Int? { table.slot(name) }

    /// The key of a slot of this layout.
    func key(_ slot: Int) -> MemoryKey { MemoryKey(layout: ObjectIdentifier(self), slot: slot, name: names[slot]) }
}

/// Where a rule's memory is: a slot of a layout, and the name that is its key everywhere else.
struct MemoryKey: Sendable {
    /// The layout whose slot `slot` is (nil: none, the name alone).
    let layout: ObjectIdentifier?
    let slot: Int
    let name: String

    /// A key reached by name only (a call compiled outside a plan, as in tests).
    init(name: String) {
        self.layout = nil
        self.slot = -1
        self.name = name
    }

    init(layout: ObjectIdentifier, slot: Int, name: String) {
        self.layout = layout
        self.slot = slot
        self.name = name
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
