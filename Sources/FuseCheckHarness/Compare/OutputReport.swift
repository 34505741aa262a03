import FuseCheckCore
import FuseCheckOps

/// The verdict on one output (and, worst over outputs, on a case).
public enum OutputVerdict: String, Sendable, Codable, Comparable {
    case pass
    case warn
    case fail

    private var rank: Int { self == .pass ? 0 : (self == .warn ? 1 : 2) }
    public static func < (lhs: OutputVerdict, rhs: OutputVerdict) -> Bool { lhs.rank < rhs.rank }
}

/// One element named by rank and multi-index, with what was expected and how far off it is.
public struct ElementReport: Sendable, Codable, Equatable, CustomStringConvertible {
    public var rank: Int
    public var index: [Int]
    public var got: Float
    public var expected: Float
    /// The pass bound at this element (absent for bit-exact comparisons).
    public var bound: Double?
    /// |got - expected| / bound.
    public var ratio: Double?

    public var description: String {
        var text = "rank \(rank) \(shapeDescription(index)): got \(got), expected \(expected)"
        if let bound, let ratio {
            text += String(format: ", bound %.3g, %.3g x bound", bound, ratio)
        }
        return text
    }
}

/// The comparison of one output over every rank.
public struct OutputReport: Sendable, Codable, Equatable {
    /// The output's name (`output`, `gather_out`, `y1`, ...).
    public var name: String
    /// How it was compared: `bit-exact` or `tolerance`.
    public var method: String
    public var verdict: OutputVerdict
    /// Elements compared, over all ranks.
    public var elements: Int
    /// Elements that differ (bit-exact) or exceed the warn bound (tolerance).
    public var failures: Int
    /// Elements between the pass and the warn bound (tolerance only).
    public var warnings: Int
    /// The first differing element (bit-exact) or the worst one (tolerance).
    public var worst: ElementReport?
    public var maxAbsoluteError: Double
    public var maxRelativeError: Double
    /// Counts of the distance in units in the last place of T: "0", "1", "2", "3-4", "5-8", "9-16", ">16", "nan/inf".
    public var ulpHistogram: [String: Int]
    /// Mean of (got - expected) * sign(expected) / ulp(expected): about 0 for any correct rounding.
    public var meanSignedError: Double?
    /// That mean divided by its standard error.
    public var meanSignedErrorZ: Double?
    /// The vendor criteria of spec §6, for tolerance comparisons.
    public var vendor: VendorCriteriaReport?
    /// One line saying what is wrong (empty on a pass without implementation-defined behaviour).
    public var message: String
    /// Elements showing an implementation-defined behaviour (numerics-profile P1), by
    /// `ImplementationDefinedBehaviour` raw value; nil when none did. They pass unless the
    /// comparison is strict, where they are also counted in `failures`.
    public var implementationDefined: [String: Int]?
}

/// Units in the last place of a value of T at magnitude |x| (normal range; subnormal spacing below).
func ulp(_ x: Float, _ dtype: DType) -> Double {
    let minimumExponent = dtype == .float16 ? -14 : -126
    let exponent = max(Int(x.exponent), minimumExponent)
    return Double(sign: .plus, exponent: exponent - (dtype.precision - 1), significand: 1)
}

/// The distance between two finite values of T counted in representable steps.
func ulpDistance(_ a: Float, _ b: Float, _ dtype: DType) -> Int {
    func ordinal(_ x: Float) -> Int {
        let bits = Int(dtype.bits(of: x))
        let signBit = dtype == .float32 ? 1 << 31 : 1 << 15
        return bits & signBit != 0 ? -(bits & (signBit - 1)) : bits
    }
    return abs(ordinal(a) - ordinal(b))
}

/// Counts per `ulpHistogram` bucket, kept in an array while elements are compared (a string-keyed
/// dictionary update per element cost more than the comparison itself).
struct UlpHistogram {
    /// The buckets in order; `dictionary` names them.
    static let names = ["0", "1", "2", "3-4", "5-8", "9-16", ">16", "nan/inf"]
    private var counts = [Int](repeating: 0, count: UlpHistogram.names.count)

    /// One more element at `distance` ulps.
    mutating func add(distance: Int) { counts[Self.bucketIndex(distance)] += 1 }

    /// `count` more elements at `distance` ulps.
    mutating func add(distance: Int, count: Int) { counts[Self.bucketIndex(distance)] += count }

    /// One more element that is (or is compared with) NaN or inf.
    mutating func addSpecial() { counts[Self.names.count - 1] += 1 }

    /// The buckets that were hit, by name.
    var dictionary: [String: Int] {
        var result: [String: Int] = [:]
        for (name, count) in zip(Self.names, counts) where count > 0 { result[name] = count }
        return result
    }

    /// The bucket of a distance (`histogramBucket`'s, by position in `names`).
    static func bucketIndex(_ distance: Int) -> Int {
        switch distance {
        case 0: 0
        case 1: 1
        case 2: 2
        case 3...4: 3
        case 5...8: 4
        case 9...16: 5
        default: 6
        }
    }
}

func histogramBucket(_ distance: Int) -> String {
    switch distance {
    case 0: "0"
    case 1: "1"
    case 2: "2"
    case 3...4: "3-4"
    case 5...8: "5-8"
    case 9...16: "9-16"
    default: ">16"
    }
}
