import Foundation
import TelemetryCLI
import TelemetryCore

/// Runs `body` with a fresh, empty directory that is removed afterwards, so tests can
/// run in parallel without sharing files.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("telemetry-cli-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Writes `text` to `directory/name` and returns the path.
@discardableResult
func writeFile(_ text: String, named name: String, in directory: String) throws -> String {
    let path = directory + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Reads every record of `text`, stored in a temporary file called `name`.
func readAll(
    _ text: String,
    name: String,
    format: InputFormat? = nil,
    options: InputOptions = InputOptions()
) throws -> [ProviderRecord] {
    try withTemporaryDirectory { directory in
        let path = try writeFile(text, named: name, in: directory)
        let reader = try RecordFileReader(path: path, format: format, options: options)
        var records: [ProviderRecord] = []
        while let batch = try reader.nextBatch(maxRecords: 1000) { records += batch }
        return records
    }
}

/// The first error reading `text` (stored as `name`) throws, as `name:line: message`
/// (the temporary directory stripped), or nil when it reads cleanly.
func readError(_ text: String, name: String, options: InputOptions = InputOptions()) throws -> String? {
    try withTemporaryDirectory { directory in
        let path = try writeFile(text, named: name, in: directory)
        let reader = try RecordFileReader(path: path, options: options)
        do {
            while try reader.nextBatch(maxRecords: 1000) != nil {}
            return nil
        } catch let error as InputError {
            return error.description.replacingOccurrences(of: directory + "/", with: "")
        }
    }
}

/// A record as the parsers build it.
func record(
    _ vehicle: String,
    _ timestamp: Int64,
    provider: String = "generic",
    sequence: UInt64? = nil,
    _ fields: [(String, FieldValue)]
) throws -> ProviderRecord {
    ProviderRecord(
        vehicle: try VehicleID(vehicle),
        timestamp: timestamp,
        provider: provider,
        fields: fields.map { Field($0.0, $0.1) },
        gatewaySequence: sequence
    )
}
