public import Logging
public import ServiceLifecycle
import TelemetryMapping
public import UnixSignals

/// Re-reads the mapping folder and the asset file on SIGHUP, the usual "reload your
/// configuration" signal: new versions are loaded; an invalid file is logged and changes nothing.
public struct MappingReloadService: Service {
    let service: MappingService
    let signals: UnixSignalsSequence
    let logger: Logger
    let onReload: (@Sendable (MappingService.ReloadReport) -> Void)?

    /// - Parameters:
    ///   - signals: the trapped signals (`await UnixSignalsSequence(trapping: .sighup)`), made
    ///     by the caller so that the trap is in place before anyone can send the signal.
    ///   - onReload: told each reload's report (tests).
    public init(
        service: MappingService, signals: UnixSignalsSequence, logger: Logger,
        onReload: (@Sendable (MappingService.ReloadReport) -> Void)? = nil
    ) {
        self.service = service
        self.signals = signals
        self.logger = logger
        self.onReload = onReload
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                let report = service.reload()
                for problem in report.problems {
                    if problem.severity == .warning {
                        logger.warning("mapping file warning on reload", metadata: ["telemetry.mapping.problem": "\(problem.located)"])
                    } else {
                        logger.error("mapping file refused on reload", metadata: ["telemetry.mapping.problem": "\(problem.located)"])
                    }
                }
                if let problem = report.assetsProblem {
                    logger.error("asset file refused on reload; the previous registry stays", metadata: ["telemetry.assets.problem": "\(problem)"])
                }
                logger.notice(
                    "mappings reloaded",
                    metadata: [
                        "telemetry.mappings.loaded": "\(report.loaded.joined(separator: ", "))",
                        "telemetry.mappings.unpinned": "\(report.unpinned.joined(separator: ", "))",
                        "telemetry.mappings.repinned": "\(report.repinned.joined(separator: ", "))",
                        "telemetry.mappings.refused": "\(report.refusedFiles)",
                    ])
                onReload?(report)
            }
        }
    }
}
