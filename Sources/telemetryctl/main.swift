print("telemetryctl")
