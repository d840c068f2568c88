import Foundation
import TelemetryCore
import TelemetryStorage
import TelemetryWire

/// backup, verify, restore.
extension RequestDispatcher {
    func backup(_ r: Telemetry_V1_BackupRequest, progress: AdminProgress) async throws -> Telemetry_V1_BackupResponse {
        throw StatusError(.unimplemented, "admin backup is not available in this build")
    }

    func verifyBackup(_ r: Telemetry_V1_VerifyBackupRequest, progress: AdminProgress) async throws -> Telemetry_V1_VerifyBackupResponse {
        throw StatusError(.unimplemented, "admin backup verify is not available in this build")
    }

    func restore(_ r: Telemetry_V1_RestoreRequest, progress: AdminProgress) async throws -> Telemetry_V1_RestoreResponse {
        throw StatusError(.unimplemented, "admin restore is not available in this build")
    }
}
