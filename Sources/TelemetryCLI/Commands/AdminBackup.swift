import ArgumentParser
import Foundation
import Glibc
import TelemetryClient
import TelemetryCore
import TelemetryStorage

/// `table` for people, `json` for scripts.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

extension TelemetryCommand.Admin {
    /// `telemetryctl admin backup DEST` and `admin backup verify PATH`.
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back the store up into a new folder on the server (online, consistent), or verify a backup.",
            discussion: """
                telemetryctl admin backup /backups/telemetry-2026-11-23   (the folder must not exist; paths are on the server)
                telemetryctl admin backup verify /backups/telemetry-2026-11-23 --deep
                """,
            subcommands: [Create.self, Verify.self], defaultSubcommand: Create.self)

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "create",
                abstract: "Write a backup: a snapshot copied into DEST, fsynced, with a manifest of checksums, renamed into place.")

            @OptionGroup var connection: ConnectionOptions

            @Argument(help: "The backup folder to create on the server's machine; it must not exist, its parent must.")
            var destination: String

            @Option(name: .long, help: "table or json.")
            var format: ReportFormat = .table

            func run() async throws {
                let meter = ProgressMeter()
                let result = try await connection.withClient { client in
                    try await client.backup(to: destination, onProgress: meter.callback)
                }
                meter.finish()
                write(renderBackup(result, format: format))
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check a backup's files against its manifest; --deep also reads every key of a copy.",
                discussion: """
                    Exit codes: 0 the backup is intact; 2 it fails verification (each problem is printed); \
                    100 + status when the check could not run (e.g. 105: the folder does not exist).
                    """)

            @OptionGroup var connection: ConnectionOptions

            @Argument(help: "The backup folder (on the server's machine, or on this one with --offline).")
            var path: String

            @Flag(name: .long, help: "Also open a copy, read every key, compare the counts per keyspace and the content hash.")
            var deep = false

            @Flag(name: .long, help: "Check a folder on this machine, without a server.")
            var offline = false

            @Option(name: .long, help: "table or json.")
            var format: ReportFormat = .table

            func run() async throws {
                let meter = ProgressMeter()
                let report: BackupVerification
                if offline {
                    report = try offlineBackupCall { try BackupFolder(path: path).verify(deep: deep, progress: meter.storageCallback) }
                } else {
                    report = try await connection.withClient { client in
                        try await client.verifyBackup(at: path, deep: deep, onProgress: meter.callback)
                    }
                }
                meter.finish()
                write(renderVerification(report, path: path, format: format))
                if !report.ok { throw ExitCode(ExitCodes.failsVerification) }
            }
        }
    }

    /// `telemetryctl admin restore --backup B [--data DIR]`.
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup: swap the running server's store (online), or into a new data folder (--data, offline).",
            discussion: """
                Online (paths on the server): the backup is verified (deep) and copied beside the data folder, \
                then the server swaps its store; the replaced folder is kept as <data>.before-restore-<time> for rollback.
                Offline (--data, no server): verified, copied, checked and renamed into a new or empty folder.
                A backup that fails verification is refused (exit 109, FAILED_PRECONDITION, naming the bad files).
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(name: .long, help: "The backup folder.")
        var backup: String

        @Option(name: .long, help: "Restore offline into this new (or empty) data folder on this machine; no server is contacted.")
        var data: String?

        @Option(name: .long, help: "table or json.")
        var format: ReportFormat = .table

        func run() async throws {
            let meter = ProgressMeter()
            if let data {
                let result = try offlineBackupCall { try BackupFolder(path: backup).restore(into: data, progress: meter.storageCallback) }
                meter.finish()
                write(
                    renderRestore(
                        path: result.path, previous: nil, contentHash: result.manifest.contentHash, seconds: result.seconds,
                        manifest: result.manifest, format: format))
            } else {
                let backup = self.backup
                let result = try await connection.withClient { client in try await client.restore(from: backup, onProgress: meter.callback) }
                meter.finish()
                write(
                    renderRestore(
                        path: nil, previous: result.previousData, contentHash: result.contentHash, seconds: result.seconds, manifest: nil,
                        format: format))
            }
        }
    }
}

/// Runs a backup operation on this machine; its failure is printed and becomes the exit code
/// the same failure would have over the protocol (100 + status).
func offlineBackupCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as BackupError {
        printError("\(error.statusCode.name): \(error.message)")
        throw ExitCode(ExitCodes.server(error.statusCode))
    }
}

/// Shows progress on standard error, on one line rewritten in place, when it is a terminal.
final class ProgressMeter: Sendable {
    private let enabled = isatty(2) != 0

    /// Always a callback, printing only on a terminal: with a callback the client restarts its
    /// timeout at each progress frame, so a long backup under cron is not cut off.
    var callback: @Sendable (ProgressUpdate) -> Void {
        { [self] p in if enabled { show(p.phase, p.done, p.total, p.unit) } }
    }

    var storageCallback: (ProgressUpdate) -> Void {
        { [self] p in if enabled { show(p.phase, p.done, p.total, p.unit) } }
    }

    private func show(_ phase: String, _ done: UInt64, _ total: UInt64, _ unit: String) {
        var line = "\(phase): \(done)"
        if total > 0 { line += "/\(total) \(unit) (\(done * 100 / max(total, 1))%)" } else { line += " \(unit)" }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

// MARK: - Rendering

private struct BackupJSON: Encodable {
    var path: String
    var seconds: Double
    var bytes: UInt64
    var manifest: BackupManifest
}

private struct VerificationJSON: Encodable {
    var path: String
    var ok: Bool
    var deep: Bool
    var problems: [String]
    var manifest: BackupManifest?
}

private struct RestoreJSON: Encodable {
    var path: String?
    var previousData: String?
    var contentHash: String
    var seconds: Double
    var manifest: BackupManifest?

    enum CodingKeys: String, CodingKey {
        case path, seconds, manifest
        case previousData = "previous_data"
        case contentHash = "content_hash"
    }
}

private func json(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // Encoding these plain structs cannot fail: no floats that are NaN, no custom encoders.
    guard let data = try? encoder.encode(value) else { return "{}\n" }
    return String(decoding: data, as: UTF8.self) + "\n"
}

private func rfc3339(_ ms: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
}

/// The manifest as lines: snapshot, counts per keyspace, content hash.
func renderManifest(_ m: BackupManifest) -> String {
    var table = TextTable(columns: ["keyspace", "entries"])
    for k in m.keyspaces { table.rows.append([k.name, String(k.entries)]) }
    return """
        snapshot   \(rfc3339(m.snapshotTimeMs))
        format     \(m.storeFormatVersion) (written by \(m.createdBy))
        files      \(m.files.count), \(m.totalBytes) bytes
        content    sha256 \(m.contentHash)

        """ + table.tableText()
}

func renderBackup(_ r: BackupSummary, format: ReportFormat) -> String {
    switch format {
    case .json: return json(BackupJSON(path: r.path, seconds: r.seconds, bytes: r.bytes, manifest: r.manifest))
    case .table:
        return "backup     \(r.path)\nseconds    \(String(format: "%.2f", r.seconds))\n" + renderManifest(r.manifest)
    }
}

func renderVerification(_ v: BackupVerification, path: String, format: ReportFormat) -> String {
    switch format {
    case .json: return json(VerificationJSON(path: path, ok: v.ok, deep: v.deep, problems: v.problems, manifest: v.manifest))
    case .table:
        let kind = v.deep ? "files and content (deep)" : "files"
        var text = v.ok ? "backup \(path): OK, \(kind) match the manifest\n" : "backup \(path): FAILED, \(v.problems.count) problem(s)\n"
        for problem in v.problems { text += "  - \(problem)\n" }
        if let m = v.manifest { text += renderManifest(m) }
        return text
    }
}

func renderRestore(path: String?, previous: String?, contentHash: String, seconds: Double, manifest: BackupManifest?, format: ReportFormat) -> String {
    switch format {
    case .json:
        return json(RestoreJSON(path: path, previousData: previous, contentHash: contentHash, seconds: seconds, manifest: manifest))
    case .table:
        var text = ""
        if let path { text += "restored   \(path)\n" }
        if let previous { text += "restored   the server's store; previous data kept in \(previous)\n" }
        text += "seconds    \(String(format: "%.2f", seconds))\ncontent    sha256 \(contentHash)\n"
        return text
    }
}
