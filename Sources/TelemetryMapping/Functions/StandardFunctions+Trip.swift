import TelemetryCore

extension StandardFunctions {
    /// The ongoing trip and the driver name.
    static let tripAndDriver: [MappingFunction] = [
        tripStartedAt.fast(.tripStartedAt), tripMileage.nullWithoutInputs().fast(.tripMileage),
        tripWaypoints.fast(.tripWaypoints), driverName.fast(.driverName),
    ]

    /// `derive_ongoing_trip_started_at(transit_code, last_updated_at)`: a trip starts at the
    /// packet time when transit goes parked -> in_transit, lasts while in transit, and ends
    /// (null) otherwise. A vehicle first seen in transit has no trip until it parks once.
    static let tripStartedAt = MappingFunction(
        name: "derive_ongoing_trip_started_at", outputTypes: [.datetime], fleetiParameters: 1...2, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        let code = ctx.fleeti(0).asString
        let previous = state[memory: ctx.memoryKey]?.input.asString
        if code == "in_transit" {
            if previous == "parked" {
                state.trip = OngoingTrip(startedAt: stampTime(ctx))
            }
        } else {
            state.trip = nil
        }
        if let code { state[memory: ctx.memoryKey] = FieldMemory(input: .string(code)) }
        return MappingFunctionOutput(state.trip.map { .int($0.startedAt) } ?? .null)
    }

    /// `derive_ongoing_trip_mileage(started_at, odometer)`: odometer now minus the odometer at
    /// the start (the first odometer seen in the trip), in the odometer's unit; null without a
    /// trip, and null if the odometer went backwards (a counter reset).
    static let tripMileage = MappingFunction(
        name: "derive_ongoing_trip_mileage", outputTypes: [.number], fleetiParameters: 2...2, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        guard !ctx.fleeti(0).isNull, var trip = state.trip else { return .null }
        let odo = ctx.fleeti(1)
        if odo.isNull { return .null }
        guard let odometer = odo.asDouble else { throw MappingFunctionError("odometer \(odo) is not a number") }
        if trip.startOdometer == nil {
            trip.startOdometer = odometer
            state.trip = trip
        }
        let mileage = odometer - (trip.startOdometer ?? odometer)
        return MappingFunctionOutput(mileage >= 0 ? .double(rounded(mileage)) : .null)
    }

    /// `derive_ongoing_trip_waypoints(started_at, lat, lng)`: the trip's positions as
    /// `[[lat, lng], ...]`; a position is added when it is more than
    /// `Options.waypointSpacing` metres from the last one; past `Options.maxWaypoints` every
    /// other waypoint is dropped (first and last kept). An empty array without a trip.
    static let tripWaypoints = MappingFunction(
        name: "derive_ongoing_trip_waypoints", outputTypes: [.array], fleetiParameters: 3...3, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        guard !ctx.fleeti(0).isNull, var trip = state.trip else { return MappingFunctionOutput(.array([])) }
        let lat = ctx.fleeti(1)
        let lng = ctx.fleeti(2)
        if !lat.isNull, !lng.isNull {
            guard let la = lat.asDouble, let lo = lng.asDouble, (-90...90).contains(la), (-180...180).contains(lo)
            else {
                throw MappingFunctionError("position (\(lat), \(lng)) is not a valid latitude/longitude")
            }
            let p = OngoingTrip.quantized(Coordinate(latitude: la, longitude: lo))
            if trip.waypoints.last.map({ Geodesy.distance($0, p) > ctx.options.waypointSpacing }) ?? true {
                trip.waypoints.append(p)
                if trip.waypoints.count > ctx.options.maxWaypoints {
                    let last = trip.waypoints[trip.waypoints.count - 1]
                    trip.waypoints = trip.waypoints.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
                    if trip.waypoints.last != last { trip.waypoints.append(last) }
                }
                state.trip = trip
            }
        }
        return MappingFunctionOutput(
            .array(trip.waypoints.map { .array([.double($0.latitude), .double($0.longitude)]) }))
    }

    /// `derive_driver_name(driver_key)`: a new non-empty key is looked up in the driver catalog
    /// (unknown key: null); an empty key or the same key keeps the previous name.
    static let driverName = MappingFunction(
        name: "derive_driver_name", outputTypes: [.string], fleetiParameters: 1...1, isStateful: true
    ) { ctx, state throws(MappingFunctionError) in
        let previous = state[memory: ctx.memoryKey]
        guard let key = driverKey(ctx.fleeti(0)) else { return MappingFunctionOutput(previous?.output ?? .null) }
        if let previous, previous.input.asString == key { return MappingFunctionOutput(previous.output) }
        let name: FieldValue = ctx.assets.driver(forKey: key).map { .string($0.name) } ?? .null
        state[memory: ctx.memoryKey] = FieldMemory(input: .string(key), output: name)
        return MappingFunctionOutput(name)
    }
}
