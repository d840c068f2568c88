/// A unit a mapping file may name, with how to convert it to the other units of its dimension.
///
/// The table is explicit (`MeasurementUnit.table`): a unit the table does not know is a
/// validation error, never a guess. Every spelling the Fleeti files and catalogs use is an
/// alias of one entry (`meters` and `m`, `hours` and `h`, `liters`, `l` and `L`, ...).
///
/// Two dimensions have special rules:
/// - `none` (also `-`, an empty string, `state`, and the catalogs' misspelled `conditionnal`):
///   a value with no unit. No conversion applies to or from it: a source without a unit is
///   taken to be in the target unit already, and a target without a unit keeps the source
///   value as it is.
/// - `calibration` (`kvants`, Teltonika's "kvants or ltr"): raw fuel-sensor steps. They
///   convert to litres only through a tank's calibration table (`derive_fuel_levels`), so a
///   direct conversion to any other unit is a validation error.
public struct MeasurementUnit: Sendable, Hashable, CustomStringConvertible {
    /// What a unit measures; units convert only within one dimension.
    public enum Dimension: String, Sendable, Hashable, CaseIterable {
        /// Unitless (and conditional) values.
        case none
        /// Physical quantities; units convert within one of these.
        case angle, length, speed, time, volume, ratio, voltage, current, temperature
        /// More physical quantities.
        case mass, pressure, rotation, frequency, area, areaRate, volumeFlow, consumption
        /// Energy and acceleration quantities.
        case energy, power, energyConsumption, acceleration
        /// Raw fuel-sensor steps: litres only through a calibration table.
        case calibration
    }

    /// The canonical spelling (the first alias).
    public let name: String
    /// What the unit measures.
    public let dimension: Dimension
    /// Multiply by this (after adding nothing) to get the dimension's base unit.
    public let factor: Double
    /// Added after `factor` to reach the base unit (non-zero only for temperatures).
    public let offset: Double
    /// Every accepted spelling, compared exactly (units are case-sensitive: `mG` is milli-g).
    public let aliases: [String]

    init(_ aliases: [String], _ dimension: Dimension, _ factor: Double = 1, offset: Double = 0) {
        self.name = aliases[0]
        self.aliases = aliases
        self.dimension = dimension
        self.factor = factor
        self.offset = offset
    }

    /// The canonical spelling.
    public var description: String { name }

    /// True for the unitless unit (`none` and its aliases).
    public var isNone: Bool { dimension == .none }

    /// The unit a string names, or nil when the table does not know it.
    /// - Parameter text: a unit as a mapping file or catalog writes it; surrounding spaces are ignored.
    public static func named(_ text: String) -> MeasurementUnit? {
        byAlias[trimmed(text)]
    }

    /// The unitless unit.
    public static let none = named("none")!

    /// Converts a value between two units of one dimension.
    /// - Returns: the converted value, or nil when the units cannot convert (different
    ///   dimensions, or calibration steps). A unitless side returns the value unchanged.
    public static func convert(_ value: Double, from source: MeasurementUnit, to target: MeasurementUnit) -> Double? {
        guard let conversion = conversion(from: source, to: target) else { return nil }
        return conversion.apply(value)
    }

    /// How values convert from one unit to another, or nil when they cannot.
    /// - Returns: `.identity` when no arithmetic is needed (same unit, or a unitless side).
    public static func conversion(from source: MeasurementUnit, to target: MeasurementUnit) -> UnitConversion? {
        if source.isNone || target.isNone || source == target { return .identity }
        guard source.dimension == target.dimension, source.dimension != .calibration else { return nil }
        // base = v * f + o; target = (base - o_t) / f_t. Multiplying then dividing keeps exact
        // results exact (82624000 m is 82624 km, not 82624.00000000001).
        if source.factor == target.factor && source.offset == target.offset { return .identity }
        return UnitConversion(
            multiplier: source.factor, divisor: target.factor, shift: (source.offset - target.offset) / target.factor)
    }

