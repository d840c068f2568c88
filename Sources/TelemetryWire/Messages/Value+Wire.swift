package import TelemetryCore
import Foundation

extension FieldValue {
    /// The value as it travels: an unset kind is null.
    package init(wire: Telemetry_V1_Value) {
        switch wire.kind {
        case .none: self = .null
        case .doubleValue(let v): self = .double(v)
        case .intValue(let v): self = .int(v)
        case .boolValue(let v): self = .bool(v)
        case .stringValue(let v): self = .string(v)
        case .bytesValue(let v): self = .bytes(Array(v))
        case .arrayValue(let a): self = .array(a.values.map(FieldValue.init(wire:)))
        }
    }

    package var wire: Telemetry_V1_Value {
        var out = Telemetry_V1_Value()
        switch self {
        case .null: break
        case .double(let v): out.kind = .doubleValue(v)
        case .int(let v): out.kind = .intValue(v)
        case .bool(let v): out.kind = .boolValue(v)
        case .string(let v): out.kind = .stringValue(v)
        case .bytes(let v): out.kind = .bytesValue(.init(v))
        case .array(let values):
            var a = Telemetry_V1_ValueArray()
            a.values = values.map(\.wire)
            out.kind = .arrayValue(a)
        }
        return out
    }
}

extension Field {
    package init(wire: Telemetry_V1_Field) {
        self.init(wire.name, FieldValue(wire: wire.value))
    }

    package var wire: Telemetry_V1_Field {
        var out = Telemetry_V1_Field()
        out.name = name
        out.value = value.wire
        return out
    }
}
