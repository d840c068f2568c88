/// RFC 3339 timestamps (`2024-01-01T00:00:00.000Z`) to and from milliseconds since 1970 UTC.
///
/// Written out rather than using `ISO8601DateFormatter` because that goes through
/// `Date`'s `Double` seconds, which cannot hold every `Int64` millisecond exactly,
/// and because it is not `Sendable` on every platform. The calendar arithmetic is
/// Howard Hinnant's `days_from_civil`/`civil_from_days` (proleptic Gregorian).
/// Shared by the input parsers and the output renderers.
enum RFC3339 {
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// Parses `YYYY-MM-DD(T|t| )hh:mm:ss[.fraction](Z|z|±hh:mm)`, the year also in ISO 8601's
    /// expanded form (a sign and 4 to 9 digits) that `format` writes outside 0000...9999.
    ///
    /// Digits of the fraction beyond milliseconds are dropped, which rounds towards
    /// the past, or, with `roundingUp`, round up to the next millisecond when any of them is
    /// not 0 (a query bound). A leap second (`:60`) is read as the first instant of the next minute.
    /// - Returns: milliseconds since 1970 UTC, or nil when the text is not RFC 3339.
    static func milliseconds(parsing text: some Collection<UInt8>, roundingUp: Bool = false) -> Int64? {
        let bytes = Array(text)
        guard bytes.count >= 20 else { return nil }
        func number(_ start: Int, _ length: Int) -> Int64? {
            var value: Int64 = 0
            for i in start..<(start + length) {
                guard NumberLiteral.isDigit(bytes[i]) else { return nil }
                value = value * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
            }
            return value
        }
        // ISO 8601's expanded years (`-292275055-05-16...`, `+12345-...`), which `format`
        // writes for times outside 0000...9999: what a store holds, an export must read back.
        var yearStart = 0
        var yearSign: Int64 = 1
        var yearDigits = 4
        if bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-") {
            yearSign = bytes[0] == UInt8(ascii: "-") ? -1 : 1
            yearStart = 1
            yearDigits = bytes[1...].prefix(while: NumberLiteral.isDigit).count
            guard (4...9).contains(yearDigits) else { return nil }
        }
        let b = yearStart + yearDigits  // the '-' after the year
        guard bytes.count >= b + 16, let unsignedYear = number(yearStart, yearDigits), bytes[b] == UInt8(ascii: "-"),
            let month = number(b + 1, 2), bytes[b + 3] == UInt8(ascii: "-"),
            let day = number(b + 4, 2),
            bytes[b + 6] == UInt8(ascii: "T") || bytes[b + 6] == UInt8(ascii: "t") || bytes[b + 6] == UInt8(ascii: " "),
            let hour = number(b + 7, 2), bytes[b + 9] == UInt8(ascii: ":"),
            let minute = number(b + 10, 2), bytes[b + 12] == UInt8(ascii: ":"),
            let second = number(b + 13, 2)
        else { return nil }
        let year = yearSign * unsignedYear
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, second <= 60
        else { return nil }

        var index = b + 15
        var fraction: Int64 = 0
        var finer = false  // a non-zero digit beyond the millisecond
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, NumberLiteral.isDigit(bytes[index]) {
                if digits < 3 {
                    fraction = fraction * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                } else if bytes[index] != UInt8(ascii: "0") {
                    finer = true
                }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { fraction *= 10 }
        }

        guard index < bytes.count else { return nil }
        var offsetMinutes: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard bytes.count - index == 6, let offsetHour = number(index + 1, 2),
                bytes[index + 3] == UInt8(ascii: ":"), let offsetMinute = number(index + 4, 2),
                offsetHour <= 23, offsetMinute <= 59
            else { return nil }
            offsetMinutes = offsetHour * 60 + offsetMinute
            if bytes[index] == UInt8(ascii: "-") { offsetMinutes = -offsetMinutes }
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }

        // Expanded years reach past Int64 milliseconds: such a time is not one (nil).
        let days = daysFromCivil(year: year, month: month, day: day)
        let (daySeconds, o1) = days.multipliedReportingOverflow(by: 86_400)
        let (seconds, o2) = daySeconds.addingReportingOverflow(hour * 3_600 + minute * 60 + second - offsetMinutes * 60)
        // Before 1970 the second is counted from its end, so that the earliest millisecond of all
        // (Int64.min, whose second alone would be out of range) is reachable.
        let part = fraction + (roundingUp && finer ? 1 : 0)
        let (ms, o3) = seconds < 0 ? (seconds + 1).multipliedReportingOverflow(by: 1_000) : seconds.multipliedReportingOverflow(by: 1_000)
        let (total, o4) = ms.addingReportingOverflow(seconds < 0 ? part - 1_000 : part)
        guard !(o1 || o2 || o3 || o4) else { return nil }
        return total
    }

    /// Formats milliseconds as `YYYY-MM-DDThh:mm:ss.sssZ`.
    ///
    /// Years outside 0000...9999, which RFC 3339 cannot express but an `Int64` of
    /// milliseconds can, use ISO 8601's expanded form with a sign (`+12345-…`, `-0001-…`).
    static func format(milliseconds: Int64) -> String {
        var days = milliseconds / millisecondsPerDay
        var remainder = milliseconds % millisecondsPerDay
        if remainder < 0 {
            remainder += millisecondsPerDay
            days -= 1
        }
        let (year, month, day) = civilFromDays(days)
        let millisecond = remainder % 1_000
        let second = remainder / 1_000 % 60
        let minute = remainder / 60_000 % 60
        let hour = remainder / 3_600_000

        var text = ""
        text.reserveCapacity(24)
        if year < 0 {
            text += "-" + padded(-year, 4)
        } else if year > 9999 {
            text += "+" + padded(year, 4)
        } else {
            text += padded(year, 4)
        }
        text += "-" + padded(month, 2) + "-" + padded(day, 2)
        text += "T" + padded(hour, 2) + ":" + padded(minute, 2) + ":" + padded(second, 2)
        text += "." + padded(millisecond, 3) + "Z"
        return text
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    private static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
