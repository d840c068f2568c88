import Foundation
import TelemetryCore
import Testing

@testable import TelemetryCLI

@Suite struct RecordFileReaderTests {
    @Test(arguments: [
        ("telemetry.csv", InputFormat?.some(.csv)), ("x.jsonl", .jsonl), ("x.ndjson", .jsonl), ("x.json", .jsonl),
        ("x.lp", .lineProtocol), ("dir/x.txt", .lineProtocol), ("X.INFLUX", .lineProtocol), ("a.b/c.Csv", .csv),
        ("x", nil), ("x.dat", nil), ("a.csv/x", nil), (".csv", nil), ("x.csv.gz", nil),
    ])
    func detectsFormats(path: String, expected: InputFormat?) {
        #expect(InputFormat(detectingFrom: path) == expected)
    }

    @Test func refusesUnknownExtensionsAndMissingFiles() throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile("x", named: "x.dat", in: directory)
            #expect {
                _ = try RecordFileReader(path: path)
            } throws: { error in
                guard let error = error as? InputError else { return false }
                return error.code == .unknownFormat && error.line == nil
                    && error.description
                        == "\(path): cannot tell the format from the file name (known extensions: .csv, .jsonl, .ndjson, .json, .lp, .txt, .influx)"
            }
            // An explicit format overrides the extension.
            _ = try RecordFileReader(path: path, format: .lineProtocol)

            #expect {
                _ = try RecordFileReader(path: directory + "/missing.lp")
            } throws: { error in
                (error as? InputError)?.description == "\(directory)/missing.lp: cannot open: No such file or directory"
                    && (error as? InputError)?.code == .cannotRead
            }
            let subdirectory = directory + "/sub.csv"
            try FileManager.default.createDirectory(atPath: subdirectory, withIntermediateDirectories: false)
            #expect {
                _ = try RecordFileReader(path: subdirectory)
            } throws: { error in
                (error as? InputError)?.description == "\(subdirectory): is a directory"
            }
            #expect {
                _ = try RecordFileReader(path: "-")
            } throws: { error in
                (error as? InputError)?.description == "<stdin>: the format of standard input must be given"
            }
        }
    }

    @Test func returnsBatchesAndTracksProgress() throws {
        try withTemporaryDirectory { directory in
            let text = (1...10).map { "m,vehicle=v x=\($0) \($0)\n" }.joined()
            let path = try writeFile(text, named: "x.lp", in: directory)
            let reader = try RecordFileReader(path: path)
            #expect(reader.totalBytes == Int64(text.utf8.count))
            #expect(reader.bytesRead == 0)
            var sizes: [Int] = []
            var timestamps: [Int64] = []
            while let batch = try reader.nextBatch(maxRecords: 3) {
                sizes.append(batch.count)
                timestamps += batch.map(\.timestamp)
                #expect(reader.bytesRead <= reader.totalBytes ?? 0)
            }
            #expect(sizes == [3, 3, 3, 1])
            #expect(timestamps == Array(1...10))
            #expect(reader.bytesRead == Int64(text.utf8.count))
            #expect(reader.linesRead == 10)
            #expect(try reader.nextBatch(maxRecords: 3) == nil)
        }
    }

    /// Tiny chunks put line ends, CRLF pairs and multi-byte characters across buffer refills.
    @Test(arguments: [1, 2, 3, 7, 64])
    func readsTheSameWhateverTheChunkSize(chunkSize: Int) throws {
        let text =
            "m,vehicle=v1 s=\"é😀\" 1\r\n\r\n# comment\nm,vehicle=v2 x=1 2\n"
            + "m,vehicle=\(String(repeating: "w", count: 60)) x=3 3"
        try withTemporaryDirectory { directory in
            let path = try writeFile(text, named: "x.lp", in: directory)
            let reader = try RecordFileReader(path: path, format: nil, options: InputOptions(), chunkSize: chunkSize)
            var records: [ProviderRecord] = []
            while let batch = try reader.nextBatch(maxRecords: 2) { records += batch }
            #expect(
                records == [
                    try record("v1", 1, provider: "m", [("s", .string("é😀"))]),
                    try record("v2", 2, provider: "m", [("x", .double(1))]),
                    try record(String(repeating: "w", count: 60), 3, provider: "m", [("x", .double(3))]),
                ]
            )
            #expect(reader.bytesRead == Int64(text.utf8.count))
        }
    }

    @Test func carriesOnAfterABadRecord() throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile(
                "m,vehicle=v x=1 1\nm,vehicle=v x=2\nm,vehicle=v x=3 3\n",
                named: "x.lp",
                in: directory
            )
            let reader = try RecordFileReader(path: path)
            #expect {
                _ = try reader.nextBatch(maxRecords: 10)
            } throws: { error in
                (error as? InputError)
                    == InputError(
                        code: .invalidRecord,
                        file: path,
                        line: 2,
                        message: "missing timestamp",
                        isRecoverable: true
                    )
            }
            // The record parsed before the failure is not lost.
            #expect(try reader.nextBatch(maxRecords: 10)?.map(\.timestamp) == [1, 3])
            #expect(try reader.nextBatch(maxRecords: 10) == nil)
        }
    }

    @Test func refusesOverlongLines() throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile(
                "m,vehicle=v x=1 1\n" + String(repeating: "x", count: 100),
                named: "x.lp",
                in: directory
            )
            let reader = try RecordFileReader(
                path: path,
                format: nil,
                options: InputOptions(),
                chunkSize: 16,
                maxLineBytes: 40
            )
            for _ in 0..<2 {
                #expect {
                    _ = try reader.nextBatch(maxRecords: 10)
                } throws: { error in
                    (error as? InputError)?.description == "\(path):2: line longer than 40 bytes (not a text file?)"
                        && (error as? InputError)?.isRecoverable == false
                }
            }
        }
    }

    /// A few thousand lines of the shared benchmark dataset, when it is on this machine.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/tmp/peers-data/telemetry.lp")))
    func readsTheBenchmarkDataset() throws {
        let lineCount = 5_000
        try withTemporaryDirectory { directory in
            // Copy the head of the file: the test must not depend on the full 463 MB.
            let source = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/tmp/peers-data/telemetry.lp"))
            defer { try? source.close() }
            let head = try #require(try source.read(upToCount: 4 << 20))
            // The last piece may be a partial line; lines are about 230 bytes, so 4 MiB holds plenty.
            let lines = head.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                .dropLast().prefix(lineCount)
            try #require(lines.count == lineCount)
            var sample = Data()
            for line in lines {
                sample.append(contentsOf: line)
                sample.append(UInt8(ascii: "\n"))
            }
            let path = directory + "/telemetry.lp"
            try sample.write(to: URL(fileURLWithPath: path))

            let reader = try RecordFileReader(path: path)
            var records: [ProviderRecord] = []
            while let batch = try reader.nextBatch(maxRecords: 1_000) { records += batch }
            #expect(records.count == lineCount)
            let expectedNames = [
                "lat", "lon", "speed_kmh", "heading_deg", "altitude_m", "odometer_km", "fuel_level_pct",
                "battery_v", "engine_rpm", "ignition", "satellites", "hdop",
            ]
            for record in records {
                #expect(record.provider == "telemetry")
                #expect(record.vehicle.rawValue.hasPrefix("veh-"))
                #expect(record.fields.map(\.name) == expectedNames)
                #expect(
                    record.fields.map(\.value.typeName) == [
                        "double", "double", "double", "double", "double", "double", "double", "double",
                        "int64", "bool", "int64", "double",
                    ]
                )
                #expect(record.timestamp >= 1_704_067_200_000)
            }
            #expect(zip(records, records.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
        }
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [
        (Int64(1), TimestampPrecision.nanoseconds, Int64?.some(0)), (-1, .nanoseconds, -1), (999_999, .nanoseconds, 0),
        (-1_000_000, .nanoseconds, -1), (.min, .nanoseconds, -9_223_372_036_855),
        (1_999, .microseconds, 1), (-1, .microseconds, -1), (7, .milliseconds, 7), (.min, .milliseconds, .min),
        (2, .seconds, 2_000), (-2, .seconds, -2_000), (9_223_372_036_854_775, .seconds, 9_223_372_036_854_775_000),
        (9_223_372_036_854_776, .seconds, nil), (.min, .seconds, nil),
    ])
    func convertsPrecisions(value: Int64, precision: TimestampPrecision, expected: Int64?) {
        #expect(precision.milliseconds(from: value) == expected)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (-1, "1969-12-31T23:59:59.999Z"),
        (1_704_067_200_123, "2024-01-01T00:00:00.123Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"), (253_402_300_800_000, "+10000-01-01T00:00:00.000Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"), (-62_167_219_200_001, "-0001-12-31T23:59:59.999Z"),
        (.max, "+292278994-08-17T07:12:55.807Z"), (.min, "-292275055-05-16T16:47:04.192Z"),
    ])
    func formatsRFC3339(milliseconds: Int64, expected: String) {
        #expect(RFC3339.format(milliseconds: milliseconds) == expected)
    }

    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64?.some(0)), ("1970-01-01t00:00:00z", 0), ("1970-01-01 00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1), ("1969-12-31T23:59:59.9999999Z", -1),
        ("2024-01-01T00:00:00.1Z", 1_704_067_200_100),
        ("2024-01-01T05:30:00+05:30", 1_704_067_200_000), ("2023-12-31T23:59:00-00:01", 1_704_067_200_000),
        ("2016-12-31T23:59:60Z", 1_483_228_800_000), ("2000-02-29T00:00:00Z", 951_782_400_000),
        ("1900-02-29T00:00:00Z", nil), ("2024-13-01T00:00:00Z", nil), ("2024-01-32T00:00:00Z", nil),
        ("2024-01-01T24:00:00Z", nil), ("2024-01-01T00:60:00Z", nil), ("2024-01-01T00:00:00", nil),
        ("2024-01-01T00:00:00.Z", nil), ("2024-01-01T00:00:00+0100", nil), ("2024-01-01T00:00:00Zx", nil),
        ("2024-1-01T00:00:00Z", nil), ("2024-01-01", nil), ("", nil),
        // ISO 8601 expanded years, as `format` writes them outside 0000...9999.
        ("+10000-01-01T00:00:00.000Z", 253_402_300_800_000), ("-0001-12-31T23:59:59.999Z", -62_167_219_200_001),
        ("+292278994-08-17T07:12:55.807Z", .max), ("-292275055-05-16T16:47:04.192Z", .min),
        ("+292278994-08-17T07:12:55.808Z", nil), ("-292275055-05-16T16:47:04.191Z", nil),  // beyond Int64
        ("+999999999-01-01T00:00:00Z", nil), ("+123-01-01T00:00:00Z", nil), ("+1234567890-01-01T00:00:00Z", nil),
    ])
    func parsesRFC3339(text: String, expected: Int64?) {
        #expect(RFC3339.milliseconds(parsing: text.utf8) == expected)
    }

    @Test func roundTripsRFC3339() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            // Years 0000 to 9999, the range RFC 3339 text can hold.
            let value = Int64.random(in: -62_167_219_200_000...253_402_300_799_999, using: &generator)
            #expect(RFC3339.milliseconds(parsing: RFC3339.format(milliseconds: value).utf8) == value)
        }
        // Every Int64 a store can hold reads back from its export, expanded years included.
        for _ in 0..<2_000 {
            let value = Int64.random(in: .min ... .max, using: &generator)
            #expect(RFC3339.milliseconds(parsing: RFC3339.format(milliseconds: value).utf8) == value)
        }
    }
}
