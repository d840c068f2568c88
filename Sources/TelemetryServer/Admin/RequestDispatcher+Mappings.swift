import Foundation
import TelemetryCore
import TelemetryStorage
import TelemetryWire

/// mappings, assets, dead letters, remap.
extension RequestDispatcher {
    func mappingsLoad(_ r: Telemetry_V1_MappingsLoadRequest) async throws -> Telemetry_V1_MappingsLoadResponse {
        throw StatusError(.unimplemented, "admin mappings load is not available in this build")
    }
    func mappingsList(_ r: Telemetry_V1_MappingsListRequest) async throws -> Telemetry_V1_MappingsListResponse {
        throw StatusError(.unimplemented, "admin mappings list is not available in this build")
    }
    func mappingsShow(_ r: Telemetry_V1_MappingsShowRequest) async throws -> Telemetry_V1_MappingsShowResponse {
        throw StatusError(.unimplemented, "admin mappings show is not available in this build")
    }
    func mappingsValidate(_ r: Telemetry_V1_MappingsValidateRequest) async throws -> Telemetry_V1_MappingsValidateResponse {
        throw StatusError(.unimplemented, "admin mappings validate is not available in this build")
    }
    func mappingsDryRun(_ r: Telemetry_V1_MappingsDryRunRequest) async throws -> Telemetry_V1_MappingsDryRunResponse {
        throw StatusError(.unimplemented, "admin mappings dry-run is not available in this build")
    }
    func assetsLoad(_ r: Telemetry_V1_AssetsLoadRequest) async throws -> Telemetry_V1_AssetsLoadResponse {
        throw StatusError(.unimplemented, "admin assets load is not available in this build")
    }
    func deadLetterList(_ r: Telemetry_V1_DeadLetterListRequest) async throws -> Telemetry_V1_DeadLetterListResponse {
        throw StatusError(.unimplemented, "admin dlq list is not available in this build")
    }
    func deadLetterShow(_ r: Telemetry_V1_DeadLetterShowRequest) async throws -> Telemetry_V1_DeadLetterShowResponse {
        throw StatusError(.unimplemented, "admin dlq show is not available in this build")
    }
    func deadLetterReplay(_ r: Telemetry_V1_DeadLetterReplayRequest, progress: AdminProgress) async throws -> Telemetry_V1_DeadLetterReplayResponse {
        throw StatusError(.unimplemented, "admin dlq replay is not available in this build")
    }
    func deadLetterPurge(_ r: Telemetry_V1_DeadLetterPurgeRequest) async throws -> Telemetry_V1_DeadLetterPurgeResponse {
        throw StatusError(.unimplemented, "admin dlq purge is not available in this build")
    }
    func remap(_ r: Telemetry_V1_RemapRequest, progress: AdminProgress) async throws -> Telemetry_V1_RemapResponse {
        throw StatusError(.unimplemented, "admin remap is not available in this build")
    }
}
