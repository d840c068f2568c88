import Foundation
import TelemetryCLI
import TelemetryCore
import Testing

@Suite struct CSVInputTests {
    @Test func readsEveryValueType() throws {
        let records = try readAll(
            """
            vehicle,timestamp,speed,rpm,ignition,note,empty,parked
            truck-1,1704067200000,42.5,1436,true,hello,,FALSE

            """,
            name: "x.csv"
        )
        #expect(
            records == [
                try record(
                    "truck-1",
                    1_704_067_200_000,
                    [
                        ("speed", .double(42.5)), ("rpm", .int(1436)), ("ignition", .bool(true)),
                        ("note", .string("hello")), ("parked", .bool(false)),
                    ]
                )
            ]
        )
    }

    @Test(arguments: [
        ("-7", FieldValue.int(-7)), ("+7", .int(7)), ("007", .int(7)), ("9223372036854775807", .int(.max)),
        ("-9223372036854775808", .int(.min)),
        // Too long for Int64: kept as text so identifiers keep every digit.
        ("89882390000123456789", .string("89882390000123456789")),
        ("1e3", .double(1000)), ("-2.5E-3", .double(-0.0025)), (".5", .double(0.5)), ("5.", .double(5)),
        ("12.0", .double(12)), ("1e400", .string("1e400")), ("nan", .string("nan")), ("inf", .string("inf")),
        ("0x1p3", .string("0x1p3")), ("1.5.2", .string("1.5.2")), (" 42", .string(" 42")),
        ("True", .bool(true)), ("TRUE", .bool(true)), ("yes", .string("yes")), ("-", .string("-")),
    ])
    func typesCells(cell: String, expected: FieldValue) throws {
        let records = try readAll("vehicle,timestamp,value\nv1,1,\(cell)\n", name: "x.csv")
        #expect(records.first?.fields == [Field("value", expected)])
    }

    @Test func handlesQuoting() throws {
        let records = try readAll(
            #"""
            vehicle,timestamp,note,count,quote
            "v1","1","a,b","42","say ""hi"""
            v1,2,"two
            lines",1,""

            """#,
            name: "x.csv"
        )
        #expect(
            records == [
                try record(
                    "v1",
                    1,
                    [("note", .string("a,b")), ("count", .int(42)), ("quote", .string("say \"hi\""))]
                ),
                try record("v1", 2, [("note", .string("two\nlines")), ("count", .int(1))]),
            ]
        )
    }

    @Test func reportsTheLineAfterAMultiLineRecord() throws {
        let error = try readError("vehicle,timestamp,note\nv1,1,\"a\n\nb\"\n,2,x\n", name: "x.csv")
        #expect(error == "x.csv:5: vehicle id is empty")
    }

    @Test func acceptsAliasesAndProviders() throws {
        let text = """
            vehicle_id,ts,provider,speed
            v1,1,navixy,1
            v2,2,,2

            """
        #expect(
            try readAll(text, name: "x.csv") == [
                try record("v1", 1, provider: "navixy", [("speed", .int(1))]),
                try record("v2", 2, provider: "generic", [("speed", .int(2))]),
            ]
        )
        // --provider is the user's explicit choice: it wins over the column too.
        let withOption = try readAll(text, name: "x.csv", options: InputOptions(provider: "teltonika"))
        #expect(withOption.map(\.provider) == ["teltonika", "teltonika"])
        #expect(try readAll("vehicle,time,x\nv1,5,1\n", name: "x.csv").map(\.timestamp) == [5])
    }

    @Test func honoursCustomKeys() throws {
        let options = InputOptions(vehicleKey: "unit", timestampKey: "at")
        let records = try readAll("unit,at,vehicle\nu1,3,car\n", name: "x.csv", options: options)
        #expect(records == [try record("u1", 3, [("vehicle", .string("car"))])])
        // The aliases apply only to the default keys.
        #expect(
            try readError("unit,timestamp,x\nu1,3,1\n", name: "x.csv", options: options)
                == "x.csv:1: missing column \"at\""
        )
    }

    @Test(arguments: [
        ("2024-01-01T00:00:00Z", TimestampPrecision.milliseconds, Int64(1_704_067_200_000)),
        ("2024-01-01T00:00:00.123456Z", .milliseconds, 1_704_067_200_123),
        ("2024-01-01T01:00:00+01:00", .seconds, 1_704_067_200_000),
        ("2023-12-31 23:30:00.5-00:30", .milliseconds, 1_704_067_200_500),
        ("1704067200123456789", .nanoseconds, 1_704_067_200_123),
        ("1704067200123456", .microseconds, 1_704_067_200_123),
        ("1704067200", .seconds, 1_704_067_200_000),
        ("-1", .nanoseconds, -1),
        ("-1500", .microseconds, -2),
    ])
    func parsesTimestamps(text: String, precision: TimestampPrecision, expected: Int64) throws {
        let records = try readAll(
            "vehicle,timestamp,x\nv1,\(text),1\n",
            name: "x.csv",
            options: InputOptions(precision: precision)
        )
        #expect(records.map(\.timestamp) == [expected])
    }

    @Test func readsCRLFAndAByteOrderMark() throws {
        let records = try readAll("\u{FEFF}vehicle,timestamp,x\r\nv1,1,\"a\r\nb\"\r\nv1,2,3", name: "x.csv")
        #expect(records == [try record("v1", 1, [("x", .string("a\nb"))]), try record("v1", 2, [("x", .int(3))])])
    }

    @Test(arguments: [
        ("", "x.csv: missing header row"),
        ("timestamp,x\n1,2\n", "x.csv:1: missing column \"vehicle\""),
        ("vehicle,x\nv1,2\n", "x.csv:1: missing column \"timestamp\""),
        ("vehicle,timestamp,x,x\n", "x.csv:1: duplicate column \"x\""),
        ("vehicle,vehicle_id,timestamp,x\n", "x.csv:1: columns \"vehicle\" and \"vehicle_id\" both name the vehicle"),
        ("vehicle,,timestamp\n", "x.csv:1: column 2 has no name"),
        ("vehicle,timestamp," + String(repeating: "c", count: 256) + "\nv,1,2\n",
         "x.csv:1: column 3's name \"cccccccccccccccccccccccccccccccccccccccc...\" is longer than 255 bytes"),
        ("vehicle,\"time\"stamp\n", "x.csv:1: column 2: text after the closing quote"),
        ("vehicle,timestamp,x\nv1,1,2\nv1,2\n", "x.csv:3: expected 3 columns, found 2"),
        (
            "vehicle,timestamp,x\nv1,yesterday,2\n",
            "x.csv:2: column \"timestamp\": invalid timestamp \"yesterday\": expected an integer (ms) or RFC 3339 text"
        ),
        (
            "vehicle,timestamp,x\nv1,2024-02-30T00:00:00Z,2\n",
            "x.csv:2: column \"timestamp\": invalid timestamp \"2024-02-30T00:00:00Z\": expected an integer (ms) or RFC 3339 text"
        ),
        (
            "vehicle,timestamp,x\nv1,1.5,2\n",
            "x.csv:2: column \"timestamp\": invalid timestamp \"1.5\": expected an integer (ms) or RFC 3339 text"
        ),
        ("vehicle,time,x\nv1,,2\n", "x.csv:2: column \"time\": timestamp is empty"),
        (
            "vehicle,timestamp,x\nv1,99999999999999999999,2\n",
            "x.csv:2: column \"timestamp\": timestamp 99999999999999999999 ms is out of range"
        ),
        ("vehicle,timestamp,x\n,1,2\n", "x.csv:2: vehicle id is empty"),
        (
            "vehicle,timestamp,x\n\(String(repeating: "v", count: 65)),1,2\n",
            "x.csv:2: vehicle id is 65 bytes long (max 64)"
        ),
        ("vehicle,timestamp,x\nv1,1,\n", "x.csv:2: record has no fields"),
        ("vehicle,timestamp,note\nv1,1,\"open\nstill open\n", "x.csv:2: unterminated quoted cell"),
        ("vehicle,timestamp,note\nv1,1,\"a\"b\n", "x.csv:2: column \"note\": text after the closing quote"),
        ("vehicle,timestamp,note\nv1,1,a\"b\n", "x.csv:2: column \"note\": quote in an unquoted cell"),
    ])
    func reportsBadInput(text: String, expected: String) throws {
        #expect(try readError(text, name: "x.csv") == expected)
    }

    @Test func reportsSecondsOverflow() throws {
        let error = try readError(
            "vehicle,timestamp,x\nv1,9223372036854775807,1\n",
            name: "x.csv",
            options: InputOptions(precision: .seconds)
        )
        #expect(error == "x.csv:2: column \"timestamp\": timestamp 9223372036854775807 s is out of range")
    }

    @Test func rejectsInvalidUTF8() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/x.csv"
            try Data("vehicle,timestamp,note\nv1,1,".utf8 + [0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
            let reader = try RecordFileReader(path: path)
            #expect {
                _ = try reader.nextBatch(maxRecords: 10)
            } throws: { error in
                (error as? InputError)?.description == "\(path):2: column \"note\": not valid UTF-8"
            }
        }
    }

    @Test func aBadHeaderEndsReading() throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile("vehicle,x\nv1,1\nv2,2\n", named: "x.csv", in: directory)
            let reader = try RecordFileReader(path: path)
            for _ in 0..<2 {
                #expect {
                    _ = try reader.nextBatch(maxRecords: 10)
                } throws: { error in
                    (error as? InputError)?.description == "\(path):1: missing column \"timestamp\""
                        && (error as? InputError)?.code == .invalidRecord
                        && (error as? InputError)?.isRecoverable == false
                }
            }
        }
    }
}
