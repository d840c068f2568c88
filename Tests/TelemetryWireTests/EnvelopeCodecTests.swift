import NIOCore
import SwiftProtobuf
import Testing
import TelemetryCore
@testable import TelemetryWire

@Suite("Envelopes and compression")
struct EnvelopeCodecTests {
    let allocator = ByteBufferAllocator()

    func roundTrip(_ envelope: Telemetry_V1_RequestEnvelope, compress: Bool) throws -> Telemetry_V1_RequestEnvelope {
        var framed = try EnvelopeCodec.encode(envelope, compress: compress, allocator: allocator)
        var decoder = FrameDecoder(maxFrameBytes: 1 << 20)
        let frame = try #require(try decoder.decode(buffer: &framed))
        return try EnvelopeCodec.decode(frame, maxBytes: 1 << 20, allocator: allocator)
    }

    func bigIngest() -> Telemetry_V1_RequestEnvelope {
        var env = Telemetry_V1_RequestEnvelope()
        env.requestID = 42
        var req = Telemetry_V1_IngestRequest()
        for i in 0..<100 {
            let record = ProviderRecord(
                vehicle: try! VehicleID("veh-\(i)"), timestamp: Int64(i) * 1000, provider: "generic",
                fields: [Field("speed", .double(Double(i) / 10)), Field("ignition", .bool(i % 2 == 0))])
            req.records.append(record.wire)
        }
        env.ingest = req
        return env
    }

    @Test("an envelope survives framing, with and without snappy", arguments: [false, true])
    func envelopeRoundTrip(compress: Bool) throws {
        let env = bigIngest()
        #expect(try roundTrip(env, compress: compress) == env)
    }

    @Test("a large payload is compressed when asked, a small one never")
    func compressionThreshold() throws {
        let big = try EnvelopeCodec.encode(bigIngest(), compress: true, allocator: allocator)
        #expect(big.getInteger(at: 0, as: UInt8.self) == FrameFlags.compressed)
        var ping = Telemetry_V1_RequestEnvelope()
        ping.ping = .init()
        let small = try EnvelopeCodec.encode(ping, compress: true, allocator: allocator)
        #expect(small.getInteger(at: 0, as: UInt8.self) == 0)
    }

    @Test("reserved flag bits are refused")
    func reservedBits() throws {
        let frame = Frame(flags: 0x02, payload: allocator.buffer(bytes: []))
        #expect(throws: FrameError.reservedFlags(0x02)) {
            try EnvelopeCodec.decode(frame, as: Telemetry_V1_RequestEnvelope.self, maxBytes: 1024, allocator: allocator)
        }
    }

    @Test("a payload flagged compressed that is not snappy is refused with a reason")
    func badSnappy() throws {
        let frame = Frame(flags: FrameFlags.compressed, payload: allocator.buffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(throws: FrameError.self) {
            try EnvelopeCodec.decode(frame, as: Telemetry_V1_RequestEnvelope.self, maxBytes: 1024, allocator: allocator)
        }
    }

    @Test("a snappy payload that would expand past the limit is refused before it is expanded")
    func decompressionBomb() throws {
        let compressed = Snappy.compress(allocator.buffer(bytes: Array(repeating: 0, count: 100_000)))
        let frame = Frame(flags: FrameFlags.compressed, payload: allocator.buffer(bytes: compressed))
        #expect(throws: FrameError.decompressedTooLarge(length: 100_000, limit: 4096)) {
            try EnvelopeCodec.decode(frame, as: Telemetry_V1_RequestEnvelope.self, maxBytes: 4096, allocator: allocator)
        }
    }

    @Test("bytes that are not a protobuf envelope are refused with the message type named")
    func garbage() throws {
        let frame = Frame(flags: 0, payload: allocator.buffer(bytes: [0xFF, 0xFF, 0xFF]))
        let error = #expect(throws: EnvelopeDecodingError.self) {
            try EnvelopeCodec.decode(frame, as: Telemetry_V1_RequestEnvelope.self, maxBytes: 1024, allocator: allocator)
        }
        #expect(error?.message.contains("telemetry.v1.RequestEnvelope") == true)
    }
}

@Suite("Record validation at the wire")
struct RecordValidationTests {
    func wire(vehicle: String = "veh-1", provider: String = "generic", fields: [(String, Telemetry_V1_Value)] = [("speed", .with { $0.doubleValue = 1 })]) -> Telemetry_V1_ProviderRecord {
        var r = Telemetry_V1_ProviderRecord()
        r.vehicleID = vehicle
        r.timestampMs = -5
        r.provider = provider
        r.fields = fields.map { f in Telemetry_V1_Field.with { $0.name = f.0; $0.value = f.1 } }
        return r
    }

    @Test("every value type converts both ways")
    func values() throws {
        let values: [FieldValue] = [
            .null, .bool(true), .int(.min), .int(.max), .double(-0.0), .double(.infinity), .string("é"), .bytes([0, 255]),
            .array([.int(1), .array([.string("x")]), .null]),
        ]
        for v in values { #expect(FieldValue(wire: v.wire).isIdentical(to: v), "\(v)") }
        let nan = FieldValue(wire: FieldValue.double(.nan).wire)
        guard case .double(let d) = nan else { Issue.record("NaN lost its type"); return }
        #expect(d.isNaN)
    }

    @Test("a duplicate among many fields is found too")
    func wideRecord() {
        let names = (0..<40).map { "f\($0)" } + ["f7"]
        let w = wire(fields: names.map { ($0, Telemetry_V1_Value()) })
        let error = #expect(throws: StatusError.self) { try ProviderRecord(validating: w) }
        #expect(error?.message == "fields[40]: duplicate field \"f7\"")
        #expect(throws: Never.self) { try ProviderRecord(validating: wire(fields: names.dropLast().map { ($0, Telemetry_V1_Value()) })) }
    }

    @Test("a valid record keeps vehicle, time, provider, fields and sequence")
    func valid() throws {
        var w = wire()
        w.gatewaySequence = 9
        let r = try ProviderRecord(validating: w)
        #expect(r.vehicle.rawValue == "veh-1" && r.timestamp == -5 && r.provider == "generic" && r.gatewaySequence == 9)
        #expect(r.fields == [Field("speed", .double(1))])
    }

    @Test(
        "bad records are refused with the part named",
        arguments: [
            ("", "generic", ["speed"], "vehicle_id: vehicle id is empty"),
            (String(repeating: "v", count: 65), "generic", ["speed"], "vehicle_id: vehicle id is 65 bytes long (max 64)"),
            ("veh\u{1}", "generic", ["speed"], "vehicle_id: vehicle id contains a control character"),
            ("veh-1", "", ["speed"], "provider is empty"),
            ("veh-1", "generic", [], "record has no fields"),
            ("veh-1", "generic", ["speed", ""], "fields[1]: field name is empty"),
            ("veh-1", "generic", ["speed", "speed"], "fields[1]: duplicate field \"speed\""),
        ])
    func invalid(vehicle: String, provider: String, names: [String], message: String) throws {
        let w = wire(vehicle: vehicle, provider: provider, fields: names.map { ($0, Telemetry_V1_Value()) })
        let error = #expect(throws: StatusError.self) { try ProviderRecord(validating: w) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == message)
    }
}
