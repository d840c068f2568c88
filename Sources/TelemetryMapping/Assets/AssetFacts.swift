import Foundation

/// The kind of an asset (Fleeti `AssetTypeEnum`).
public enum AssetKind: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Unknown type.
    case undefined = 0
    /// A vehicle (`VehicleTypeEnum` subtypes).
    case vehicle = 10
    /// Equipment (`EquipmentTypeEnum` subtypes).
    case equipment = 20
    /// A site (`SiteTypeEnum` subtypes).
    case site = 30
    /// A phone.
    case phone = 40

    /// The enum's name (`Vehicle`, `Equipment`, ...).
    public var description: String {
        switch self {
        case .undefined: return "Undefined"
        case .vehicle: return "Vehicle"
        case .equipment: return "Equipment"
        case .site: return "Site"
        case .phone: return "Phone"
        }
    }

    /// The subtype names of this kind (`VehicleTypeEnum`, `EquipmentTypeEnum`, `SiteTypeEnum`).
    public var subtypeNames: [String: Int] {
        switch self {
        case .vehicle: return AssetSubtype.vehicleTypes
        case .equipment: return AssetSubtype.equipmentTypes
        case .site: return AssetSubtype.siteTypes
        case .undefined, .phone: return ["Undefined": 0]
        }
    }
}

/// Subtype codes of the Fleeti enumerations the status rules use.
public enum AssetSubtype {
    /// `VehicleTypeEnum`.
    public static let vehicleTypes: [String: Int] = [
        "Undefined": 0, "Car": 1, "Boat": 2, "Truck": 3, "Heavy": 4, "Agricultural": 5, "Minivan": 6, "Van": 7,
        "Pickup": 9, "Minibus": 10, "Motorbike": 11, "Machine": 12, "Genset": 13, "Scooter": 14, "ColdRoom": 15,
        "Bus": 16, "Tricycle": 17, "JetSki": 18, "Buggy": 19, "HandlingCart": 20,
    ]
    /// `EquipmentTypeEnum`.
    public static let equipmentTypes: [String: Int] = ["Undefined": 0, "FuelTank": 1, "ElectricGenerator": 2]
    /// `SiteTypeEnum`.
    public static let siteTypes: [String: Int] = ["Undefined": 0, "Coldroom": 10]

    /// The `Undefined` subtype of every kind.
    public static let undefined = 0
    /// `VehicleTypeEnum.Agricultural`.
    public static let vehicleAgricultural = 5
    /// `VehicleTypeEnum.Machine`.
    public static let vehicleMachine = 12
    /// `VehicleTypeEnum.Genset`.
    public static let vehicleGenset = 13
    /// `EquipmentTypeEnum.FuelTank`.
    public static let equipmentFuelTank = 1
    /// `EquipmentTypeEnum.ElectricGenerator`.
    public static let equipmentElectricGenerator = 2
    /// `SiteTypeEnum.Coldroom`.
    public static let siteColdroom = 10
}

/// What the store knows about one asset: the facts the Fleeti pipeline takes from its Asset
/// Service (type, installation, accessories, tanks), read from the operator's asset registry.
public struct AssetFacts: Sendable, Hashable {
    /// The asset type (`asset.type`).
    public var kind: AssetKind
    /// The subtype code within `kind` (e.g. 5 = Vehicle.Agricultural).
    public var subtype: Int
    /// How the tracker is wired (`asset.installation`).
    public var installation: Installation
    /// Devices attached to the asset (`asset.accessories[]`).
    public var accessories: [Accessory]
    /// Fuel tanks; empty means one implicit tank of `fuelTankCapacity` litres.
    public var fuelTanks: [FuelTank]
    /// `asset.properties.vehicle.powertrain.fuel_tank_capacity`, litres.
    public var fuelTankCapacity: Double?

    /// Creates facts; the defaults are those of an unknown vehicle (docs/mapping.md).
    public init(
        kind: AssetKind = .vehicle, subtype: Int = AssetSubtype.undefined, installation: Installation = Installation(),
        accessories: [Accessory] = [], fuelTanks: [FuelTank] = [], fuelTankCapacity: Double? = nil
    ) {
        self.kind = kind
        self.subtype = subtype
        self.installation = installation
        self.accessories = accessories
        self.fuelTanks = fuelTanks
        self.fuelTankCapacity = fuelTankCapacity
    }

