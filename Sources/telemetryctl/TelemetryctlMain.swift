import TelemetryCLI

// All commands live in TelemetryCLI (testable); this only starts them.
@main
enum TelemetryctlMain {
    static func main() async {
        await TelemetryCommand.mainPrintingRunErrorsAlone()
    }
}
