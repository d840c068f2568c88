import TelemetryCLI
import TelemetryCore
import Testing

@Suite struct JSONLinesInputTests {
    @Test func readsEveryValueType() throws {
        let records = try readAll(
            #"""
            {"vehicle":"v1","timestamp":1704067200000,"i":12,"d":12.0,"e":1e3,"neg":-5,"t":true,"f":false,"s":"x","n":null,"a":[1,2.5,"x",true,null,[0]]}

            """#,
            name: "x.jsonl"
        )
        #expect(
            records == [
                try record(
                    "v1",
                    1_704_067_200_000,
                    [
                        ("i", .int(12)), ("d", .double(12)), ("e", .double(1000)), ("neg", .int(-5)),
                        ("t", .bool(true)), ("f", .bool(false)), ("s", .string("x")), ("n", .null),
                        ("a", .array([.int(1), .double(2.5), .string("x"), .bool(true), .null, .array([.int(0)])])),
                    ]
                )
            ]
        )
    }

    /// Bytes, which JSON has not, are `{"base64": "..."}` both ways: what query writes
    /// reads back as bytes (a bare base64 string would come back as a string).
    @Test("bytes round-trip through JSON lines as {\"base64\": ...}, in arrays too")
    func bytesRoundTrip() throws {
        let fields = [Field("raw", .bytes([0, 1, 0xFE, 0xFF])), Field("frames", .array([.bytes([]), .bytes([0x41]), .int(3)]))]
        let record = TelemetryRecord(
            vehicle: try VehicleID("v1"), timestamp: 5, fields: fields,
            provenance: Provenance(provider: "gw", mappingVersion: "identity", receivedAt: 6))
        var writer = RecordWriter(format: .jsonl)
        let text = writer.write([record]) + writer.finish()
        #expect(text.contains(#""raw":{"base64":"AAH+/w=="}"#), "\(text)")
        let back = try readAll(text, name: "x.jsonl")
        #expect(back.first?.fields.sorted { $0.name < $1.name } == fields.sorted { $0.name < $1.name })
        #expect(back.first?.provider == "gw")
    }

    @Test("keys beside a fields object are left out, and said once, with the first line of each")
    func keysBesideFieldsAreNamed() throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile(
                #"""
                {"vehicle":"v","ts":1,"fields":{"x":1}}
                {"vehicle":"v","ts":2,"fields":{"x":1},"x":2,"reason":"r"}
                {"vehicle":"v","ts":3,"fields":{"x":1},"reason":"r","id":"7"}
                {"vehicle":"v","ts":4,"y":5}
                """#, named: "a.jsonl", in: directory)
            let reader = try RecordFileReader(path: path)
            var records: [ProviderRecord] = []
            while let batch = try reader.nextBatch(maxRecords: 10) { records += batch }
            #expect(records.map(\.fields) == [[Field("x", .int(1))], [Field("x", .int(1))], [Field("x", .int(1))], [Field("y", .int(5))]])
            #expect(
                reader.notes == [
                    path + #": keys beside a "fields" object are not fields, and were left out: "x", "reason", "id" (first at line 2); "#
                        + #"put them in "fields" to store them"#
                ])
        }
        // An integer past Int64 is kept as a double, and said.
        try withTemporaryDirectory { directory in
            let path = try writeFile(
                #"""
                {"vehicle":"v","ts":1,"big":9223372036854775807,"fields2":1}
                {"vehicle":"v","ts":2,"big":9223372036854775808,"list":[1,18446744073709551616]}
                """#, named: "c.jsonl", in: directory)
            let reader = try RecordFileReader(path: path)
            var records: [ProviderRecord] = []
            while let batch = try reader.nextBatch(maxRecords: 10) { records += batch }
            #expect(records[0].fields.first == Field("big", .int(.max)))
            #expect(records[1].fields.first == Field("big", .double(9_223_372_036_854_775_808)))
            #expect(
                reader.notes == [
                    path + #": integers beyond 64 bits were read as doubles, rounded: "big", "list" (first at line 2); "#
                        + "send them as strings to keep every digit"
                ])
        }
        #expect(try withTemporaryDirectory { directory in
            let reader = try RecordFileReader(path: try writeFile(#"{"vehicle":"v","ts":1,"fields":{"x":1},"provenance":null}"#, named: "b.jsonl", in: directory))
            _ = try reader.nextBatch(maxRecords: 10)
            return reader.notes
        }.isEmpty, "provenance is read, not left out")
    }

    @Test("without --gateway-id, ingest stops at a line with a sequence instead of sending what the server refuses")
    func sequenceNeedsGatewayID() throws {
        var options = InputOptions()
        options.refusesSequences = true
        let text = "{\"vehicle\":\"v\",\"ts\":1,\"x\":1}\n{\"vehicle\":\"v\",\"ts\":2,\"sequence\":3,\"x\":1}\n"
        #expect(
            try readError(text, name: "x.jsonl", options: options)
                == #"x.jsonl:2: key "sequence": a gateway sequence needs --gateway-id (the server refuses one without it)"#)
        #expect(try readAll(text, name: "x.jsonl").last?.gatewaySequence == 3)
        // 0 is "no sequence" on the wire, which the server takes without a gateway id.
        #expect(try readError("{\"vehicle\":\"v\",\"ts\":1,\"sequence\":0,\"x\":1}\n", name: "x.jsonl", options: options) == nil)
    }

    /// The trap of `JSONSerialization`: `true` and `1` are both `NSNumber` there.
    @Test func tellsBooleansFromNumbersAndIntegersFromDoubles() throws {
        let records = try readAll(
            #"{"vehicle":"v1","ts":1,"b":true,"one":1,"zero":0,"f":false,"oneDouble":1.0,"zeroDouble":0.0}"#,
            name: "x.jsonl"
        )
        let fields = try #require(records.first).fields
        #expect(
            fields == [
                Field("b", .bool(true)), Field("one", .int(1)), Field("zero", .int(0)), Field("f", .bool(false)),
                Field("oneDouble", .double(1)), Field("zeroDouble", .double(0)),
            ]
        )
    }

    @Test func keepsLargeIntegersAsDoubles() throws {
        let records = try readAll(
            #"{"vehicle":"v1","ts":1,"max":9223372036854775807,"min":-9223372036854775808,"big":18446744073709551615}"#,
            name: "x.jsonl"
        )
        // 2^64 - 1 rounds to the nearest double, 2^64.
        #expect(
            records.first?.fields == [
                Field("max", .int(.max)), Field("min", .int(.min)), Field("big", .double(18_446_744_073_709_551_616)),
            ]
        )
    }

    @Test func readsTheFieldsObjectAndMetadata() throws {
        let records = try readAll(
            #"""
            {"vehicle_id":"v1","time":"2024-01-01T00:00:00.250Z","provider":"navixy","sequence":7,"fields":{"speed":3,"fields":"x"},"provenance":{"provider":"ignored"}}
            {"vehicle":42,"timestamp":"1704067200","provider":null,"sequence":null,"speed":4}
            """#,
            name: "x.ndjson",
            options: InputOptions(precision: .seconds)
        )
        #expect(
            records == [
                try record(
                    "v1",
                    1_704_067_200_250,
                    provider: "navixy",
                    sequence: 7,
                    [("speed", .int(3)), ("fields", .string("x"))]
                ),
                try record("42", 1_704_067_200_000, [("speed", .int(4))]),
            ]
        )
    }

    @Test("the provider: the top-level key, else query's provenance of an unmapped record, and --provider over both")
    func providerFromProvenance() throws {
        let text = #"""
            {"vehicle":"v","timestamp":"2024-01-01T00:00:00.000Z","fields":{"a":1},"provenance":{"provider":"navixy","mapping_version":"identity","received_at":"2024-01-01T00:00:01.000Z"}}
            {"vehicle":"v","timestamp":2,"provider":"teltonika","fields":{"a":2},"provenance":{"provider":"navixy","mapping_version":"identity"}}
            {"vehicle":"v","timestamp":3,"fields":{"a":3}}
            {"vehicle":"v","timestamp":4,"fields":{"speed":3},"provenance":{"provider":"navixy","mapping_version":"1.0.3"}}
            """#
        // The last one was mapped (canonical names): read as generic, not mapped as navixy again.
        #expect(try readAll(text, name: "x.jsonl").map(\.provider) == ["navixy", "teltonika", "generic", "generic"])
        #expect(try readAll(text, name: "x.jsonl", options: InputOptions(provider: "acme")).map(\.provider) == ["acme", "acme", "acme", "acme"])
        #expect(throws: (any Error).self) {
            try readAll(#"{"vehicle":"v","timestamp":1,"fields":{"a":1},"provenance":{"provider":5,"mapping_version":"identity"}}"#, name: "x.jsonl")
        }
        // A reserved key, never a field: null is absent, anything but an object is an error.
        #expect(try readAll(#"{"vehicle":"v","timestamp":1,"a":1,"provenance":null}"#, name: "x.jsonl").first?.fields == [Field("a", .int(1))])
        #expect(throws: (any Error).self) { try readAll(#"{"vehicle":"v","timestamp":1,"a":1,"provenance":"x"}"#, name: "x.jsonl") }
    }

    @Test func decodesStringEscapes() throws {
        let records = try readAll(
            #"{"vehicle":"v\u00e9","ts":1,"s":"\"q\" \\ \/ \n\t\b\f\r \u00e9 \ud83d\ude00 é","ключ":"значение"}"#,
            name: "x.json"
        )
        #expect(records.first?.vehicle.rawValue == "vé")
        #expect(
            records.first?.fields == [
                Field("s", .string("\"q\" \\ / \n\t\u{08}\u{0C}\r é 😀 é")), Field("ключ", .string("значение")),
            ]
        )
    }

    @Test func skipsBlankLinesAndUsesOptions() throws {
        let records = try readAll(
            "\n  \n{\"unit\":\"u1\",\"at\":1500,\"vehicle\":\"car\"}\r\n\n",
            name: "x.jsonl",
            options: InputOptions(
                provider: "teltonika",
                vehicleKey: "unit",
                timestampKey: "at",
                precision: .microseconds
            )
        )
        #expect(records == [try record("u1", 1, provider: "teltonika", [("vehicle", .string("car"))])])
    }

    @Test(arguments: [
        (#"{"vehicle":"v1",}"#, "x.jsonl:1: invalid JSON at column 17: expected a string key"),
        (#"{"vehicle":"v1""#, "x.jsonl:1: invalid JSON at column 16: expected ',' or '}'"),
        (#"{"vehicle":"v1"} x"#, "x.jsonl:1: invalid JSON at column 18: unexpected text after the value"),
        (#"{"vehicle":"v1","ts":012}"#, "x.jsonl:1: invalid JSON at column 23: invalid number"),
        (#"{"vehicle":"v1","ts":tru}"#, "x.jsonl:1: invalid JSON at column 22: invalid literal (expected true)"),
        (#"{"vehicle":"v1,"ts":1}"#, "x.jsonl:1: invalid JSON at column 17: expected ',' or '}'"),
        (#"{"vehicle":"v1","x":"\ud800"}"#, "x.jsonl:1: invalid JSON at column 28: unpaired surrogate in \\u escape"),
        (#"{"vehicle":"v1","x":"\q"}"#, "x.jsonl:1: invalid JSON at column 23: invalid escape '\\q'"),
        (#"{"vehicle":"v1","x":"a"#, "x.jsonl:1: invalid JSON at column 23: unterminated string"),
        (
            "{\"vehicle\":\"v1\",\"x\":\"a\tb\"}",
            "x.jsonl:1: invalid JSON at column 23: control character in a string (escape it)"
        ),
        (#"[1,2]"#, "x.jsonl:1: expected a JSON object, found an array"),
        (#"{"timestamp":1,"x":1}"#, "x.jsonl:1: missing key \"vehicle\""),
        (#"{"vehicle":"v1","x":1}"#, "x.jsonl:1: missing key \"timestamp\""),
        (#"{"vehicle":true,"ts":1,"x":1}"#, "x.jsonl:1: key \"vehicle\": expected a string, found a boolean"),
        (
            #"{"vehicle":"v","vehicle_id":"w","ts":1,"x":1}"#,
            "x.jsonl:1: keys \"vehicle\" and \"vehicle_id\" both name the vehicle"
        ),
        (#"{"vehicle":"v","ts":1,"time":2,"x":1}"#, "x.jsonl:1: keys \"ts\" and \"time\" both name the timestamp"),
        (#"{"vehicle":"v1","ts":1.5,"x":1}"#, "x.jsonl:1: key \"ts\": timestamp 1.5 is not an integer"),
        (#"{"vehicle":"v1","ts":true,"x":1}"#, "x.jsonl:1: key \"ts\": expected a number or a string, found a boolean"),
        (
            #"{"vehicle":"v1","ts":"noon","x":1}"#,
            "x.jsonl:1: key \"ts\": invalid timestamp \"noon\": expected an integer (ms) or RFC 3339 text"
        ),
        (#"{"vehicle":"v1","ts":1,"pos":{"lat":1}}"#, "x.jsonl:1: key \"pos\": nested objects are not supported (bytes are written {\"base64\": \"...\"})"),
        (#"{"vehicle":"v1","ts":1,"list":[1,{"a":1}]}"#, "x.jsonl:1: key \"list\": nested objects are not supported (bytes are written {\"base64\": \"...\"})"),
        (
            #"{"vehicle":"v1","ts":1,"fields":{"pos":{}}}"#,
            "x.jsonl:1: key \"fields.pos\": nested objects are not supported (bytes are written {\"base64\": \"...\"})"
        ),
        (#"{"vehicle":"v1","ts":1,"b":{"base64":"AQ","x":1}}"#, #"x.jsonl:1: key "b": nested objects are not supported (bytes are written {"base64": "..."})"#),
        // The server refuses these for the whole batch (its field names are the columns).
        (#"{"vehicle":"v1","ts":1,"":1}"#, "x.jsonl:1: a field name is empty"),
        (
            #"{"vehicle":"v1","ts":1,"\#(String(repeating: "n", count: 256))":1}"#,
            #"x.jsonl:1: field name "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn..." is longer than 255 bytes"#
        ),
        (#"{"vehicle":"v1","ts":1,"b":{"base64":7}}"#, #"x.jsonl:1: key "b": "base64" must be a string, found 7"#),
        (#"{"vehicle":"v1","ts":1,"b":{"base64":"not base64!"}}"#, #"x.jsonl:1: key "b": "base64" is not valid base64"#),
        (#"{"vehicle":"v1","ts":1,"fields":[1]}"#, "x.jsonl:1: key \"fields\": expected an object, found an array"),
        (
            #"{"vehicle":"v1","ts":1,"sequence":-1,"x":1}"#,
            "x.jsonl:1: key \"sequence\": expected a non-negative integer, found -1"
        ),
        (
            #"{"vehicle":"v1","ts":1,"sequence":"7","x":1}"#,
            "x.jsonl:1: key \"sequence\": expected a non-negative integer, found a string"
        ),
        (#"{"vehicle":"v1","ts":1,"provider":"","x":1}"#, "x.jsonl:1: key \"provider\": provider is empty"),
        (
            #"{"vehicle":"v1","ts":1,"provider":3,"x":1}"#,
            "x.jsonl:1: key \"provider\": expected a string, found a number"
        ),
        (#"{"vehicle":"v1","ts":1}"#, "x.jsonl:1: record has no fields"),
        (#"{"vehicle":"v1","ts":1,"fields":{},"x":1}"#, "x.jsonl:1: record has no fields"),
        (#"{"vehicle":"v1","ts":1,"x":1,"x":2}"#, "x.jsonl:1: duplicate key \"x\""),
        (#"{"vehicle":"v1","ts":1,"x":1e400}"#, "x.jsonl:1: key \"x\": number 1e400 is out of range"),
        (#"{"vehicle":"v1","ts":1e400,"x":1}"#, "x.jsonl:1: key \"ts\": timestamp 1e400 is not an integer"),
        (
            #"{"vehicle":"v1","ts":99999999999999999999,"x":1}"#,
            "x.jsonl:1: key \"ts\": timestamp 99999999999999999999 ms is out of range"
        ),
    ])
    func reportsBadInput(text: String, expected: String) throws {
        #expect(try readError(text, name: "x.jsonl") == expected)
    }

    @Test func reportsTheLineOfAnEmptyVehicleId() throws {
        let good = #"{"vehicle":"v1","ts":1,"x":1}"#
        let text = [good, "", good, good, "", good, good, good, #"{"vehicle":"","ts":1,"x":1}"#].joined(separator: "\n")
        #expect(try readError(text, name: "x.jsonl") == "x.jsonl:9: vehicle id is empty")
    }

    @Test func refusesDeepNesting() throws {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let error = try readError(#"{"vehicle":"v1","ts":1,"x":\#(deep)}"#, name: "x.jsonl")
        #expect(error == "x.jsonl:1: invalid JSON at column 91: nested deeper than 64 levels")
    }
}
