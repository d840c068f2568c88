public import TelemetryCore

/// Navixy Data Forwarding's text line, parsed into the flat fields the mapping reads.
///
/// `#D#date;time;lat;N|S;lng;E|W;speed;heading;alt;sats;hdop;inputs;outputs;adc,..;ibutton;NAME:TYPE:VALUE,...`
/// (TYPE 1 integer, 2 double, 3 text; `NA` is null). Root values keep the parsed packet's root
/// key names (`lat`, `lng`, `speed`, `heading`, `alt`, `satellites`, `hdop`, `inputs`,
/// `outputs`, `adc`, `ibutton`); parameters become `params.NAME`. Coordinates are NMEA
/// degrees-and-minutes (`2017.1096;S` is -(20 + 17.1096/60)).
public enum NavixyWireFormat {
    /// Why a line could not be parsed.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong with the line.
        public var message: String
        /// `navixy line: message`.
        public var description: String { "navixy line: \(message)" }
    }

    /// Parses one `#D#` line.
    /// - Returns: the packet time (ms since 1970 UTC, from `DDMMYY;HHMMSS`) and the fields.
    /// - Throws: `ParseError` naming the bad part.
    public static func parse(_ line: String) throws(ParseError) -> (timestamp: Int64, fields: [Field]) {
        var text = Substring(line.trimmingSpaces)
        guard text.hasPrefix("#D#") else { throw ParseError(message: "does not start with #D#") }
        text = text.dropFirst(3)
        let parts = text.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 16 else { throw ParseError(message: "\(parts.count) sections, expected 16") }
        guard let timestamp = time(date: parts[0], time: parts[1]) else {
            throw ParseError(message: "bad date/time \(parts[0]);\(parts[1])")
        }
        var fields: [Field] = []
        func number(_ s: String, _ name: String) throws(ParseError) -> FieldValue {
            if s == "NA" || s.isEmpty { return .null }
            if let i = Int64(s) { return .int(i) }
            if let d = Double(s) { return .double(d) }
            throw ParseError(message: "\(name) \(s) is not a number")
        }
        fields.append(Field("lat", try coordinate(parts[2], hemisphere: parts[3], negative: "S", name: "lat")))
        fields.append(Field("lng", try coordinate(parts[4], hemisphere: parts[5], negative: "W", name: "lng")))
        for (i, name) in ["speed", "heading", "alt", "satellites", "hdop", "inputs", "outputs"].enumerated() {
            fields.append(Field(name, try number(parts[6 + i], name)))
        }
        if parts[13] == "NA" || parts[13].isEmpty {
            fields.append(Field("adc", .null))
        } else {
            var adc: [FieldValue] = []
            for a in parts[13].split(separator: ",") { adc.append(try number(String(a), "adc")) }
            fields.append(Field("adc", .array(adc)))
        }
        fields.append(Field("ibutton", parts[14] == "NA" || parts[14].isEmpty ? .null : .string(parts[14])))
        let params = parts[15...].joined(separator: ";")
        for item in params.split(separator: ",") where !item.isEmpty {
            let pieces = item.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard pieces.count == 3 else { throw ParseError(message: "parameter \(item) is not NAME:TYPE:VALUE") }
            let name = "params." + pieces[0]
            let value = String(pieces[2])
            switch pieces[1] {
            case "1":
                guard let i = Int64(value) else { throw ParseError(message: "\(name) \(value) is not an integer") }
                fields.append(Field(name, .int(i)))
            case "2":
                guard let d = Double(value) else { throw ParseError(message: "\(name) \(value) is not a number") }
                fields.append(Field(name, .double(d)))
            case "3": fields.append(Field(name, .string(value)))
            default: throw ParseError(message: "\(name) has unknown type \(pieces[1])")
            }
        }
        return (timestamp, fields)
    }

    private static func time(date: String, time: String) -> Int64? {
        let d = Array(date.utf8)
        let t = Array(time.utf8)
        guard d.count == 6, t.count == 6, (d + t).allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        func two(_ a: [UInt8], _ i: Int) -> Int { Int(a[i] - 48) * 10 + Int(a[i + 1] - 48) }
        let day = two(d, 0)
        let month = two(d, 2)
        let year = 2000 + two(d, 4)
        guard (1...12).contains(month), (1...31).contains(day), two(t, 0) < 24, two(t, 2) < 60, two(t, 4) < 61 else {
            return nil
        }
        let days = Int64(DateTimeParsing.daysFromCivil(year: year, month: month, day: day))
        return (days * 86_400 + Int64(two(t, 0) * 3600 + two(t, 2) * 60 + two(t, 4))) * 1000
    }

    private static func coordinate(
        _ s: String, hemisphere: String, negative: String, name: String
    ) throws(ParseError) -> FieldValue {
        if s == "NA" || s.isEmpty { return .null }
        guard let raw = Double(s), raw >= 0 else {
            throw ParseError(message: "\(name) \(s) is not NMEA degrees and minutes")
        }
        let degrees = (raw / 100).rounded(.towardZero)
        let value = degrees + (raw - degrees * 100) / 60
        // Six decimals (~0.1 m) is the packet's own precision; it also removes float noise.
        let rounded = (value * 1e6).rounded() / 1e6
        return .double(hemisphere == negative ? -rounded : rounded)
    }
}
