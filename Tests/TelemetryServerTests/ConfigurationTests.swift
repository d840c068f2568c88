import Testing
import TelemetryCore
@testable import TelemetryServer

@Suite("Configuration")
struct ConfigurationTests {
    @Test("a full file sets every key")
    func fullFile() throws {
        let file = try ConfigurationFile.parse(
            """
            listen: 127.0.0.2
            port: 7500
            data: /var/lib/telemetryd
            durability: sync
            compression: none
            log_level: debug
            limits:
              max_frame_bytes: 1_048_576
              max_in_flight: 8
              max_connections: 10
              idle_timeout_seconds: 60
              max_records_per_batch: 500
              max_future_skew_ms: 1000
              min_timestamp_ms: 0
              records_per_frame: 100
            tokens:
              - role: ingest
                token: "gateway-token-abcdef"
              - {role: admin, token: "admin-token-abcdefgh"}
            """, source: "t.yaml")
        #expect(file.server.host == "127.0.0.2" && file.server.port == 7500)
        #expect(file.dataPath == "/var/lib/telemetryd" && file.durability == .sync && file.logLevel == "debug")
        #expect(file.compression == false)
        #expect(try ConfigurationFile.parse("compression: snappy", source: "t.yaml").compression == true)
        #expect(try ConfigurationFile.parse("", source: "t.yaml").compression == nil)
        #expect(file.server.maxFrameBytes == 1_048_576 && file.server.maxInFlightPerConnection == 8)
        #expect(file.server.maxConnections == 10 && file.server.idleTimeoutSeconds == 60)
        #expect(file.server.maxRecordsPerBatch == 500 && file.server.maxFutureSkewMs == 1000 && file.server.minTimestampMs == 0)
        #expect(file.server.recordsPerFrame == 100)
        #expect(file.server.tokens == [AccessToken(secret: "gateway-token-abcdef", role: .ingest), AccessToken(secret: "admin-token-abcdefgh", role: .admin)])
        try file.server.validate()
    }

    @Test("the mapping section sets mode, folder, assets, the sweep and how long idle states stay in memory")
    func mappingSection() throws {
        let file = try ConfigurationFile.parse(
            "mapping:\n  mode: identity\n  folder: /m\n  assets: /a.yaml\n  sweep_interval_seconds: 30\n  state_idle_seconds: 600\n",
            source: "t.yaml")
        #expect(file.mapping.mode == "identity" && file.mapping.folder == "/m" && file.mapping.assets == "/a.yaml")
        #expect(file.mapping.sweepIntervalSeconds == 30 && !file.mapping.sweepOff)
        #expect(file.mapping.stateIdleSeconds == 600 && !file.mapping.stateIdleOff)
        let off = try ConfigurationFile.parse("mapping:\n  sweep_interval_seconds: off\n  state_idle_seconds: off\n", source: "t.yaml")
        #expect(off.mapping.sweepOff && off.mapping.stateIdleOff)
    }

    @Test("an empty file keeps every default")
    func empty() throws {
        let file = try ConfigurationFile.parse("", source: "t.yaml")
        #expect(file.server == ServerConfiguration())
    }

    @Test(
        "mistakes are named with file and key",
        arguments: [
            ("prot: 1", "t.yaml: prot is not a known setting"),
            ("port: many", "t.yaml: port must be a whole number"),
            ("durability: maybe", "t.yaml: durability must be buffered or sync, not \"maybe\""),
            ("compression: zstd", "t.yaml: compression must be snappy or none, not \"zstd\""),
            ("limits:\n  max_frames: 3", "t.yaml: limits.max_frames is not a known setting"),
            ("tokens:\n  - role: root\n    token: x", "t.yaml: tokens[0].role must be ingest, query or admin, not \"root\""),
            ("tokens:\n  - role: admin", "t.yaml: tokens[0] needs both role and token"),
            ("- a\n- b", "t.yaml: the top level must be a mapping of keys"),
            ("mapping:\n  mode: magic", "t.yaml: mapping.mode must be fleeti or identity, not \"magic\""),
            ("mapping:\n  sweep_interval_seconds: 0", "t.yaml: mapping.sweep_interval_seconds must be at least 1 second, or off"),
            ("mapping:\n  state_idle_seconds: -5", "t.yaml: mapping.state_idle_seconds must be at least 1 second, or off"),
            ("mapping:\n  state_idle_seconds: soon", "t.yaml: mapping.state_idle_seconds must be a whole number"),
            ("mapping:\n  folders: x", "t.yaml: mapping.folders is not a known setting"),
        ])
    func mistakes(text: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try ConfigurationFile.parse(text, source: "t.yaml") }
        #expect(error?.message == message)
    }

    @Test("settings that cannot work are refused")
    func validation() {
        var c = ServerConfiguration()
        c.host = "0.0.0.0"
        #expect(throws: ConfigurationError.self) { try c.validate() }  // no tokens off loopback
        c.tokens = [AccessToken(secret: "short", role: .admin)]
        let short = #expect(throws: ConfigurationError.self) { try c.validate() }
        #expect(short?.message == "token 1 (role admin) is shorter than 16 bytes")
        c.tokens = [AccessToken(secret: "long-enough-secret-123", role: .admin)]
        #expect(throws: Never.self) { try c.validate() }
        c.maxFrameBytes = 10
        #expect(throws: ConfigurationError.self) { try c.validate() }
    }
}
