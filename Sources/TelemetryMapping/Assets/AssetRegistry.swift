import Foundation
public import TelemetryCore
import Yams

/// The asset facts the Fleeti pipeline takes from other services (Asset Service, driver
/// catalog, Geofence Service), loaded from one YAML or JSON file the operator provides.
///
/// A vehicle the file does not list gets `defaults` (an unknown vehicle: Vehicle/Undefined,
/// input 1, output 1, offsets 0); a listed vehicle takes every fact it does not state from
/// `defaults`. The format is in docs/mapping.md ("Asset registry").
public struct AssetRegistry: Sendable, Hashable {
    /// Facts of vehicles the registry does not list, and of the keys a listed vehicle omits.
    public private(set) var defaults: AssetFacts
    /// Facts per vehicle id.
    public private(set) var assets: [String: AssetFacts]
    /// The driver catalog.
    public private(set) var drivers: [Driver]
    /// The geofences of the Geofence Service.
    public private(set) var geofences: [Geofence]
    private var driverIndex: [String: Int]

    /// Creates a registry.
    public init(
        defaults: AssetFacts = AssetFacts(), assets: [String: AssetFacts] = [:], drivers: [Driver] = [],
        geofences: [Geofence] = []
    ) {
        self.defaults = defaults
        self.assets = assets
        self.drivers = drivers
        self.geofences = geofences
        var index: [String: Int] = [:]
        for (i, d) in drivers.enumerated() { index[Self.normalizedKey(d.key)] = i }
        self.driverIndex = index
    }

    /// An empty registry: every vehicle gets the defaults.
    public static let empty = AssetRegistry()

    /// The facts of one vehicle.
    public func facts(for vehicle: VehicleID) -> AssetFacts {
        // Asked for every record: without per-vehicle facts, skip hashing the id.
        assets.isEmpty ? defaults : assets[vehicle.rawValue] ?? defaults
    }

    /// The driver with this hardware key. Keys compare without case, spaces or a `0x` prefix; a
    /// decimal key (Teltonika sends `avl_io_78` as a number) also matches its hexadecimal form.
    public func driver(forKey key: String) -> Driver? {
        let normalized = Self.normalizedKey(key)
        if let i = driverIndex[normalized] { return drivers[i] }
        if normalized.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(normalized) {
            let hex = String(n, radix: 16, uppercase: true)
            if let i = driverIndex[hex] { return drivers[i] }
            let padded = String(repeating: "0", count: max(0, 16 - hex.count)) + hex
            if let i = driverIndex[padded] { return drivers[i] }
        }
        return nil
    }

    /// The geofences that apply to the vehicle and contain the point, in registry order.
    public func geofences(containing point: Coordinate, vehicle: VehicleID) -> [Geofence] {
        geofences.filter { g in
            (g.vehicles.map { $0.contains(vehicle.rawValue) } ?? true) && g.contains(point)
        }
    }

    static func normalizedKey(_ key: String) -> String {
        var k = key.trimmingSpaces.uppercased()
        if k.hasPrefix("0X") { k.removeFirst(2) }
        return k.filter { $0 != " " && $0 != ":" && $0 != "-" }
    }

    /// Loads a registry file (YAML, or JSON, which is YAML too).
    /// - Parameters:
    ///   - yaml: the file's text.
    ///   - file: the name used in problem reports.
    /// - Throws: `MappingValidationError` with every problem found.
    public init(yaml: String, file: String = "assets.yaml") throws(MappingValidationError) {
        let (root, parseProblems) = YAMLDocument.compose(yaml, file: file)
        var reader = AssetRegistryReader(file: file, problems: parseProblems)
        guard let root else { throw MappingValidationError(problems: reader.problems) }
        let registry = reader.read(root)
        guard reader.problems.filter({ $0.severity == .error }).isEmpty else {
            throw MappingValidationError(problems: reader.problems)
        }
        self = registry
    }

    /// Loads a registry file from disk.
    /// - Throws: `MappingValidationError` when the file cannot be read or is invalid.
    public static func load(contentsOfFile path: String) throws(MappingValidationError) -> AssetRegistry {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MappingValidationError(problems: [
                MappingProblem(file: name, mapping: nil, reason: "cannot read \(path)")
            ])
        }
        return try AssetRegistry(yaml: String(decoding: data, as: UTF8.self), file: name)
    }
}

/// Reads the registry format, collecting every problem.
private struct AssetRegistryReader {
    let file: String
    var problems: [MappingProblem]

    mutating func problem(_ reason: String, _ node: Node?) {
        problems.append(MappingProblem(file: file, mapping: nil, reason: reason, line: node?.line))
    }