    /// True when an accessory has this `type_code` (compared case-insensitively).
    public func hasAccessory(typeCode: String) -> Bool {
        // The status rules ask on every record; most assets have no accessories.
        if accessories.isEmpty { return false }
        let code = typeCode.lowercased()
        return accessories.contains { $0.typeCode.lowercased() == code }
    }

    /// Every sensor of every accessory, in registry order.
    public var sensors: [Sensor] { accessories.flatMap(\.sensors) }
}

/// `asset.installation`: how the tracker is wired into the asset.
public struct Installation: Sendable, Hashable {
    /// The digital input wired to ignition (SPEC default 1).
    public var ignitionInputNumber: Int?
    /// The digital output wired to the immobilizer relay (SPEC default 1).
    public var immobilizerOutputNumber: Int?
    /// The odometer when the tracker was installed, km (default 0).
    public var initialOdometer: Double?
    /// The engine hours when the tracker was installed, h (default 0).
    public var initialEngineHours: Double?

    /// Creates installation facts; nil means "not known" and the SPEC default applies.
    public init(
        ignitionInputNumber: Int? = nil, immobilizerOutputNumber: Int? = nil, initialOdometer: Double? = nil,
        initialEngineHours: Double? = nil
    ) {
        self.ignitionInputNumber = ignitionInputNumber
        self.immobilizerOutputNumber = immobilizerOutputNumber
        self.initialOdometer = initialOdometer
        self.initialEngineHours = initialEngineHours
    }

    /// The ignition input, defaulting to 1.
    public var effectiveIgnitionInput: Int { ignitionInputNumber ?? 1 }
    /// The immobilizer output, defaulting to 1.
    public var effectiveImmobilizerOutput: Int { immobilizerOutputNumber ?? 1 }
}

/// `asset.accessories[]`: a device attached to the asset.
public struct Accessory: Sendable, Hashable {
    /// The identifier, unique within its list.
    public var id: String
    /// e.g. `immobilizer`, `temperature`, `fuel`, `door_opening`.
    public var typeCode: String
    /// A human-readable label.
    public var label: String?
    /// The sensors of this accessory.
    public var sensors: [Sensor]

    /// Creates an accessory.
    public init(id: String, typeCode: String, label: String? = nil, sensors: [Sensor] = []) {
        self.id = id
        self.typeCode = typeCode
        self.label = label
        self.sensors = sensors
    }
}

/// `asset.accessories[].sensors[]`: one physical sensor and the provider fields it reports in.
public struct Sensor: Sendable, Hashable {
    /// The identifier, unique within its list.
    public var id: String
    /// `environment` (temperature, humidity and battery of one probe), `temperature`,
    /// `humidity`, `magnet`, or another type the functions ignore.
    public var type: String
    /// A human-readable label.
    public var label: String?
    /// Where the sensor sits (1, 2, ...), when known.
    public var position: Int?
    /// The provider fields of this sensor (e.g. `[avl_io_25, ble_temp_sensor_1, avl_io_86]`);
    /// raw `avl_io_*` fields are preferred over processed ones whatever the order.
    public var providerFields: [String]

    /// Creates a sensor.
    public init(id: String, type: String, label: String? = nil, position: Int? = nil, providerFields: [String] = []) {
        self.id = id
        self.type = type
        self.label = label
        self.position = position
        self.providerFields = providerFields
    }
}

/// A fuel tank and how its level is measured.
public struct FuelTank: Sendable, Hashable {
    /// The identifier, unique within its list.
    public var id: String
    /// Litres; converts percentages to litres.
    public var capacity: Double?
    /// The provider fields measuring this tank, in preference order (empty: all fuel fields).
    public var providerFields: [String]
    /// Converts LLS steps (kvants) to litres.
    public var calibration: CalibrationTable?
    /// True when the tank's LLS sensors are configured to report litres, not kvants.
    public var levelSensorReportsLiters: Bool

    /// Creates a tank.
    public init(
        id: String, capacity: Double? = nil, providerFields: [String] = [], calibration: CalibrationTable? = nil,
        levelSensorReportsLiters: Bool = false
    ) {
        self.id = id
        self.capacity = capacity
        self.providerFields = providerFields
        self.calibration = calibration
        self.levelSensorReportsLiters = levelSensorReportsLiters
    }
}

/// A tank calibration: raw sensor steps to litres, piecewise linear between points.
public struct CalibrationTable: Sendable, Hashable {
    /// `(raw, liters)` points, sorted by raw value, raw values distinct.
    public let points: [Point]

