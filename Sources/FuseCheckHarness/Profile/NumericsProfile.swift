import Foundation
import FuseCheckCore
import FuseCheckOps

/// The numerics profile of a backend (spec P2): per operator and dtype, how it computes.
///
/// Property names and values are stable: they are the keys and values of the JSON format
/// (`ProfileReport`, format 1) that expectations files declare. Every property may also be
/// `undetermined` (the probes' outputs match none of the known alternatives, or a probe was
/// rejected or failed) or `n/a` (the property does not exist for the operator).
///
/// | property | values |
/// |---|---|
/// | `accumulator` | `fp32`, `wider` (e.g. fp64), `narrower` (partial sums held in fewer than 24 bits) |
/// | `order` | `k-ascending`, `k-descending`, `pairwise`, `split-k:S`, `split-k` |
/// | `output rounding` | `nearest-even`, `half-away`, `toward-zero` |
/// | `intermediate rounding` | `none`, `T` (the matmul result rounded to T before the bias) |
/// | `bias addition` | `fp32` (the bias meets the unrounded accumulator), `T` (an fp32 bias rounded to T) |
/// | `subnormal inputs` | `preserved`, `flushed` (DAZ) |
/// | `subnormal results` | `preserved`, `flushed` (FTZ) |
/// | `NaN` | `propagated`, `suppressed` |
/// | `activation at inf` | `limit`, `NaN` |
/// | `GELU` | `tanh`, `erf`, `silu` |
/// | `FastGELU slope` | `1.702`, `1` |
/// | `reduction precision` | `fp32`, `T` (every rank's partial rounded to T before the reduce-scatter) |
/// | `reduction order` | `rank` (((P_0 + P_1) + P_2) + ... on every destination), `other` |
/// | `determinism` | `deterministic`, `nondeterministic` |
///
/// `split-k:S`: contiguous chunks of S terms (S a power of two in 4...128) summed in chunk order;
/// `split-k` for chunks of another size. `bias addition` is `fp32` when there is no intermediate
/// rounding and the bias is T; AlltoAllAllGatherBatchMatMul's fp32 bias (bf16) has its own probe,
/// `T` when that bias is rounded to bf16 before the addition. After an intermediate rounding to T
/// it is undetermined: adding a T bias in T, or in fp32 followed by the cast, give the same bits
/// (fp32 has more than 2p + 2 bits of T's p, so the double rounding is innocuous).
/// `reduction order` `other` means not rank order in the reduction's precision (ring order,
/// another order, or a reduction wider than that precision).
/// The order, intermediate rounding, subnormal and reduction properties need an `fp32` or `wider`
/// accumulator: a narrower one rounds and underflows the probes itself.
public enum ProfileProperty: String, Sendable, CaseIterable, Codable {
    case accumulator
    case order
    case outputRounding = "output rounding"
    case intermediateRounding = "intermediate rounding"
    case biasAddition = "bias addition"
    case subnormalInputs = "subnormal inputs"
    case subnormalResults = "subnormal results"
    case nan = "NaN"
    case activationAtInfinity = "activation at inf"
    case gelu = "GELU"
    case fastGeluSlope = "FastGELU slope"
    case reductionPrecision = "reduction precision"
    case reductionOrder = "reduction order"
    case determinism
}

/// A property's measured value: one of the documented answers, `undetermined` or `n/a`.
public enum ProfileValue: Sendable, Hashable, CustomStringConvertible {
    /// A documented answer (see `ProfileProperty`).
    case value(String)
    /// The probes could not decide: the reason says why.
    case undetermined(String)
    /// The property does not exist for this operator.
    case notApplicable

    public var description: String {
        switch self {
        case .value(let text): text
        case .undetermined: "undetermined"
        case .notApplicable: "n/a"
        }
    }

    /// The documented answer, if the probes decided one.
    public var decided: String? {
        if case .value(let text) = self { return text }
        return nil
    }
}

/// The profile of one operator and dtype.
public struct OperatorProfile: Sendable {
    /// The operator.
    public var op: OperatorID
    /// The input dtype T.
    public var dtype: DType
    /// Every property's value.
    public var properties: [ProfileProperty: ProfileValue]

    public init(op: OperatorID, dtype: DType, properties: [ProfileProperty: ProfileValue]) {
        self.op = op
        self.dtype = dtype
        self.properties = properties
    }

    /// A property's value (`undetermined` if it was never measured).
    public subscript(property: ProfileProperty) -> ProfileValue {
        properties[property] ?? .undetermined("not measured")
    }
}

/// A backend's profile over operators and dtypes, with its table and JSON forms.
///
/// JSON, format 1 (keys and values as `ProfileProperty` lists them):
///
/// ```
/// {"format": 1, "backend": "reference",
///  "profiles": [{"op": "agmm", "dtype": "fp16",
///                "properties": {"accumulator": "fp32", "order": "k-ascending", ...},
///                "undetermined": {"bias addition": "why"}}]}
/// ```
public struct ProfileReport: Sendable {
    /// The JSON format version.
    public static let format = 1

    /// The backend's name.
    public var backend: String
    /// One profile per operator and dtype.
    public var profiles: [OperatorProfile]

    public init(backend: String, profiles: [OperatorProfile]) {
        self.backend = backend
        self.profiles = profiles
    }

    /// The table: a row per property, a column per operator and dtype.
    public func table() -> String {
        let headers = ["property"] + profiles.map { "\($0.op.rawValue) \($0.dtype.shortName)" }
        var rows = [headers]
        for property in ProfileProperty.allCases {
            rows.append([property.rawValue] + profiles.map { $0[property].description })
        }
        let widths = headers.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0], withPad: " ",
                                                                              startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// The reasons of every undetermined value, one line each.
    public func undeterminedReasons() -> [String] {
        profiles.flatMap { profile in
            ProfileProperty.allCases.compactMap { property in
                guard case .undetermined(let why) = profile[property] else { return nil }
                return "\(profile.op.rawValue) \(profile.dtype.shortName) \(property.rawValue): \(why)"
            }
        }
    }

    /// The JSON form (format 1).
    public func json() throws -> Data {
        struct Entry: Encodable {
            let op: String
            let dtype: String
            let properties: [String: String]
            let undetermined: [String: String]
        }
        struct Document: Encodable {
            let format: Int
            let backend: String
            let profiles: [Entry]
        }
        let entries = profiles.map { profile in
            var values: [String: String] = [:]
            var reasons: [String: String] = [:]
            for property in ProfileProperty.allCases {
                values[property.rawValue] = profile[property].description
                if case .undetermined(let why) = profile[property] { reasons[property.rawValue] = why }
            }
            return Entry(op: profile.op.rawValue, dtype: profile.dtype.shortName, properties: values,
                         undetermined: reasons)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(Document(format: Self.format, backend: backend, profiles: entries))
    }
}
