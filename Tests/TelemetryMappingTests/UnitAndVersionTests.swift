import TelemetryCore
import Testing

@testable import TelemetryMapping

struct UnitConversionTests {
    @Test(arguments: [
        ("meters", "km", 82_624_000.0, 82_624.0),
        ("m", "km", 1500.0, 1.5),
        ("km", "meters", 1.5, 1500.0),
        ("seconds", "hours", 66_885_400.0, 66_885_400.0 / 3600),
        ("s", "h", 7200.0, 2.0),
        ("minutes", "hours", 90.0, 1.5),
        ("ms", "s", 1500.0, 1.5),
        ("m/s", "km/h", 10.0, 36.0),
        ("mph", "km/h", 100.0, 160.9344),
        ("knots", "km/h", 10.0, 18.52),
        ("dl", "liters", 2_110_005.0, 211_000.5),
        ("L", "l", 3.0, 3.0),
        ("mV", "V", 12_888.0, 12.888),
        ("°F", "°C", 212.0, 100.0),
        ("K", "°C", 273.15, 0.0),
        ("rad", "degrees", Double.pi, 180.0),
        ("mi", "km", 1.0, 1.609344),
        ("ft", "m", 1000.0, 304.8),
        ("psi", "kPa", 1.0, 6.894757),
        ("%RH", "%", 55.0, 55.0),
    ])
    func converts(from: String, to: String, value: Double, expected: Double) throws {
        let source = try #require(MeasurementUnit.named(from))
        let target = try #require(MeasurementUnit.named(to))
        let converted = try #require(MeasurementUnit.convert(value, from: source, to: target))
        #expect(abs(converted - expected) <= 1e-9 * max(1, abs(expected)))
    }

    /// Exact in floating point where the arithmetic allows it (multiply, then divide).
    @Test func metresToKilometresIsExact() {
        #expect(MeasurementUnit.convert(82_624_000, from: .named("meters")!, to: .named("km")!) == 82_624)
        #expect(MeasurementUnit.convert(415_000, from: .named("meters")!, to: .named("km")!) == 415)
    }

    @Test(arguments: [
        ("none", "km"), ("km", "none"), ("conditionnal", "liters"), ("-", "%"), ("", "hours"), ("state", "none"),
    ])
    func unitlessSidesLeaveValuesUnchanged(from: String, to: String) throws {
        let c = try #require(MeasurementUnit.conversion(from: .named(from)!, to: .named(to)!))
        #expect(c.isIdentity)
        #expect(c.apply(42) == 42)
    }

    @Test(arguments: [
        ("km", "hours"), ("liters", "%"), ("kvants", "liters"), ("liters", "kvants"), ("V", "A"), ("°C", "%"),
    ])
    func incompatibleUnitsHaveNoConversion(from: String, to: String) {
        #expect(MeasurementUnit.conversion(from: .named(from)!, to: .named(to)!) == nil)
    }

    @Test(arguments: [
        "meters", "m", "km", "km/h", "hours", "h", "seconds", "s", "liters", "l", "%", "none", "conditionnal",
        "degrees",
        "mV", "V", "°C", "kvants", "kvants or ltr", "rpm", "Hz", "kg", "m2/h", "l/100km", "mG", "\\u00b0C",
    ])
    func catalogUnitsAreKnown(unit: String) {
        #expect(MeasurementUnit.named(unit) != nil)
    }

    @Test func unknownUnitIsNil() {
        #expect(MeasurementUnit.named("furlongs") == nil)
        #expect(MeasurementUnit.named("KM") == nil)  // units are case-sensitive (mG is not MG)
    }

    @Test func aliasesAreOneUnit() {
        #expect(MeasurementUnit.named("meters") == MeasurementUnit.named("m"))
        #expect(MeasurementUnit.named("hours") == MeasurementUnit.named("h"))
        #expect(MeasurementUnit.named(" liters ") == MeasurementUnit.named("L"))
        #expect(MeasurementUnit.named("conditionnal")!.isNone)
    }
}

struct SemanticVersionTests {
    @Test(arguments: [
        "1.0.3", "0.0.0", "10.20.30", "1.0.6-telemetrystore.1", "1.0.0-alpha", "1.0.0+20260108", "1.0.0-rc.1+build.5",
    ])
    func parsesValidVersions(text: String) throws {
        let v = try #require(SemanticVersion(text))
        #expect(v.description == text)
    }

    @Test(arguments: [
        "1.0", "1", "v1.0.0", "1.0.0.0", "01.0.0", "1.02.0", "1.0.0-", "1.0.0-01", "1.0.0+", "", "1.0.x", "1..0",
    ])
    func rejectsInvalidVersions(text: String) {
        #expect(SemanticVersion(text) == nil)
    }

    @Test func ordersBySemverPrecedence() {
        let ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0", "1.0.1", "1.0.3", "1.0.6-telemetrystore.1", "1.0.6", "1.1.0", "2.0.0",
        ].map { SemanticVersion($0)! }
        #expect(ordered == ordered.shuffled().sorted())
        for (a, b) in zip(ordered, ordered.dropFirst()) { #expect(a < b, "\(a) < \(b)") }
    }

    @Test func buildMetadataIsIgnoredForPrecedence() {
        let a = SemanticVersion("1.0.0+a")!
        let b = SemanticVersion("1.0.0+b")!
        #expect(a.hasSamePrecedence(as: b))
        #expect(a != b)
    }
}