    /// The explicit conversion table. Factors lead to the dimension's base unit, named first
    /// in each group.
    public static let table: [MeasurementUnit] = [
        MeasurementUnit(["none", "-", "", "conditionnal", "conditional", "state", "string", "unitless"], .none),
        MeasurementUnit(["degrees", "degree", "deg", "°", "Degrees °", "\\u00b0"], .angle),
        MeasurementUnit(["rad", "radians"], .angle, 180 / Double.pi),
        MeasurementUnit(["meters", "meter", "metres", "m"], .length),
        MeasurementUnit(["km", "kilometers", "kilometres"], .length, 1000),
        MeasurementUnit(["mm", "millimeters"], .length, 0.001),
        MeasurementUnit(["mi", "miles"], .length, 1609.344),
        MeasurementUnit(["ft", "feet"], .length, 0.3048),
        MeasurementUnit(["km/h", "kmh", "kph"], .speed),
        MeasurementUnit(["m/s", "mps"], .speed, 3.6),
        MeasurementUnit(["mph"], .speed, 1.609344),
        MeasurementUnit(["knots", "kn"], .speed, 1.852),
        MeasurementUnit(["seconds", "second", "s", "sec"], .time),
        MeasurementUnit(["ms", "milliseconds"], .time, 0.001),
        MeasurementUnit(["minutes", "minute", "min"], .time, 60),
        MeasurementUnit(["hours", "hour", "h"], .time, 3600),
        MeasurementUnit(["days", "day", "d"], .time, 86_400),
        MeasurementUnit(["liters", "liter", "litres", "l", "L", "ltr"], .volume),
        MeasurementUnit(["dl", "deciliters"], .volume, 0.1),
        MeasurementUnit(["ml", "milliliters"], .volume, 0.001),
        MeasurementUnit(["m3"], .volume, 1000),
        MeasurementUnit(["%", "percent", "%RH"], .ratio),
        MeasurementUnit(["V", "volts", "volt"], .voltage),
        MeasurementUnit(["mV", "millivolts"], .voltage, 0.001),
        MeasurementUnit(["A", "amperes", "amps"], .current),
        MeasurementUnit(["mA", "milliamperes"], .current, 0.001),
        MeasurementUnit(["°C", "C", "celsius", "degC", "\\u00b0C"], .temperature),
        MeasurementUnit(["°F", "F", "fahrenheit"], .temperature, 5.0 / 9.0, offset: -32.0 * 5.0 / 9.0),
        MeasurementUnit(["K", "kelvin"], .temperature, 1, offset: -273.15),
        MeasurementUnit(["kg", "Kg", "kilograms"], .mass),
        MeasurementUnit(["g", "grams"], .mass, 0.001),
        MeasurementUnit(["t", "tonnes"], .mass, 1000),
        MeasurementUnit(["kPa"], .pressure),
        MeasurementUnit(["psi"], .pressure, 6.894_757),
        MeasurementUnit(["bar"], .pressure, 100),
        MeasurementUnit(["rpm"], .rotation),
        MeasurementUnit(["Hz"], .frequency),
        MeasurementUnit(["m2"], .area),
        MeasurementUnit(["m2/h"], .areaRate),
        MeasurementUnit(["l/h", "L/h"], .volumeFlow),
        MeasurementUnit(["l/100km"], .consumption),
        MeasurementUnit(["kwh", "kWh"], .energy),
        MeasurementUnit(["kw", "kW"], .power),
        MeasurementUnit(["kwh/100km", "kWh/100km"], .energyConsumption),
        MeasurementUnit(["mG", "mg"], .acceleration),
        MeasurementUnit(["G"], .acceleration, 1000),
        MeasurementUnit(["kvants", "kvants or ltr"], .calibration),
    ]

    private static let byAlias: [String: MeasurementUnit] = {
        var map: [String: MeasurementUnit] = [:]
        for unit in table {
            for alias in unit.aliases {
                precondition(map[alias] == nil, "unit alias \(alias) listed twice")
                map[alias] = unit
            }
        }
        return map
    }()

    private static func trimmed(_ text: String) -> String {
        var s = Substring(text)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }

    /// Units are equal when they are the same table entry (aliases are equal).
    public static func == (lhs: MeasurementUnit, rhs: MeasurementUnit) -> Bool { lhs.name == rhs.name }
    /// Hashes the canonical spelling.
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

/// A linear conversion between two units: `value * multiplier / divisor + shift`.
public struct UnitConversion: Sendable, Hashable {
    /// The source unit's factor to the base unit.
    public let multiplier: Double
    /// The target unit's factor to the base unit.
    public let divisor: Double
    /// Added after scaling (temperatures).
    public let shift: Double

    /// Creates a conversion.
    public init(multiplier: Double, divisor: Double, shift: Double = 0) {
        self.multiplier = multiplier
        self.divisor = divisor
        self.shift = shift
    }

    /// No arithmetic.
    public static let identity = UnitConversion(multiplier: 1, divisor: 1)

    /// True when the conversion leaves values unchanged.
    public var isIdentity: Bool { multiplier == divisor && shift == 0 }

    /// Converts one value.
    public func apply(_ value: Double) -> Double { value * multiplier / divisor + shift }
}
