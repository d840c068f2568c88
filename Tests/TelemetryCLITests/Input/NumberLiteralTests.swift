import Foundation
import Testing

@testable import TelemetryCLI

@Suite struct NumberLiteralTests {
    /// The fast path must agree bit for bit with strtod, which `Double(String)` uses.
    @Test func parsesDecimalsExactlyLikeStrtod() {
        var generator = SystemRandomNumberGenerator()
        var texts = [
            "0", "-0", "-0.0", "0.000001234", "44.758037", "-0.390688", "182077.052", "9007199254740993",
            "123456789012345", "1234567890123456", "0.1", "1e22", "1e23", "1.5e-22", "2.5E+3", ".5", "5.",
            "1.7976931348623157e308", "4.9e-324", "1e-400", "999999999999999.9", "00012.50",
        ]
        for _ in 0..<5_000 {
            let value = Double.random(in: -1e7...1e7, using: &generator)
            let digits = Int.random(in: 0...12, using: &generator)
            texts.append(String(format: "%.\(digits)f", value))
            texts.append(String(format: "%.\(digits)e", value))
        }
        for text in texts {
            let expected = Double(text)
            #expect(NumberLiteral.double(text.utf8)?.bitPattern == expected?.bitPattern, "\(text)")
        }
    }

    @Test(arguments: ["", "-", "+", ".", "e5", "1e", "1e+", "1..2", "1.2.3", "--1", "1-", "nan", "inf", "0x10", "1 "])
    func rejectsNonNumbers(text: String) {
        #expect(NumberLiteral.double(text.utf8) == nil)
    }

    @Test func parsesIntegers() {
        #expect(NumberLiteral.int64("-9223372036854775808".utf8) == .min)
        #expect(NumberLiteral.int64("9223372036854775807".utf8) == .max)
        #expect(NumberLiteral.int64("9223372036854775808".utf8) == nil)
        #expect(NumberLiteral.int64("+0".utf8) == 0)
        #expect(NumberLiteral.int64("1x".utf8) == nil)
        #expect(NumberLiteral.uint64("18446744073709551615".utf8) == .max)
        #expect(NumberLiteral.uint64("18446744073709551616".utf8) == nil)
    }
}
