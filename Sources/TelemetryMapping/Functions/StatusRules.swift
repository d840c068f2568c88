public import TelemetryCore

/// A status family (SPEC section 4).
public enum StatusFamily: String, Sendable, Hashable, CaseIterable {
    /// `online` / `offline`.
    case connectivity
    /// `immobilized` / `free` / `immobilizing` / `releasing`.
    case immobilization
    /// `running` / `standby`.
    case engine
    /// `in_transit` / `parked`.
    case transit
}

/// The status rules of SPEC section 4 as pure functions: compatibility matrix, thresholds,
/// family codes and the top status. Time is always passed in.
public enum StatusRules {
    /// Connectivity is offline after this long without a packet (24 h).
    public static let offlineAfter: Int64 = 24 * 3_600_000
    /// ... or this long for a Site.Coldroom (1 h).
    public static let coldroomOfflineAfter: Int64 = 3_600_000

    /// Whether a family applies to an asset (the compatibility matrix).
    ///
    /// - Connectivity: every asset.
    /// - Transit: Phone, Equipment.Undefined, every Vehicle; not Sites, FuelTank or ElectricGenerator.
    /// - Engine: Equipment.ElectricGenerator, Vehicle.Agricultural and Vehicle.Machine only.
    /// - Immobilization: Vehicles except Genset, Equipment.Undefined and ElectricGenerator, and
    ///   only with an accessory whose `type_code` is `immobilizer`.
    public static func isCompatible(_ family: StatusFamily, asset: AssetFacts) -> Bool {
        switch family {
        case .connectivity:
            return true
        case .transit:
            switch asset.kind {
            case .phone, .vehicle: return true
            case .equipment: return asset.subtype == AssetSubtype.undefined
            case .site, .undefined: return false
            }
        case .engine:
            switch asset.kind {
            case .equipment: return asset.subtype == AssetSubtype.equipmentElectricGenerator
            case .vehicle:
                return asset.subtype == AssetSubtype.vehicleAgricultural || asset.subtype == AssetSubtype.vehicleMachine
            case .site, .phone, .undefined: return false
            }
        case .immobilization:
            let typeOK: Bool
            switch asset.kind {
            case .vehicle: typeOK = asset.subtype != AssetSubtype.vehicleGenset
            case .equipment:
                typeOK =
                    asset.subtype == AssetSubtype.undefined || asset.subtype == AssetSubtype.equipmentElectricGenerator
            case .site, .phone, .undefined: typeOK = false
            }
            return typeOK && asset.hasAccessory(typeCode: "immobilizer")
        }
    }

    /// How long without a packet makes the asset offline.
    public static func offlineThreshold(for asset: AssetFacts) -> Int64 {
        asset.kind == .site && asset.subtype == AssetSubtype.siteColdroom ? coldroomOfflineAfter : offlineAfter
    }

    /// `online` when the last packet is younger than the threshold, else `offline`.
    /// - Parameters:
    ///   - lastPacketAt: the newest `last_updated_at`, ms.
    ///   - now: the current time, ms.
    public static func connectivityCode(lastPacketAt: Int64, now: Int64, asset: AssetFacts) -> String {
        now.saturatingSubtracting(lastPacketAt) < offlineThreshold(for: asset) ? "online" : "offline"
    }

    /// `running` / `standby` from ignition; nil when incompatible or ignition is unknown.
    public static func engineCode(compatible: Bool, ignition: Bool?) -> String? {
        guard compatible, let ignition else { return nil }
        return ignition ? "running" : "standby"
    }

    /// `immobilized` / `free` from the immobilizer output, overridden by a pending command.
    /// - Parameters:
    ///   - output: the state of output N (`immobilizer_output_number`).
    ///   - command: the pending command; cleared when the output confirms it or it timed out.
    ///   - now: the current time, ms.
    ///   - timeout: how long a command overrides the output, ms.
    public static func immobilizationCode(
        compatible: Bool, output: Bool?, command: inout ImmobilizerCommand?, now: Int64, timeout: Int64
    ) -> String? {
        guard compatible else { return nil }
        if let c = command {
            let confirmed = output == (c.kind == .immobilize)
            if confirmed || now.saturatingSubtracting(c.sentAt) >= timeout {
                command = nil
            } else {
                return c.kind == .immobilize ? "immobilizing" : "releasing"
            }
        }
        guard let output else { return nil }
        return output ? "immobilized" : "free"
    }

