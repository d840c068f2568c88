import Foundation
import NIOPosix
import SwiftProtobuf
import TelemetryCore
import TelemetryStorage
import TelemetryWire

/// stats, compact, reopen, retention.
extension RequestDispatcher {
    func stats(_ r: Telemetry_V1_StatsRequest) async throws -> Telemetry_V1_StatsResponse {
        try await threadPool.runIfActive { [store] in
            let vehicles = try store.vehicles()
            return Telemetry_V1_StatsResponse.with { s in
                switch store.health {
                case .ready: s.health = "ready"
                case .degraded(let reason): s.health = "degraded: \(reason)"
                case .closed: s.health = "closed"
                }
                s.vehicles = UInt64(vehicles.count)
                s.records = vehicles.reduce(0) { $0 + $1.recordCount }
                s.diskBytes = UInt64(Self.directoryBytes(store.path))
                s.leveldbStats = (try? store.leveldbProperty("leveldb.stats")) ?? ""
            }
        }
    }

    func compact(_ c: Telemetry_V1_CompactRequest, progress: AdminProgress) async throws -> Telemetry_V1_CompactResponse {
        let keyspace: Keyspace?
        if c.keyspace.isEmpty {
            keyspace = nil
        } else {
            guard let k = Keyspace.allCases.first(where: { $0.description == c.keyspace }) else {
                let names = Keyspace.allCases.map(\.description).joined(separator: ", ")
                throw StatusError(.invalidArgument, "unknown keyspace \"\(c.keyspace)\"; one of: \(names)")
            }
            keyspace = k
        }
        return try await threadPool.runIfActive { [store] in
            let before = Self.directoryBytes(store.path)
            let start = Date()
            if c.sealAll { try store.seal(upTo: .max) }
            if let keyspace { try store.compact(keyspace) } else { try store.compact() }
            return Telemetry_V1_CompactResponse.with {
                $0.bytesBefore = UInt64(before)
                $0.bytesAfter = UInt64(Self.directoryBytes(store.path))
                $0.seconds = Date().timeIntervalSince(start)
            }
        }
    }

    func reopen(_ r: Telemetry_V1_ReopenRequest) async throws -> Telemetry_V1_ReopenResponse {
        throw StatusError(.unimplemented, "admin reopen is not available in this build")
    }

    func retention(_ r: Telemetry_V1_RetentionRequest, progress: AdminProgress) async throws -> Telemetry_V1_RetentionResponse {
        throw StatusError(.unimplemented, "admin retention is not available in this build")
    }
}