    mutating func read(_ root: Node) -> AssetRegistry {
        guard root.pairs != nil else {
            problem("the registry is not a YAML/JSON mapping", root)
            return AssetRegistry()
        }
        if let v = root.value("version")?.scalarText, v != "1" {
            problem("unsupported registry version \(v)", root.value("version"))
        }
        var defaults = AssetFacts()
        if let d = root.value("defaults") { defaults = facts(d, id: "defaults", base: defaults) }
        var assets: [String: AssetFacts] = [:]
        if let a = root.value("assets") {
            if let pairs = a.pairs {
                for (id, node, _) in pairs { assets[id] = facts(node, id: id, base: defaults) }
            } else if let list = a.sequence {
                for node in list {
                    guard let id = node.value("id")?.scalarText else {
                        problem("asset without id", node)
                        continue
                    }
                    if assets[id] != nil { problem("asset \(id) listed twice", node) }
                    assets[id] = facts(node, id: id, base: defaults)
                }
            } else {
                problem("assets must map vehicle ids to facts", a)
            }
        }
        var drivers: [Driver] = []
        for node in root.value("drivers")?.sequence ?? [] {
            guard let key = node.value("key")?.scalarText, let name = node.value("name")?.scalarText else {
                problem("driver needs key and name", node)
                continue
            }
            drivers.append(Driver(key: key, name: name))
        }
        var geofences: [Geofence] = []
        for node in root.value("geofences")?.sequence ?? [] {
            if let g = geofence(node) { geofences.append(g) }
        }
        return AssetRegistry(defaults: defaults, assets: assets, drivers: drivers, geofences: geofences)
    }

    mutating func facts(_ node: Node, id: String, base: AssetFacts) -> AssetFacts {
        var f = base
        guard node.pairs != nil else {
            problem("asset \(id): facts must be a mapping", node)
            return f
        }
        if let t = node.value("type") {
            if let k = kind(t) { f.kind = k } else { problem("asset \(id): unknown type \(t.scalarText ?? "")", t) }
            if node.value("subtype") == nil { f.subtype = AssetSubtype.undefined }
        }
        if let s = node.value("subtype") {
            let text = s.scalarText ?? ""
            if let n = Int(text) {
                f.subtype = n
            } else if let n = f.kind.subtypeNames[text]
                ?? f.kind.subtypeNames.first(where: { $0.key.lowercased() == text.lowercased() })?.value
            {
                f.subtype = n
            } else {
                problem("asset \(id): unknown \(f.kind) subtype \(text)", s)
            }
        }
        if let i = node.value("installation") {
            func int(_ key: String) -> Int? {
                guard let n = i.value(key) else { return nil }
                if let v = n.int, v >= 1 { return v }
                problem("asset \(id): installation.\(key) must be a positive integer", n)
                return nil
            }
            if let v = int("ignition_input_number") { f.installation.ignitionInputNumber = v }
            if let v = int("immobilizer_output_number") { f.installation.immobilizerOutputNumber = v }
            if let v = quantity(
                i.value("initial_odometer"), unit: "km", what: "asset \(id): installation.initial_odometer")
            {
                f.installation.initialOdometer = v
            }
            if let v = quantity(
                i.value("initial_engine_hours"), unit: "hours", what: "asset \(id): installation.initial_engine_hours")
            {
                f.installation.initialEngineHours = v
            }
        }
        if let c = quantity(node.value("fuel_tank_capacity"), unit: "liters", what: "asset \(id): fuel_tank_capacity") {
            f.fuelTankCapacity = c
        }
        if let list = node.value("accessories") {
            f.accessories = (list.sequence ?? []).compactMap { accessory($0, asset: id) }
        }
        if let list = node.value("fuel_tanks") {
            f.fuelTanks = (list.sequence ?? []).compactMap { tank($0, asset: id) }
        }
        return f
    }

    func kind(_ node: Node) -> AssetKind? {
        let text = node.scalarText ?? ""
        if let n = Int(text) { return AssetKind(rawValue: n) }
        return AssetKind.allCases.first { $0.description.lowercased() == text.lowercased() }
    }

    /// A number in `unit`, or `{value, unit}` converted to `unit`.
    mutating func quantity(_ node: Node?, unit: String, what: String) -> Double? {
        guard let node else { return nil }
        if let v = node.float ?? node.int.map(Double.init) { return v }
        if let value = node.value("value"), let v = value.float ?? value.int.map(Double.init) {
            let from = node.value("unit")?.scalarText ?? unit
            guard let src = MeasurementUnit.named(from), let dst = MeasurementUnit.named(unit),
                let converted = MeasurementUnit.convert(v, from: src, to: dst)
            else {
                problem("\(what): unit \(from) does not convert to \(unit)", node)
                return nil
            }
            return converted
        }
        problem("\(what) must be a number", node)
        return nil
    }

