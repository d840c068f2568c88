import Foundation
import TelemetryCore
import Testing

@testable import TelemetryMapping

struct CatalogTests {
    @Test func bundledCatalogLoads() throws {
        let catalog = try FieldCatalog.bundled()
        #expect(catalog.entries.count > 100)
        let lat = try #require(catalog.entry(named: "location_latitude"))
        #expect(lat.path == "location.latitude")
        #expect(lat.dataType == .number)
        #expect(lat.unit == "degrees")
        #expect(lat.priority == .p0)
        #expect(catalog.entry(atPath: "motion.speed.value")?.name == "speed")
    }

    @Test(arguments: [
        ("location_latitude", "location_latitude"),
        ("environment[]", "environment"),
        ("sensors.environment[]", "environment"),
        ("sensors.environment", "environment"),
        ("geofences[]", "geofences"),
        ("status.top_status.code", "top_status_code"),
    ])
    func resolvesMappingKeys(key: String, name: String) {
        #expect(Fixtures.catalog.resolve(mappingKey: key)?.name == name)
    }

    @Test func unknownKeyDoesNotResolve() {
        #expect(Fixtures.catalog.resolve(mappingKey: "no_such_field") == nil)
    }

    /// Every field the shared mapping files name and every P0/P1 field of the Fleeti catalog
    /// (by path) is in the project's catalog.
    @Test(.enabled(if: SharedFleeti.isAvailable, "needs ../shared/fleeti"))
    func coversTheFleetiCatalogsP0AndP1Fields() throws {
        let rows = CSV.parse(try SharedFleeti.text("fleeti-fields-catalog.csv"))
        let header = rows[0]
        let path = try #require(header.firstIndex(of: "Field Path"))
        let priority = try #require(header.firstIndex(of: "Priority"))
        var missing: [String] = []
        for row in rows.dropFirst() where row.count > max(path, priority) {
            guard ["P0", "P1"].contains(row[priority]), !row[path].contains("*") else { continue }
            let p = row[path]
            if Fixtures.catalog.entry(atPath: p) == nil && Fixtures.catalog.entry(atPath: p + ".value") == nil {
                missing.append(p)
            }
        }
        // driver.name is the catalog's spelling of driver.driver_name (the mapped field).
        #expect(missing == ["driver.name"], "\(missing)")
    }

    @Test func rejectsDuplicateNamesAndPathsAndUnknownUnits() {
        let yaml = """
            version: 1
            fields:
              - {name: a, path: x.a, type: number, unit: km, priority: P0}
              - {name: a, path: x.b, type: number, unit: km, priority: P0}
              - {name: c, path: x.a, type: number, unit: furlongs, priority: P1}
            """
        #expect {
            try FieldCatalog(yaml: yaml, file: "cat.yaml")
        } throws: { error in
            let e = error as! MappingValidationError
            return e.problems.count == 3
                && e.description.contains("field a listed twice")
                && e.description.contains("share path x.a")
                && e.description.contains("unknown unit furlongs")
        }
    }
}
