import FuseCheckCore

/// The accuracy criteria vendor users know (spec §6), computed over the elements of an output and
/// reported beside FuseCheck's own verdict; any of them can be made the pass criterion. A
/// non-finite mismatch (NaN where the golden is a number, inf where it is finite or the other inf)
/// fails every criterion: the statistics are over finite pairs, and would otherwise say "pass".
public enum Criterion: String, Sendable, Codable, CaseIterable {
    /// FuseCheck's error-analysis bounds (`TolerancePolicy`) and the mean-signed-error test.
    case fusecheck
    /// 双千分之一 family: fp16/bf16 pass if under 1% of elements have relative error over 1%,
    /// warn unless under 0.1% have relative error over 0.1%.
    case dualThousandth = "dual-thousandth"
    /// MERE < thr and MARE < 10 thr, thr = 2^-10 (fp16), 2^-7 (bf16); RE = |a-g| / (|g| + 1e-7).
    case mereMare = "mere-mare"
    /// |a-g| <= atol + rtol |g| (2^-9 fp16, 2^-6 bf16) for at least 99% of elements, and the max
    /// absolute error at most max(floor, 32 ulp of the largest |g|), floor 0.1 (fp16), 1.0 (bf16).
    case mixed
}

/// The vendor criteria's statistics and verdicts for one output.
public struct VendorCriteriaReport: Sendable, Codable, Equatable {
    /// Fraction of elements with relative error above 0.1%.
    public var fractionOverThousandth: Double
    /// Fraction of elements with relative error above 1%.
    public var fractionOverHundredth: Double
    /// Mean relative error.
    public var mere: Double
    /// Max relative error.
    public var mare: Double
    /// Fraction of elements within the mixed tolerance.
    public var mixedFractionWithin: Double
    /// Max absolute error.
    public var maxAbsoluteError: Double
    /// Elements where got and golden are not both finite and do not match as the comparator
    /// matches special values (NaN with NaN, inf with the same inf); each fails every criterion.
    public var nonFiniteMismatches: Int
    /// Verdicts by criterion name.
    public var verdicts: [String: OutputVerdict]

    /// Computes the statistics over paired values. `accepted` marks the elements the comparator
    /// accepts although they differ (a finite value at T's overflow threshold for inf, an allowed
    /// implementation-defined behaviour): they count as exact. Without it only identical special
    /// values match.
    static func compute(got: [Float], expected: [Float], dtype: DType,
                        accepted: [Bool] = []) -> VendorCriteriaReport {
        var overThousandth = 0, overHundredth = 0, within = 0, count = 0, nonFinite = 0
        var sumRE = 0.0, maxRE = 0.0, maxAbs = 0.0, largest = 0.0
        let (threshold, tolerance, floor): (Double, Double, Double) = dtype == .bfloat16
            ? (0x1p-7, 0x1p-6, 1.0) : (0x1p-10, 0x1p-9, 0.1)
        for (index, (a, g)) in zip(got, expected).enumerated() {
            if index < accepted.count && accepted[index] {
                count += 1
                within += 1
                largest = max(largest, g.isFinite ? Double(abs(g)) : 0)
                continue
            }
            guard a.isFinite && g.isFinite else {
                if !((a.isNaN && g.isNaN) || (g.isInfinite && a == g)) { nonFinite += 1 }
                continue
            }
            let (a, g) = (Double(a), Double(g))
            let absolute = abs(a - g)
            let relative = absolute / (abs(g) + 1e-7)
            count += 1
            if relative > 1e-3 { overThousandth += 1 }
            if relative > 1e-2 { overHundredth += 1 }
            if absolute <= tolerance + tolerance * abs(g) { within += 1 }
            sumRE += relative
            maxRE = max(maxRE, relative)
            maxAbs = max(maxAbs, absolute)
            largest = max(largest, abs(g))
        }
        let n = Double(max(count, 1))
        var report = VendorCriteriaReport(fractionOverThousandth: Double(overThousandth) / n,
                                          fractionOverHundredth: Double(overHundredth) / n,
                                          mere: sumRE / n, mare: maxRE,
                                          mixedFractionWithin: count == 0 ? 1 : Double(within) / n,
                                          maxAbsoluteError: maxAbs, nonFiniteMismatches: nonFinite, verdicts: [:])
        let clean = nonFinite == 0
        report.verdicts[Criterion.dualThousandth.rawValue] = !clean || report.fractionOverHundredth >= 0.01
            ? .fail : (report.fractionOverThousandth >= 0.001 ? .warn : .pass)
        report.verdicts[Criterion.mereMare.rawValue] =
            clean && report.mere < threshold && report.mare < 10 * threshold ? .pass : .fail
        let ulpOfLargest = largest * dtype.unitRoundoff * 2
        report.verdicts[Criterion.mixed.rawValue] =
            clean && report.mixedFractionWithin >= 0.99 && maxAbs <= max(floor, 32 * ulpOfLargest) ? .pass : .fail
        return report
    }
}

extension VendorCriteriaReport {
    /// Decodes reports written before `nonFiniteMismatches` existed (findings in corpora) as 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        fractionOverThousandth = try container.decode(Double.self, forKey: .fractionOverThousandth)
        fractionOverHundredth = try container.decode(Double.self, forKey: .fractionOverHundredth)
        mere = try container.decode(Double.self, forKey: .mere)
        mare = try container.decode(Double.self, forKey: .mare)
        mixedFractionWithin = try container.decode(Double.self, forKey: .mixedFractionWithin)
        maxAbsoluteError = try container.decode(Double.self, forKey: .maxAbsoluteError)
        nonFiniteMismatches = try container.decodeIfPresent(Int.self, forKey: .nonFiniteMismatches) ?? 0
        verdicts = try container.decode([String: OutputVerdict].self, forKey: .verdicts)
    }
}