    func names(_ node: Node?) -> [String] {
        guard let node else { return [] }
        if let list = node.sequence { return list.compactMap(\.scalarText) }
        if let one = node.scalarText, !node.isNullScalar { return [one] }
        return []
    }

    mutating func accessory(_ node: Node, asset: String) -> Accessory? {
        guard let id = node.value("id")?.scalarText, let code = node.value("type_code")?.scalarText else {
            problem("asset \(asset): accessory needs id and type_code", node)
            return nil
        }
        var sensors: [Sensor] = []
        for s in node.value("sensors")?.sequence ?? [] {
            guard let sid = s.value("id")?.scalarText else {
                problem("asset \(asset): accessory \(id): sensor without id", s)
                continue
            }
            sensors.append(
                Sensor(
                    id: sid, type: s.value("type")?.scalarText ?? code, label: s.value("label")?.scalarText,
                    position: s.value("position")?.int,
                    providerFields: names(s.value("provider_field") ?? s.value("provider_fields"))))
        }
        return Accessory(id: id, typeCode: code, label: node.value("label")?.scalarText, sensors: sensors)
    }

    mutating func tank(_ node: Node, asset: String) -> FuelTank? {
        guard let id = node.value("id")?.scalarText else {
            problem("asset \(asset): fuel tank without id", node)
            return nil
        }
        var table: CalibrationTable?
        if let c = node.value("calibration") {
            var points: [CalibrationTable.Point] = []
            for p in c.sequence ?? [] {
                if let pair = p.sequence, pair.count == 2, let r = pair[0].float, let l = pair[1].float {
                    points.append(.init(raw: r, liters: l))
                } else if let r = p.value("raw")?.float, let l = p.value("liters")?.float {
                    points.append(.init(raw: r, liters: l))
                } else {
                    problem("asset \(asset): tank \(id): calibration points are [raw, liters] pairs", p)
                }
            }
            table = CalibrationTable(points: points)
            if table == nil {
                problem("asset \(asset): tank \(id): calibration needs two or more distinct raw values", c)
            }
        }
        let llsUnit = node.value("lls_unit")?.scalarText ?? "kvants"
        if llsUnit != "kvants" && MeasurementUnit.named(llsUnit)?.dimension != .volume {
            problem("asset \(asset): tank \(id): lls_unit must be kvants or liters", node.value("lls_unit"))
        }
        return FuelTank(
            id: id,
            capacity: quantity(node.value("capacity"), unit: "liters", what: "asset \(asset): tank \(id): capacity"),
            providerFields: names(node.value("provider_field") ?? node.value("provider_fields")), calibration: table,
            levelSensorReportsLiters: llsUnit != "kvants")
    }

    mutating func geofence(_ node: Node) -> Geofence? {
        guard let id = node.value("id")?.scalarText, let name = node.value("name")?.scalarText else {
            problem("geofence needs id and name", node)
            return nil
        }
        var shape: Geofence.Shape?
        if let poly = node.value("polygon")?.sequence {
            var vertices: [Coordinate] = []
            for p in poly {
                if let c = coordinate(p) { vertices.append(c) } else { problem("geofence \(id): bad vertex", p) }
            }
            if vertices.count >= 3 {
                shape = .polygon(vertices)
            } else {
                problem("geofence \(id): a polygon needs 3 vertices", node)
            }
        } else if let circle = node.value("circle") {
            if let c = coordinate(circle), let r = circle.value("radius_m")?.float ?? circle.value("radius")?.float,
                r > 0
            {
                shape = .circle(center: c, radius: r)
            } else {
                problem("geofence \(id): a circle needs latitude, longitude and radius_m", circle)
            }
        } else {
            problem("geofence \(id): needs polygon or circle", node)
        }
        guard let shape else { return nil }
        let vehicles = node.value("vehicles").map { Set(names($0)) }
        return Geofence(
            id: id, name: name, shape: shape, vehicles: vehicles, address: node.value("address")?.scalarText)
    }

    func coordinate(_ node: Node) -> Coordinate? {
        if let pair = node.sequence, pair.count == 2, let lat = pair[0].float, let lng = pair[1].float {
            return valid(Coordinate(latitude: lat, longitude: lng))
        }
        let lat = node.value("latitude")?.float ?? node.value("lat")?.float
        let lng = node.value("longitude")?.float ?? node.value("lng")?.float
        guard let lat, let lng else { return nil }
        return valid(Coordinate(latitude: lat, longitude: lng))
    }

    func valid(_ c: Coordinate) -> Coordinate? {
        (-90...90).contains(c.latitude) && (-180...180).contains(c.longitude) ? c : nil
    }
}