    /// One calibration point.
    public struct Point: Sendable, Hashable {
        /// The raw sensor reading (kvants).
        public var raw: Double
        /// The volume it means, litres.
        public var liters: Double

        /// Creates a point.
        public init(raw: Double, liters: Double) {
            self.raw = raw
            self.liters = liters
        }
    }

    /// Creates a table; nil with fewer than two points or with a repeated raw value.
    public init?(points: [Point]) {
        let sorted = points.sorted { $0.raw < $1.raw }
        guard sorted.count >= 2 else { return nil }
        for i in 1..<sorted.count where sorted[i].raw == sorted[i - 1].raw { return nil }
        self.points = sorted
    }

    /// Litres for a raw value: interpolated between the two surrounding points, and clamped to
    /// the first and last points outside the table (a sensor past its last point reads "full").
    public func liters(forRaw raw: Double) -> Double {
        if raw <= points[0].raw { return points[0].liters }
        if raw >= points[points.count - 1].raw { return points[points.count - 1].liters }
        var lo = 0
        var hi = points.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if points[mid].raw <= raw { lo = mid } else { hi = mid }
        }
        let a = points[lo]
        let b = points[hi]
        return a.liters + (raw - a.raw) * (b.liters - a.liters) / (b.raw - a.raw)
    }
}

/// A driver of the driver catalog.
public struct Driver: Sendable, Hashable {
    /// The hardware key (iButton or RFID), as hex text.
    public var key: String
    /// The display name.
    public var name: String

    /// Creates a driver.
    public init(key: String, name: String) {
        self.key = key
        self.name = name
    }
}

/// A point on Earth, degrees.
public struct Coordinate: Sendable, Hashable {
    /// Degrees north (negative south).
    public var latitude: Double
    /// Degrees east (negative west).
    public var longitude: Double

    /// Creates a coordinate.
    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }
}

/// A geofence of the Geofence Service.
public struct Geofence: Sendable, Hashable {
    /// The area a geofence covers.
    public enum Shape: Sendable, Hashable {
        /// A polygon (closed implicitly), edges straight in latitude/longitude.
        case polygon([Coordinate])
        /// A circle around a centre, radius in metres (great-circle distance).
        case circle(center: Coordinate, radius: Double)
    }

    /// The geofence id (numeric ids are stored as numbers).
    public var id: String
    /// The display name.
    public var name: String
    /// The area covered.
    public var shape: Shape
    /// The vehicles this geofence applies to; nil for every vehicle.
    public var vehicles: Set<String>?
    /// An address, reported by `derive_geocoded_address` for points inside.
    public var address: String?

    /// Creates a geofence.
    public init(id: String, name: String, shape: Shape, vehicles: Set<String>? = nil, address: String? = nil) {
        self.id = id
        self.name = name
        self.shape = shape
        self.vehicles = vehicles
        self.address = address
    }

    /// True when the point is inside (polygon: even-odd rule; a point on an edge may go either way).
    public func contains(_ p: Coordinate) -> Bool {
        switch shape {
        case .circle(let center, let radius):
            return Geodesy.distance(center, p) <= radius
        case .polygon(let vertices):
            guard vertices.count >= 3 else { return false }
            var inside = false
            var j = vertices.count - 1
            for i in 0..<vertices.count {
                let a = vertices[i]
                let b = vertices[j]
                if (a.latitude > p.latitude) != (b.latitude > p.latitude) {
                    let x =
                        (b.longitude - a.longitude) * (p.latitude - a.latitude) / (b.latitude - a.latitude)
                        + a.longitude
                    if p.longitude < x { inside.toggle() }
                }
                j = i
            }
            return inside
        }
    }
}

/// Distances on the Earth's surface.
public enum Geodesy {
    /// The mean Earth radius, metres.
    public static let earthRadius = 6_371_008.8

    /// Great-circle (haversine) distance in metres.
    public static func distance(_ a: Coordinate, _ b: Coordinate) -> Double {
        let rad = Double.pi / 180
        let dLat = (b.latitude - a.latitude) * rad
        let dLon = (b.longitude - a.longitude) * rad
        let h =
            sin(dLat / 2) * sin(dLat / 2) + cos(a.latitude * rad) * cos(b.latitude * rad) * sin(dLon / 2)
            * sin(dLon / 2)
        return 2 * earthRadius * asin(min(1, h.squareRoot()))
    }
}
