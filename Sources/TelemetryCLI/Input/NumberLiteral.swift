/// Strict number syntax shared by the parsers.
///
/// Swift's `Double(_: String)` also accepts `nan`, `inf` and hexadecimal floats; a CSV
/// cell holding `nan` or `0x1p3` is far more likely text than a number, so the grammar
/// is checked here first.
enum NumberLiteral {
    /// Whether the bytes are `[+-]?[0-9]+`.
    static func isInteger(_ bytes: some Collection<UInt8>) -> Bool {
        var digits = 0
        for (offset, byte) in bytes.enumerated() {
            if offset == 0 && (byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")) { continue }
            guard isDigit(byte) else { return false }
            digits += 1
        }
        return digits > 0
    }

    /// The value of `[+-]?[0-9]+`, or nil when the syntax is wrong or the value does not fit.
    static func int64(_ bytes: some Collection<UInt8>) -> Int64? {
        var iterator = bytes.makeIterator()
        guard var byte = iterator.next() else { return nil }
        var negative = false
        if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") {
            negative = byte == UInt8(ascii: "-")
            guard let next = iterator.next() else { return nil }
            byte = next
        }
        // Accumulate negatively so that Int64.min, whose magnitude Int64 cannot hold, parses.
        var value: Int64 = 0
        while true {
            guard isDigit(byte) else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.subtractingReportingOverflow(Int64(byte &- UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
            guard let next = iterator.next() else { break }
            byte = next
        }
        if negative { return value }
        return value == .min ? nil : -value
    }

    /// The value of `[0-9]+`, or nil when the syntax is wrong or the value does not fit.
    static func uint64(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard isDigit(byte) else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(byte &- UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
        }
        return value
    }

    /// Whether the bytes are a decimal number: `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`.
    static func isDecimal(_ bytes: some Collection<UInt8>) -> Bool {
        var index = bytes.startIndex
        func peek() -> UInt8? { index < bytes.endIndex ? bytes[index] : nil }
        func advance() { index = bytes.index(after: index) }
        func digits() -> Int {
            var count = 0
            while let byte = peek(), isDigit(byte) {
                advance()
                count += 1
            }
            return count
        }
        if let sign = peek(), sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { advance() }
        var mantissaDigits = digits()
        if peek() == UInt8(ascii: ".") {
            advance()
            mantissaDigits += digits()
        }
        guard mantissaDigits > 0 else { return false }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            advance()
            if let sign = peek(), sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { advance() }
            guard digits() > 0 else { return false }
        }
        return index == bytes.endIndex
    }

    /// The value of a decimal number (see `isDecimal`), or nil when the syntax is wrong
    /// or the magnitude overflows to infinity.
    static func double(_ bytes: some Collection<UInt8>) -> Double? {
        guard isDecimal(bytes) else { return nil }
        if let value = exactDouble(bytes) { return value }
        guard let value = Double(String(decoding: bytes, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }

    /// Exact powers of ten: every one up to 1e22 is representable in a double.
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Clinger's fast path for a syntactically valid decimal: when the digits form an
    /// integer below 2^53 and the power of ten is at most 22, both are exact doubles and
    /// one multiplication or division rounds correctly, giving strtod's result without
    /// its cost (it dominated reading the benchmark dataset). Returns nil otherwise.
    private static func exactDouble(_ bytes: some Collection<UInt8>) -> Double? {
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var inFraction = false
        var negative = false
        var exponent = 0
        var exponentNegative = false
        var inExponent = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = UInt64(byte &- UInt8(ascii: "0"))
                if inExponent {
                    exponent = exponent * 10 + Int(digit)
                    if exponent > 400 { return nil }
                } else {
                    if mantissa > 0 || digit > 0 { digits += 1 }
                    if digits > 15 { return nil }
                    mantissa = mantissa * 10 + digit
                    if inFraction { fractionDigits += 1 }
                }
            case UInt8(ascii: "."): inFraction = true
            case UInt8(ascii: "-"):
                if inExponent { exponentNegative = true } else { negative = true }
            case UInt8(ascii: "+"): break
            default: inExponent = true  // e or E; isDecimal vetted the syntax
            }
        }
        let power = (exponentNegative ? -exponent : exponent) - fractionDigits
        guard power >= -22 && power <= 22 else { return mantissa == 0 ? (negative ? -0.0 : 0.0) : nil }
        var value = Double(mantissa)
        value = power < 0 ? value / powersOfTen[-power] : value * powersOfTen[power]
        return negative ? -value : value
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
