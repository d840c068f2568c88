import TelemetryCLI
import TelemetryCore
import Testing

/// Two records with different fields, the second lacking some of the first's.
private func sampleRecords() throws -> [TelemetryRecord] {
    let provenance = Provenance(provider: "navixy", mappingVersion: "v3", receivedAt: 1_704_067_260_000)
    return [
        TelemetryRecord(
            vehicle: try VehicleID("v1"),
            timestamp: 1_704_067_200_000,
            fields: [
                Field("speed", .double(42.5)), Field("ignition", .bool(true)), Field("note", .string("a, \"b\"")),
            ],
            provenance: provenance
        ),
        TelemetryRecord(
            vehicle: try VehicleID("truck-22"),
            timestamp: 1_704_067_201_500,
            fields: [Field("speed", .int(7)), Field("odometer", .double(12))],
            provenance: Provenance(provider: "generic", mappingVersion: "identity", receivedAt: 0)
        ),
    ]
}

@Suite struct RecordRenderingTests {
    @Test func rendersATable() throws {
        #expect(
            render(records: try sampleRecords(), format: .table) == """
                vehicle   timestamp                 speed  ignition  note    odometer
                v1        2024-01-01T00:00:00.000Z  42.5   true      a, "b"
                truck-22  2024-01-01T00:00:01.500Z  7                        12.0

                """
        )
    }

    @Test func rendersCSV() throws {
        #expect(
            render(records: try sampleRecords(), format: .csv) == #"""
                vehicle,timestamp,speed,ignition,note,odometer
                v1,2024-01-01T00:00:00.000Z,42.5,true,"a, ""b""",
                truck-22,2024-01-01T00:00:01.500Z,7,,,12.0

                """#
        )
    }

    @Test func rendersJSONLines() throws {
        #expect(
            render(records: try sampleRecords(), format: .jsonl) == #"""
                {"vehicle":"v1","timestamp":"2024-01-01T00:00:00.000Z","fields":{"ignition":true,"note":"a, \"b\"","speed":42.5},"provenance":{"provider":"navixy","mapping_version":"v3","received_at":"2024-01-01T00:01:00.000Z"}}
                {"vehicle":"truck-22","timestamp":"2024-01-01T00:00:01.500Z","fields":{"odometer":12.0,"speed":7},"provenance":{"provider":"generic","mapping_version":"identity","received_at":"1970-01-01T00:00:00.000Z"}}

                """#
        )
    }

    @Test func selectsFields() throws {
        let records = try sampleRecords()
        #expect(
            render(records: records, format: .csv, fields: ["odometer", "speed", "missing"]) == """
                vehicle,timestamp,odometer,speed,missing
                v1,2024-01-01T00:00:00.000Z,,42.5,
                truck-22,2024-01-01T00:00:01.500Z,12.0,7,

                """
        )
        let jsonl = render(records: records, format: .jsonl, fields: ["odometer", "speed"])
        #expect(jsonl.contains(#""fields":{"speed":42.5},"#))
        #expect(jsonl.contains(#""fields":{"odometer":12.0,"speed":7},"#))
        // A record with none of the named fields is no line (ingest reads every line back).
        let odometerOnly = render(records: records, format: .jsonl, fields: ["odometer"])
        #expect(odometerOnly.split(separator: "\n").count == 1 && odometerOnly.contains(#""vehicle":"truck-22""#))
    }

    @Test func rendersEveryValueType() throws {
        let values: [FieldValue] = [
            .null, .bool(false), .int(.min), .double(0.1), .double(1e20), .double(-0.0),
            .double(.leastNonzeroMagnitude),
            .double(.nan), .double(-.infinity), .string("line\nbreak\ttab"), .bytes([0, 1, 2, 0xFF]),
            .array([.int(1), .array([.string("x"), .null]), .double(.infinity)]),
        ]
        let record = TelemetryRecord(
            vehicle: try VehicleID("v"),
            timestamp: 0,
            fields: values.enumerated().map { Field("f\($0.offset)", $0.element) },
            provenance: Provenance(provider: "p", mappingVersion: "m", receivedAt: 0)
        )
        let jsonl = render(records: [record], format: .jsonl)
        #expect(
            jsonl.contains(
                #""fields":{"f0":null,"f1":false,"f10":{"base64":"AAEC/w=="},"f11":[1,["x",null],null],"f2":-9223372036854775808,"f3":0.1,"f4":1e+20,"f5":-0.0,"f6":5e-324,"f7":null,"f8":null,"f9":"line\nbreak\ttab"}"#
            )
        )
        let csvRow = render(records: [record], format: .csv).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(
            csvRow[1] == #"v,1970-01-01T00:00:00.000Z,,false,-9223372036854775808,0.1,1e+20,-0.0,5e-324,nan,-inf,"line"#
        )
        #expect(csvRow[2] == #"break\#ttab",AAEC/w==,"[1,[""x"",null],null]""#)
        let table = render(records: [record], format: .table)
        #expect(table.split(separator: "\n").count == 2)
        #expect(
            table.contains(
                #"null  false  -9223372036854775808  0.1  1e+20  -0.0  5e-324  nan  -inf  line\nbreak\ttab  AAEC/w==  [1,["x",null],null]"#
            )
        )
    }

    @Test("JSON lines: a record prints the same whatever the order of its fields in the answer")
    func jsonFieldOrderIsStable() throws {
        let provenance = Provenance(provider: "p", mappingVersion: "m", receivedAt: 0)
        let fields = [Field("speed", .double(1)), Field("a", .int(2)), Field("odometer", .int(3))]
        let lines = try [fields, fields.reversed()].map { f in
            render(records: [TelemetryRecord(vehicle: try VehicleID("v"), timestamp: 0, fields: f, provenance: provenance)], format: .jsonl)
        }
        #expect(lines[0] == lines[1])
        #expect(lines[0].contains(#""fields":{"a":2,"odometer":3,"speed":1.0}"#))
    }

    @Test func rendersNoRecords() {
        #expect(render(records: [], format: .table) == "vehicle  timestamp\n")
        #expect(render(records: [], format: .csv, fields: ["a", "b"]) == "vehicle,timestamp,a,b\n")
        #expect(render(records: [], format: .jsonl) == "")
    }

    /// What `query --format jsonl` prints, `ingest` reads back.
    @Test func jsonLinesOutputReadsBackIn() throws {
        let records = try sampleRecords()
        let parsed = try readAll(render(records: records, format: .jsonl), name: "x.jsonl")
        #expect(parsed.map(\.vehicle) == records.map(\.vehicle))
        #expect(parsed.map(\.timestamp) == records.map(\.timestamp))
        // The same fields and values; JSON lines lists them by name.
        #expect(parsed.map(\.fields) == records.map { $0.fields.sorted { $0.name < $1.name } })
    }
}

@Suite struct RecordWriterTests {
    @Test func writesTheHeaderOnceAndGrowsColumns() throws {
        let records = try sampleRecords()
        var writer = RecordWriter(format: .table)
        #expect(writer.write([]) == "")
        #expect(
            writer.write([records[1]]) == """
                vehicle   timestamp                 speed  odometer
                truck-22  2024-01-01T00:00:01.500Z  7      12.0

                """
        )
        #expect(writer.write([records[0]]) == "v1        2024-01-01T00:00:00.000Z  42.5\n")
        #expect(writer.droppedFields == ["ignition", "note"])
        #expect(writer.finish() == "")
    }

    @Test func writesCSVPages() throws {
        let records = try sampleRecords()
        var writer = RecordWriter(format: .csv, fields: ["speed"])
        var text = writer.write([records[0]])
        text += writer.write([records[1]])
        text += writer.finish()
        #expect(
            text == """
                vehicle,timestamp,speed
                v1,2024-01-01T00:00:00.000Z,42.5
                truck-22,2024-01-01T00:00:01.500Z,7

                """
        )
        #expect(writer.droppedFields.isEmpty)
    }

    @Test func writesJSONLinesPagesWithoutDropping() throws {
        let records = try sampleRecords()
        var writer = RecordWriter(format: .jsonl)
        let text = writer.write([records[1]]) + writer.write([records[0]]) + writer.finish()
        #expect(text == render(records: [records[1], records[0]], format: .jsonl))
        #expect(writer.droppedFields.isEmpty)
    }

    @Test func printsTheHeaderForAnEmptyResult() {
        var writer = RecordWriter(format: .table, fields: ["speed"])
        #expect(writer.write([]) == "")
        #expect(writer.finish() == "vehicle  timestamp  speed\n")
    }
}

@Suite struct ResultRenderingTests {
    @Test("a table shows canonical datetime fields (ms integers) as times; CSV, JSON lines and other fields keep the integer")
    func canonicalTimesInTables() throws {
        let latest = [
            LatestState(
                vehicle: try VehicleID("v1"), timestamp: 5_000,
                fields: [
                    LatestField(name: "ignition_last_changed_at", value: .int(86_400_000), timestamp: 5_000),
                    LatestField(name: "odometer_value", value: .int(86_400_000), timestamp: 5_000),
                    LatestField(name: "last_updated_at", value: .string("x"), timestamp: 5_000),
                ])
        ]
        let table = render(latest: latest, format: .table)
        #expect(table.contains("ignition_last_changed_at  1970-01-02T00:00:00.000Z"), "\(table)")
        #expect(table.contains("odometer_value            86400000"), "\(table)")
        #expect(table.contains("last_updated_at           x"), "\(table)")
        #expect(render(latest: latest, format: .csv).contains("v1,ignition_last_changed_at,86400000,"))
        let record = TelemetryRecord(
            vehicle: try VehicleID("v1"), timestamp: 0, fields: [Field("last_updated_at", .int(1000))],
            provenance: Provenance(provider: "p", mappingVersion: "m", receivedAt: 0))
        #expect(render(records: [record], format: .table).contains("1970-01-01T00:00:01.000Z"))
        #expect(render(records: [record], format: .jsonl).contains(#""last_updated_at":1000"#))
    }

    private func sampleLatest() throws -> [LatestState] {
        [
            LatestState(
                vehicle: try VehicleID("v1"),
                timestamp: 2_000,
                fields: [
                    LatestField(name: "ignition", value: .bool(true), timestamp: 1_000),
                    LatestField(name: "speed", value: .double(3.5), timestamp: 2_000),
                ]
            ),
            LatestState(vehicle: try VehicleID("v2"), timestamp: 3_000, fields: []),
        ]
    }

    @Test func rendersLatestStates() throws {
        let latest = try sampleLatest()
        #expect(
            render(latest: latest, format: .table) == """
                vehicle  field     value  timestamp
                v1       ignition  true   1970-01-01T00:00:01.000Z
                v1       speed     3.5    1970-01-01T00:00:02.000Z
                v2                        1970-01-01T00:00:03.000Z

                """
        )
        #expect(
            render(latest: latest, format: .csv) == """
                vehicle,field,value,timestamp
                v1,ignition,true,1970-01-01T00:00:01.000Z
                v1,speed,3.5,1970-01-01T00:00:02.000Z
                v2,,,1970-01-01T00:00:03.000Z

                """
        )
        #expect(
            render(latest: latest, format: .jsonl) == """
                {"vehicle":"v1","field":"ignition","value":true,"timestamp":"1970-01-01T00:00:01.000Z"}
                {"vehicle":"v1","field":"speed","value":3.5,"timestamp":"1970-01-01T00:00:02.000Z"}
                {"vehicle":"v2","timestamp":"1970-01-01T00:00:03.000Z"}

                """
        )
    }

    @Test func rendersBuckets() throws {
        let buckets = [
            AggregateBucket(
                start: 1_704_067_200_000,
                fields: [
                    FieldAggregate(field: "speed", count: 4, min: 1, max: 4.5, sum: 10, first: 1, last: 4.5),
                    FieldAggregate(field: "rpm", count: 0, min: 0, max: 0, sum: 0, first: 0, last: 0),
                ]
            )
        ]
        let vehicle = try VehicleID("v1")
        #expect(
            render(buckets: buckets, vehicle: vehicle, format: .table) == """
                vehicle  bucket_start              field  count  min  max  avg  sum   first  last
                v1       2024-01-01T00:00:00.000Z  speed  4      1.0  4.5  2.5  10.0  1.0    4.5
                v1       2024-01-01T00:00:00.000Z  rpm    0      0.0  0.0  nan  0.0   0.0    0.0

                """
        )
        #expect(
            render(buckets: buckets, vehicle: vehicle, format: .csv) == """
                vehicle,bucket_start,field,count,min,max,avg,sum,first,last
                v1,2024-01-01T00:00:00.000Z,speed,4,1.0,4.5,2.5,10.0,1.0,4.5
                v1,2024-01-01T00:00:00.000Z,rpm,0,0.0,0.0,nan,0.0,0.0,0.0

                """
        )
        #expect(
            render(buckets: buckets, vehicle: vehicle, format: .jsonl) == """
                {"vehicle":"v1","bucket_start":"2024-01-01T00:00:00.000Z","field":"speed","count":4,"min":1.0,"max":4.5,"avg":2.5,"sum":10.0,"first":1.0,"last":4.5}
                {"vehicle":"v1","bucket_start":"2024-01-01T00:00:00.000Z","field":"rpm","count":0,"min":0.0,"max":0.0,"avg":null,"sum":0.0,"first":0.0,"last":0.0}

                """
        )
        #expect(render(buckets: [], vehicle: vehicle, format: .jsonl) == "")
        // Records, but no numeric value of the fields: the bucket still shows.
        let textOnly = [AggregateBucket(start: 1_704_067_260_000, fields: [])]
        #expect(
            render(buckets: textOnly, vehicle: vehicle, format: .jsonl)
                == "{\"vehicle\":\"v1\",\"bucket_start\":\"2024-01-01T00:01:00.000Z\",\"count\":0}\n")
        #expect(
            render(buckets: textOnly, vehicle: vehicle, format: .csv) == """
                vehicle,bucket_start,field,count,min,max,avg,sum,first,last
                v1,2024-01-01T00:01:00.000Z,,0,,,,,,

                """
        )
    }

    @Test("an integer field's aggregates print as integers, exact past 2^53; avg stays a double")
    func rendersIntegerBuckets() throws {
        let exact = IntegerAggregate(min: 7, max: 9_007_199_254_740_993, sum: 9_007_199_254_741_000, first: 7, last: 9_007_199_254_740_993)
        let buckets = [
            AggregateBucket(
                start: 0,
                fields: [FieldAggregate(field: "n", count: 2, min: 7, max: 9.007199254740992e15, sum: 9.007199254741e15, first: 7, last: 9.007199254740992e15, integers: exact)])
        ]
        let vehicle = try VehicleID("v1")
        #expect(
            render(buckets: buckets, vehicle: vehicle, format: .csv) == """
                vehicle,bucket_start,field,count,min,max,avg,sum,first,last
                v1,1970-01-01T00:00:00.000Z,n,2,7,9007199254740993,4503599627370500.0,9007199254741000,7,9007199254740993

                """
        )
        #expect(
            render(buckets: buckets, vehicle: vehicle, format: .jsonl) == """
                {"vehicle":"v1","bucket_start":"1970-01-01T00:00:00.000Z","field":"n","count":2,"min":7,"max":9007199254740993,"avg":4503599627370500.0,"sum":9007199254741000,"first":7,"last":9007199254740993}

                """
        )
    }

    @Test func rendersVehicles() throws {
        let vehicles = [
            VehicleSummary(
                vehicle: try VehicleID("veh-000001"),
                firstTimestamp: 0,
                lastTimestamp: 86_400_000,
                recordCount: 2
            ),
            VehicleSummary(vehicle: try VehicleID("b"), firstTimestamp: -1, lastTimestamp: -1, recordCount: 1),
        ]
        #expect(
            render(vehicles: vehicles, format: .table) == """
                vehicle     first                     last                      records
                veh-000001  1970-01-01T00:00:00.000Z  1970-01-02T00:00:00.000Z  2
                b           1969-12-31T23:59:59.999Z  1969-12-31T23:59:59.999Z  1

                """
        )
        #expect(
            render(vehicles: vehicles, format: .csv) == """
                vehicle,first,last,records
                veh-000001,1970-01-01T00:00:00.000Z,1970-01-02T00:00:00.000Z,2
                b,1969-12-31T23:59:59.999Z,1969-12-31T23:59:59.999Z,1

                """
        )
        #expect(
            render(vehicles: vehicles, format: .jsonl) == """
                {"vehicle":"veh-000001","first":"1970-01-01T00:00:00.000Z","last":"1970-01-02T00:00:00.000Z","records":2}
                {"vehicle":"b","first":"1969-12-31T23:59:59.999Z","last":"1969-12-31T23:59:59.999Z","records":1}

                """
        )
        #expect(render(vehicles: [], format: .table) == "vehicle  first  last  records\n")
    }
}
