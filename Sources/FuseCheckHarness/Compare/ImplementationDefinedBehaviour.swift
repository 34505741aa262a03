import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// A difference from the golden that a correct real implementation may show: the
/// implementation-defined behaviours of numerics-profile P1. Allowed by default and reported
/// (per output, per case and in the run's summary); `--strict` (`Comparator.strict`) makes each a
/// failure, for implementations that promise the golden.
///
/// The comparator recognizes each per element, with the golden's context, only where the golden
/// itself shows the behaviour could arise:
///
/// - `activationOfInfinity`: an activated output is NaN where the golden's fp32 pre-activation t
///   is ±inf (the golden has the limit; `x*sigmoid(x)` and `0.5*x*(1+tanh(.))` give inf·0). An
///   element that a flush would explain too (its pre-activation inf * subnormal) counts here.
/// - `subnormalsFlushed`: where the golden recomputed on the inputs with every subnormal of T read
///   as zero (DAZ) differs from the golden, the element is acceptable against the recomputation
///   (within the warn bound of its own gauge, or the same special value); or it is ±0 where the golden, or that
///   recomputation, is a subnormal of T (FTZ). This covers `inf * subnormal` turned into
///   `inf * 0 = NaN` inside the matmul, and nothing that needs any other input changed.
/// - `signOfExactZero`: ±0 where the golden is the other zero and the element is an exact zero,
///   every term of its sum being zero (gauge G = 0; any zero of an `exact`-data matmul output):
///   its sign is only the accumulator's seed. A zero that is a rounded tiny value may have
///   either sign under any correct order and is not counted at all.
///
/// NaN sign and payload are never compared: IEEE 754 leaves them unspecified and the golden does
/// not promise them, so they are neither counted nor failed.
///
/// Not implementation-defined, failures in both modes: a number where the golden is NaN
/// (ReLU(NaN) = 0 suppresses a diverging run), NaN or inf where no inf, NaN, overflow or flushed
/// subnormal explains it, a finite value where the golden is inf other than at T's overflow threshold.
public enum ImplementationDefinedBehaviour: String, Sendable, Codable, CaseIterable, Comparable {
    case activationOfInfinity = "activation-of-inf-nan"
    case subnormalsFlushed = "subnormals-flushed"
    case signOfExactZero = "sign-of-exact-zero"

    /// How reports name it.
    public var wording: String {
        switch self {
        case .activationOfInfinity: "activation of ±inf gave NaN"
        case .subnormalsFlushed: "subnormals flushed to zero (DAZ/FTZ)"
        case .signOfExactZero: "sign of an exact zero differs from the golden's +0"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// "3 × activation of ±inf gave NaN, 1 × subnormals flushed to zero (DAZ/FTZ)" for counts
    /// keyed by raw value (unknown keys are printed as they are).
    public static func describe(_ counts: [String: Int]) -> String {
        counts.keys.sorted().map { key in
            "\(counts[key]!) × \(Self(rawValue: key)?.wording ?? key)"
        }.joined(separator: ", ")
    }
}

/// The golden recomputed on inputs with every subnormal of T read as zero (DAZ), computed only
/// when an element needs it and only for inputs that hold a subnormal.
final class FlushedGolden {
    private let call: any HarnessCall
    private let inputs: WorldTensors
    private var computed = false
    private var golden: Golden?

    init(call: any HarnessCall, inputs: WorldTensors) {
        self.call = call
        self.inputs = inputs
    }

    /// The recomputed golden; nil when no input holds a subnormal (it would be the golden itself).
    var value: Golden? {
        if !computed {
            computed = true
            let hasSubnormal = inputs.ranks.contains { rank in
                rank.values.contains { tensor in
                    tensor.values.contains { tensor.dtype.flushingSubnormal($0).bitPattern != $0.bitPattern }
                }
            }
            if hasSubnormal {
                let flushed = WorldTensors(ranks: inputs.ranks.map { rank in
                    rank.mapValues { tensor in
                        Tensor(dtype: tensor.dtype, shape: tensor.shape,
                               values: tensor.values.map(tensor.dtype.flushingSubnormal))
                    }
                })
                golden = try? Runner.golden(call, inputs: flushed)
            }
        }
        return golden
    }
}
