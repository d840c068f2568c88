import Logging
import ServiceLifecycle
import TelemetryMapping
import TelemetryServer
import UnixSignals

/// Re-reads the mapping folder and the asset file on SIGHUP, the usual "reload your
/// configuration" signal: new versions are loaded; an invalid file is logged and changes nothing.
struct MappingReloadService: Service {
    let service: MappingService
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                let report = service.reload()
                for problem in report.problems {
                    if problem.severity == .warning {
                        logger.warning("mapping file warning on reload", metadata: ["telemetry.mapping.problem": "\(problem)"])
                    } else {
                        logger.error("mapping file refused on reload", metadata: ["telemetry.mapping.problem": "\(problem)"])
                    }
                }
                if let problem = report.assetsProblem {
                    logger.error("asset file refused on reload; the previous registry stays", metadata: ["telemetry.assets.problem": "\(problem)"])
                }
                logger.notice(
                    "mappings reloaded",
                    metadata: [
                        "telemetry.mappings.loaded": "\(report.loaded.joined(separator: ", "))",
                        "telemetry.mappings.refused": "\(Set(report.problems.filter { $0.severity == .error }.map(\.file)).count)",
                    ])
            }
        }
    }
}
