print("telemetry-load")
