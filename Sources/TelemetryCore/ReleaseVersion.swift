/// The release of telemetryd and telemetryctl, in one place: `--version` of both, the server
/// version a hello answers with, and the `created_by` of backups.
public enum ReleaseVersion {
    public static let current = "0.1.0"
}
