/// A semantic version (semver.org 2.0.0): `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`.
///
/// Ordering follows semver precedence: numeric parts first, a pre-release sorts before its
/// release, pre-release identifiers compare numerically when both are numeric and by ASCII
/// otherwise, and build metadata is ignored. Equality, unlike precedence, includes the build
/// metadata, so `1.0.0+a` and `1.0.0+b` are different versions of equal precedence.
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The major version.
    public let major: UInt64
    /// The minor version.
    public let minor: UInt64
    /// The patch version.
    public let patch: UInt64
    /// Dot-separated pre-release identifiers (empty for a release).
    public let prerelease: [String]
    /// Dot-separated build identifiers.
    public let build: [String]

    /// Parses a version; nil when the text is not a valid semantic version.
    /// - Parameter description: e.g. `1.0.3`, `1.0.6-telemetrystore.2`, `2.0.0+20260108`.
    public init?(_ description: String) {
        var rest = Substring(description)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            let meta = rest[rest.index(after: plus)...]
            guard let ids = Self.identifiers(meta, numericRule: false) else { return nil }
            build = ids
            rest = rest[..<plus]
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            let pre = rest[rest.index(after: dash)...]
            guard let ids = Self.identifiers(pre, numericRule: true) else { return nil }
            prerelease = ids
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3, let a = Self.number(core[0]), let b = Self.number(core[1]), let c = Self.number(core[2])
        else { return nil }
        self.major = a
        self.minor = b
        self.patch = c
        self.prerelease = prerelease
        self.build = build
    }

    /// A release version.
    public init(_ major: UInt64, _ minor: UInt64, _ patch: UInt64) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = []
        self.build = []
    }

    /// The version as text, as parsed.
    public var description: String {
        var s = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { s += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { s += "+" + build.joined(separator: ".") }
        return s
    }

    /// Semver precedence (build metadata ignored).
    public static func < (lhs: SemanticVersion, rhs: SemanticVersion) -> Bool {
        if lhs.major != rhs.major { return lhs.major < rhs.major }
        if lhs.minor != rhs.minor { return lhs.minor < rhs.minor }
        if lhs.patch != rhs.patch { return lhs.patch < rhs.patch }
        switch (lhs.prerelease.isEmpty, rhs.prerelease.isEmpty) {
        case (true, true): return false
        case (true, false): return false
        case (false, true): return true
        case (false, false): break
        }
        for (a, b) in zip(lhs.prerelease, rhs.prerelease) where a != b {
            switch (UInt64(a), UInt64(b)) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true  // numeric identifiers sort before alphanumeric ones
            case (nil, .some): return false
            case (nil, nil): return a.utf8.lexicographicallyPrecedes(b.utf8)
            }
        }
        return lhs.prerelease.count < rhs.prerelease.count
    }

    /// True when both have the same precedence (build metadata ignored).
    public func hasSamePrecedence(as other: SemanticVersion) -> Bool { !(self < other) && !(other < self) }

    private static func number(_ s: Substring) -> UInt64? {
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if s.count > 1 && s.first == "0" { return nil }  // no leading zeros
        return UInt64(s)
    }

    private static func identifiers(_ s: Substring, numericRule: Bool) -> [String]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        var out: [String] = []
        for p in parts {
            guard !p.isEmpty, p.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                return nil
            }
            if numericRule, p.allSatisfy({ $0.isNumber }), p.count > 1, p.first == "0" { return nil }
            out.append(String(p))
        }
        return out
    }
}
