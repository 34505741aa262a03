import FuseCheckCore
import Testing

@Suite("Float16 rounding half away from zero")
struct Float16RoundingTests {
    struct Example: Sendable, CustomTestStringConvertible {
        let input: Float
        let even: UInt16
        let away: UInt16
        var testDescription: String { describe(input) }
    }

    // Worked by hand from binary16: in [2048, 4096) the spacing is 2, so 2049 is a tie between
    // 2048 (0x6800, even) and 2050 (0x6801); 2051 is a tie between 0x6801 and 0x6802 (even).
    static let examples: [Example] = [
        Example(input: 1, even: 0x3C00, away: 0x3C00),
        Example(input: 1 + 0x1p-11, even: 0x3C00, away: 0x3C01),
        Example(input: 2049, even: 0x6800, away: 0x6801),
        Example(input: 2051, even: 0x6802, away: 0x6802),
        Example(input: -2049, even: 0xE800, away: 0xE801),
        Example(input: -2051, even: 0xE802, away: 0xE802),
        Example(input: 2049 + 0x1p-12, even: 0x6801, away: 0x6801),  // one Float ulp above the tie
        Example(input: 2049 - 0x1p-12, even: 0x6800, away: 0x6800),
        Example(input: 2046.5, even: 0x67FE, away: 0x67FF),
        Example(input: 2047.5, even: 0x6800, away: 0x6800),  // tie with 2047 (odd) carries into the next binade
        Example(input: 65504, even: 0x7BFF, away: 0x7BFF),
        Example(input: 65520 - 0x1p-8, even: 0x7BFF, away: 0x7BFF),  // just below max + half ulp
        Example(input: 65520, even: 0x7C00, away: 0x7C00),  // max + half ulp: both overflow
        Example(input: -65520, even: 0xFC00, away: 0xFC00),
        Example(input: 0x1p-25, even: 0x0000, away: 0x0001),  // half the least subnormal
        Example(input: -0x1p-25, even: 0x8000, away: 0x8001),
        Example(input: 3 * 0x1p-25, even: 0x0002, away: 0x0002),
        Example(input: 5 * 0x1p-25, even: 0x0002, away: 0x0003),
        Example(input: 0x1p-14 - 0x1p-25, even: 0x0400, away: 0x0400),  // greatest subnormal + half: to normal
        Example(input: -0.0, even: 0x8000, away: 0x8000),
        Example(input: .infinity, even: 0x7C00, away: 0x7C00),
        Example(input: -.infinity, even: 0xFC00, away: 0xFC00),
    ]

    @Test("worked roundings from Float", arguments: examples)
    func workedExamples(example: Example) {
        #expect(Float16(example.input).bitPattern == example.even)
        #expect(Float16(roundingHalfAwayFromZero: example.input).bitPattern == example.away)
        #expect(Float16(Double(example.input)).bitPattern == example.even)
    }

    @Test("half away differs from half even only on exact ties, and then by one step away from zero")
    func differsOnlyOnTies() {
        let format = BinaryFormat.binary16
        var log = MismatchLog()
        var differences = 0
        for pair in RoundingFromFloatTests.adjacentPairs(format) {
            for point in RoundingFromFloatTests.floatPoints(around: pair) {
                let even = Float16(point)
                let away = Float16(roundingHalfAwayFromZero: point)
                guard even.bitPattern != away.bitPattern else { continue }
                differences += 1
                let isTie = abs(Double(point)) == pair.midpoint
                if !isTie || away.bitPattern != even.bitPattern + 1 {
                    log.record("\(describe(point)): even \(hex(even.bitPattern)), away \(hex(away.bitPattern))")
                }
            }
        }
        #expect(log.isEmpty, "\(log)")
        // Ties with an even lower neighbour, both signs: half the pairs.
        #expect(differences == 2 * (Int(format.greatestFinitePattern) + 1) / 2)
    }
}
