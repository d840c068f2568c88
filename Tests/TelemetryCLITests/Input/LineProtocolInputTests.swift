import TelemetryCLI
import TelemetryCore
import Testing

@Suite struct LineProtocolInputTests {
    @Test func readsABenchmarkLine() throws {
        let line =
            "telemetry,vehicle=veh-000762 lat=44.758037,lon=-0.390688,speed_kmh=48.2,heading_deg=181.5,"
            + "altitude_m=87.8,odometer_km=182077.052,fuel_level_pct=39.4,battery_v=14.11,engine_rpm=1436i,"
            + "ignition=true,satellites=10i,hdop=1.1 1704067200001\n"
        let records = try readAll(line, name: "x.lp")
        #expect(
            records == [
                try record(
                    "veh-000762",
                    1_704_067_200_001,
                    provider: "telemetry",
                    [
                        ("lat", .double(44.758037)), ("lon", .double(-0.390688)), ("speed_kmh", .double(48.2)),
                        ("heading_deg", .double(181.5)), ("altitude_m", .double(87.8)),
                        ("odometer_km", .double(182077.052)), ("fuel_level_pct", .double(39.4)),
                        ("battery_v", .double(14.11)), ("engine_rpm", .int(1436)), ("ignition", .bool(true)),
                        ("satellites", .int(10)), ("hdop", .double(1.1)),
                    ]
                )
            ]
        )
    }

    @Test func readsEveryValueType() throws {
        let records = try readAll(
            #"m,vehicle=v1 f=1.5,g=1,h=-2e3,i=-3i,u=7u,t1=t,t2=T,t3=True,t4=TRUE,f1=f,f2=FALSE,s="hi \"there\", a=b \\ \n",e="" 5"#,
            name: "x.lp"
        )
        #expect(
            records.first?.fields == [
                Field("f", .double(1.5)), Field("g", .double(1)), Field("h", .double(-2000)), Field("i", .int(-3)),
                Field("u", .int(7)), Field("t1", .bool(true)), Field("t2", .bool(true)), Field("t3", .bool(true)),
                Field("t4", .bool(true)), Field("f1", .bool(false)), Field("f2", .bool(false)),
                Field("s", .string(#"hi "there", a=b \ \n"#)), Field("e", .string("")),
            ]
        )
    }

    @Test func unescapesNames() throws {
        let records = try readAll(#"my\ m\,x,vehicle=v\ 1,tag\=k=a\,b\=c f\ k=1,a\b=2 1"#, name: "x.lp")
        #expect(
            records == [
                try record(
                    "v 1",
                    1,
                    provider: "my m,x",
                    [("tag=k", .string("a,b=c")), ("f k", .double(1)), (#"a\b"#, .double(2))]
                )
            ]
        )
    }

    @Test func skipsCommentsAndBlankLinesAndHonoursOptions() throws {
        let text = """
            # a comment

              m,unit=u1,region=eu speed=1   42\r
            \t# indented comment
            m,unit=u2 speed=2 43
            """
        let options = InputOptions(provider: "navixy", vehicleKey: "unit", precision: .seconds)
        #expect(
            try readAll(text, name: "x.txt", options: options) == [
                try record("u1", 42_000, provider: "navixy", [("region", .string("eu")), ("speed", .double(1))]),
                try record("u2", 43_000, provider: "navixy", [("speed", .double(2))]),
            ]
        )
    }

    @Test(arguments: [
        ("1704067200123456789", TimestampPrecision.nanoseconds, Int64(1_704_067_200_123)),
        ("1704067200123456", .microseconds, 1_704_067_200_123),
        ("1704067200123", .milliseconds, 1_704_067_200_123),
        ("1704067200", .seconds, 1_704_067_200_000),
        ("-1", .nanoseconds, -1),
        ("-1000000", .nanoseconds, -1),
        ("-1000001", .nanoseconds, -2),
        ("-5", .seconds, -5_000),
    ])
    func convertsPrecisions(text: String, precision: TimestampPrecision, expected: Int64) throws {
        let records = try readAll(
            "m,vehicle=v x=1 \(text)\n",
            name: "x.influx",
            options: InputOptions(precision: precision)
        )
        #expect(records.map(\.timestamp) == [expected])
    }

    @Test(arguments: [
        ("m,vehicle=v1 x=1", "x.lp:3: missing timestamp"),
        ("m,vehicle=v1 x=1   ", "x.lp:3: missing timestamp"),
        ("m,vehicle=v1", "x.lp:3: missing fields"),
        ("m,vehicle=v1 ", "x.lp:3: missing fields"),
        (",vehicle=v1 x=1 1", "x.lp:3: missing measurement"),
        ("m x=1 1", "x.lp:3: missing tag \"vehicle\""),
        ("m,vehicle= x=1 1", "x.lp:3: tag \"vehicle\" has no value"),
        ("m,vehicle x=1 1", "x.lp:3: tag \"vehicle\" has no value"),
        ("m,=v x=1 1", "x.lp:3: tag with an empty key"),
        ("m,vehicle=v1,vehicle=v2 x=1 1", "x.lp:3: duplicate tag \"vehicle\""),
        ("m,vehicle=\(String(repeating: "v", count: 65)) x=1 1", "x.lp:3: vehicle id is 65 bytes long (max 64)"),
        (
            "m,vehicle=v1 speed=fast 1",
            "x.lp:3: field \"speed\": invalid value \"fast\" (strings must be double-quoted)"
        ),
        ("m,vehicle=v1 n=1.5i 1", "x.lp:3: field \"n\": invalid value \"1.5i\" (strings must be double-quoted)"),
        ("m,vehicle=v1 n=9223372036854775808i 1", "x.lp:3: field \"n\": integer 9223372036854775808i is out of range"),
        (
            "m,vehicle=v1 n=-9223372036854775809i 1",
            "x.lp:3: field \"n\": integer -9223372036854775809i is out of range"
        ),
        (
            "m,vehicle=v1 u=9223372036854775808u 1",
            "x.lp:3: field \"u\": unsigned 9223372036854775808u does not fit in a signed 64-bit int"
        ),
        ("m,vehicle=v1 u=-1u 1", "x.lp:3: field \"u\": invalid value \"-1u\" (strings must be double-quoted)"),
        ("m,vehicle=v1 d=1e400 1", "x.lp:3: field \"d\": number 1e400 is out of range"),
        ("m,vehicle=v1 s=\"open 1", "x.lp:3: field \"s\": unterminated string"),
        ("m,vehicle=v1 s=\"a\"b 1", "x.lp:3: field \"s\": text after the closing quote"),
        ("m,vehicle=v1 x= 1", "x.lp:3: field \"x\" has no value"),
        ("m,vehicle=v1 x 1", "x.lp:3: field \"x\" has no value"),
        ("m,vehicle=v1 x=1, 1", "x.lp:3: field with an empty key"),
        ("m,vehicle=v1 =1 1", "x.lp:3: field with an empty key"),
        ("m,vehicle=v1 x=1,x=2 1", "x.lp:3: duplicate field \"x\""),
        ("m,vehicle=v1,x=a x=2 1", "x.lp:3: duplicate field \"x\""),
        ("m,vehicle=v1 x=1 12:00", "x.lp:3: invalid timestamp \"12:00\": expected an integer (ms)"),
        (
            "m,vehicle=v1 x=1 2024-01-01T00:00:00Z",
            "x.lp:3: invalid timestamp \"2024-01-01T00:00:00Z\": expected an integer (ms)"
        ),
        ("m,vehicle=v1 x=1 1 2", "x.lp:3: unexpected text after the timestamp"),
        ("m,vehicle=v1 x=1 99999999999999999999", "x.lp:3: timestamp 99999999999999999999 ms is out of range"),
    ])
    func reportsBadInput(line: String, expected: String) throws {
        #expect(try readError("# header\nm,vehicle=ok x=1 1\n\(line)\nm,vehicle=ok x=1 2\n", name: "x.lp") == expected)
    }

    @Test func reportsSecondsOverflow() throws {
        let error = try readError(
            "m,vehicle=v1 x=1 9223372036854775807\n",
            name: "x.lp",
            options: InputOptions(precision: .seconds)
        )
        #expect(error == "x.lp:1: timestamp 9223372036854775807 s is out of range")
    }
}