    /// The immobilization and engine codes the top status reads: this packet's, or, where its
    /// inputs are missing (a null code: no output state, no ignition), the family's last known
    /// code (SPEC section 4, "status missing inputs -> last known value"), which is also what the
    /// vehicle's latest state shows for it. A packet without its immobilizer output must not
    /// make an immobilized vehicle's top status `running`. `memory` holds the last known pair.
    public static func knownCodes(
        immobilization: FieldValue, engine: FieldValue, memory: inout FieldMemory?
    ) -> (immobilization: String?, engine: String?) {
        var known: [FieldValue] = [.null, .null]
        if let memory, case .array(let pair) = memory.input, pair.count == 2 { known = pair }
        let immobilization = immobilization.isNull ? known[0] : immobilization
        let engine = engine.isNull ? known[1] : engine
        if !immobilization.isIdentical(to: known[0]) || !engine.isIdentical(to: known[1]) {
            memory = FieldMemory(input: .array([immobilization, engine]))
        }
        return (immobilization.asString, engine.asString)
    }

    /// The top status: the first match wins.
    /// 1. connectivity if offline; 2. immobilization if immobilized; 3. engine if running;
    /// 4. transit (any code) if compatible; 5. connectivity (online).
    /// - Returns: the family and its code.
    public static func topStatus(
        connectivity: String?, immobilization: String?, engine: String?, transit: String?, asset: AssetFacts
    ) -> (family: StatusFamily, code: String?) {
        if connectivity == "offline" { return (.connectivity, connectivity) }
        if isCompatible(.immobilization, asset: asset), immobilization == "immobilized" {
            return (.immobilization, immobilization)
        }
        if isCompatible(.engine, asset: asset), engine == "running" { return (.engine, engine) }
        if isCompatible(.transit, asset: asset) { return (.transit, transit) }
        return (.connectivity, connectivity)
    }
}

/// The transit state machine (SPEC section 4), one per vehicle, driven by records in time order.
///
/// - Ignition off -> on: `in_transit` at once; on -> off: `parked` at once (edges only: a
///   steady ignition-off is no signal, so a towed vehicle can still be in transit).
/// - Movement evidence is `moving` true or speed > 0.5 km/h; either one wins over the other
///   saying still (so speed > 0.5 with moving false is movement).
/// - `parked` -> `in_transit` at once on movement evidence.
/// - `in_transit` -> `parked` once the vehicle has been still (no movement evidence, and at
///   least one of moving or speed present) for 3 minutes.
/// - No previous state: `in_transit` (the conservative default) until 3 minutes still.
/// - Both inputs missing: the state is kept, and the still timer neither starts nor resets.
public struct TransitStateMachine: Sendable {
    /// The speed above which the vehicle moves, km/h (filters GPS drift).
    public static let movingSpeed = 0.5
    /// How long still makes `in_transit` become `parked`, ms.
    public static let parkAfter: Int64 = 180_000

    /// The state to store after the last record.
    public private(set) var state: TransitState

    /// Wraps a stored state.
    public init(state: TransitState) {
        self.state = state
    }

    /// Advances the machine with one record.
    /// - Parameters:
    ///   - time: the record's time, ms.
    ///   - ignition: the ignition, nil when unknown.
    ///   - moving: the movement flag, nil when unknown.
    ///   - speed: the speed in km/h, nil when unknown.
    /// - Returns: the code after this record.
    public mutating func recordReceived(
        time: Int64, ignition: Bool?, moving: Bool?, speed: Double?
    ) -> TransitState.Code {
        defer { if let ignition { state.lastIgnition = ignition } }
        let movement = moving == true || (speed ?? 0) > Self.movingSpeed
        let still = !movement && (moving != nil || speed != nil)

        if let previous = state.lastIgnition, let ignition, previous != ignition {
            state.code = ignition ? .inTransit : .parked
            // A still edge packet starts the still timer on either edge: switched on while
            // standing, the vehicle parks 3 minutes after the edge, as at the first packet.
            state.stillSince = still ? time : nil
            return state.code!
        }
        if movement {
            state.code = .inTransit
            state.stillSince = nil
            return .inTransit
        }
        if still {
            let since = min(state.stillSince ?? time, time)
            state.stillSince = since
            if state.code == .parked { return .parked }
            if time.saturatingSubtracting(since) >= Self.parkAfter {
                state.code = .parked
                return .parked
            }
            if state.code == nil, ignition == true {
                // Initial state with ignition on: in transit (SPEC "in_transit if ignition or movement").
                state.code = .inTransit
            }
        }
        if state.code == nil { state.code = .inTransit }
        return state.code!
    }
}
