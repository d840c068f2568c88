/// A record as a gateway sends it: provider fields, before any mapping.
public struct ProviderRecord: Sendable, Hashable {
    public var vehicle: VehicleID
    /// Milliseconds since 1970 UTC (device time).
    public var timestamp: Int64
    /// The provider whose field names these are (e.g. `navixy`, `generic`).
    public var provider: String
    public var fields: [Field]
    /// The gateway's own sequence number for this record, if it numbers them.
    public var gatewaySequence: UInt64?

    public init(vehicle: VehicleID, timestamp: Int64, provider: String, fields: [Field], gatewaySequence: UInt64? = nil) {
        self.vehicle = vehicle
        self.timestamp = timestamp
        self.provider = provider
        self.fields = fields
        self.gatewaySequence = gatewaySequence
    }
}

/// One field of a vehicle's latest state, with the time it was last reported.
public struct LatestField: Sendable, Hashable {
    public var name: String
    public var value: FieldValue
    /// The timestamp of the record that carried this value.
    public var timestamp: Int64

    public init(name: String, value: FieldValue, timestamp: Int64) {
        self.name = name
        self.value = value
        self.timestamp = timestamp
    }
}

/// The latest known state of one vehicle: per field, the newest value seen.
public struct LatestState: Sendable, Hashable {
    public var vehicle: VehicleID
    /// The timestamp of the newest record of the vehicle.
    public var timestamp: Int64
    /// Sorted by name.
    public var fields: [LatestField]

    public init(vehicle: VehicleID, timestamp: Int64, fields: [LatestField]) {
        self.vehicle = vehicle
        self.timestamp = timestamp
        self.fields = fields
    }

    public subscript(name: String) -> LatestField? {
        fields.first(where: { $0.name == name })
    }
}

/// What the store holds for one vehicle.
public struct VehicleSummary: Sendable, Hashable {
    public var vehicle: VehicleID
    public var firstTimestamp: Int64
    public var lastTimestamp: Int64
    public var recordCount: UInt64

    public init(vehicle: VehicleID, firstTimestamp: Int64, lastTimestamp: Int64, recordCount: UInt64) {
        self.vehicle = vehicle
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.recordCount = recordCount
    }
}

/// One page of a range query.
public struct RangePage: Sendable, Hashable {
    public var records: [TelemetryRecord]
    /// Pass this back to get the next page; nil when the range is exhausted.
    public var nextCursor: String?

    public init(records: [TelemetryRecord], nextCursor: String?) {
        self.records = records
        self.nextCursor = nextCursor
    }
}

/// Aggregates of one numeric field over one time bucket.
public struct FieldAggregate: Sendable, Hashable {
    public var field: String
    public var count: UInt64
    public var min: Double
    public var max: Double
    public var sum: Double
    /// The value of the earliest and latest sample in the bucket.
    public var first: Double
    public var last: Double

    /// The same aggregates exact, when every sample in the bucket was an integer (not a
    /// double, not a bool) and their sum fits Int64 (whatever the order of the samples);
    /// nil otherwise. The doubles above round integers beyond 2^53 (a counter, a time in
    /// ns) and read `12.0` for `12`.
    public var integers: IntegerAggregate?

    /// `sum / count`: from the exact integer sum when there is one (the double sum of large
    /// integers has rounded), else from the double sum.
    public var average: Double {
        guard count > 0 else { return .nan }
        guard let exact = integers, let n = Int64(exactly: count) else { return sum / Double(count) }
        // Quotient and remainder apart: Double(exact.sum) alone rounds past 2^53.
        let (quotient, remainder) = exact.sum.quotientAndRemainder(dividingBy: n)
        return Double(quotient) + Double(remainder) / Double(n)
    }

    public init(
        field: String, count: UInt64, min: Double, max: Double, sum: Double, first: Double, last: Double,
        integers: IntegerAggregate? = nil
    ) {
        self.field = field
        self.count = count
        self.min = min
        self.max = max
        self.sum = sum
        self.first = first
        self.last = last
        self.integers = integers
    }
}

/// The exact aggregates of an integer field (`FieldAggregate.integers`).
public struct IntegerAggregate: Sendable, Hashable {
    public var min: Int64
    public var max: Int64
    public var sum: Int64
    public var first: Int64
    public var last: Int64

    public init(min: Int64, max: Int64, sum: Int64, first: Int64, last: Int64) {
        self.min = min
        self.max = max
        self.sum = sum
        self.first = first
        self.last = last
    }

    /// One sample.
    public init(_ value: Int64) {
        self.init(min: value, max: value, sum: value, first: value, last: value)
    }
}

/// One time bucket of a downsampling query: [start, start + width).
public struct AggregateBucket: Sendable, Hashable {
    public var start: Int64
    /// One entry per requested field that had numeric samples in the bucket.
    public var fields: [FieldAggregate]

    public init(start: Int64, fields: [FieldAggregate]) {
        self.start = start
        self.fields = fields
    }
}

/// A range query over one vehicle's canonical records.
public struct RangeQuery: Sendable, Hashable {
    public var vehicle: VehicleID
    /// Inclusive start, ms.
    public var from: Int64
    /// Exclusive end, ms; `Int64.max` means no upper bound (so a record at Int64.max is reachable).
    public var to: Int64
    /// Field names to return; nil returns all.
    public var fields: [String]?
    /// Most records in one page; nil for all.
    public var limit: Int?
    public var order: TimeOrder
    /// The `nextCursor` of the previous page.
    public var cursor: String?

    public init(
        vehicle: VehicleID, from: Int64, to: Int64, fields: [String]? = nil, limit: Int? = nil,
        order: TimeOrder = .ascending, cursor: String? = nil
    ) {
        self.vehicle = vehicle
        self.from = from
        self.to = to
        self.fields = fields
        self.limit = limit
        self.order = order
        self.cursor = cursor
    }
}
