import TelemetryCore

/// Times are any Int64 the protocol accepts (a record at Int64.min + 1 is valid: PROTOCOL
/// section 7.3), so the rules' differences and sums of times saturate instead of trapping:
/// a time that far away is older or newer than every threshold either way.
extension Int64 {
    func saturatingSubtracting(_ other: Int64) -> Int64 {
        let (r, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : r
    }

    func saturatingAdding(_ other: Int64) -> Int64 {
        let (r, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : r
    }
}

/// Datetime values as the mapping layer stores them: milliseconds since 1970 UTC.
enum DateTimeParsing {
    /// Integers below this are seconds, not milliseconds (1e11 ms is 1973-03-03; 1e11 s is year 5138).
    static let secondsLimit: Int64 = 100_000_000_000

    /// Milliseconds from a number (seconds or milliseconds by magnitude) or from text: ISO 8601
    /// (`2025-10-17T00:50:45.000Z`, an offset, or none for UTC), `2025-10-17 00:50:45`, or digits.
    static func milliseconds(_ v: FieldValue) -> Int64? {
        switch v {
        case .int(let i): return i.magnitude < UInt64(secondsLimit) ? i &* 1000 : i  // not abs(): Int64.min has none
        case .double(let d):
            guard d.isFinite, abs(d) < 9e15 else { return nil }
            return abs(d) < Double(secondsLimit) ? Int64((d * 1000).rounded()) : Int64(d.rounded())
        case .string(let s):
            let t = s.trimmingSpaces
            if let i = Int64(t) { return milliseconds(.int(i)) }
            if let d = Double(t) { return milliseconds(.double(d)) }
            return parseISO(t)
        case .null, .bool, .bytes, .array: return nil
        }
    }

    /// `YYYY-MM-DD[T| ]hh:mm[:ss[.fff]][Z|±hh:mm|±hhmm]`.
    static func parseISO(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        guard i < b.count, b[i] == 84 || b[i] == 116 || b[i] == 32 else { return nil }
        i += 1
        guard let hour = digits(2), expect(58), let minute = digits(2), hour < 24, minute < 60 else { return nil }
        var second = 0
        var millis = 0
        if expect(58) {
            guard let s = digits(2), s < 61 else { return nil }
            second = s
            if expect(46) || expect(44) {
                var scale = 100
                var any = false
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    millis += Int(b[i] - 48) * scale
                    scale /= 10
                    i += 1
                    any = true
                }
                guard any else { return nil }
            }
        }
        var offsetMinutes = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {
                i += 1
            } else if b[i] == 43 || b[i] == 45 {
                let sign = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = digits(2) else { return nil }
                _ = expect(58)
                let om = digits(2) ?? 0
                offsetMinutes = sign * (oh * 60 + om)
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let secs = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return secs * 1000 + Int64(millis)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
