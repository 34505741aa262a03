import FuseCheckEngines

/// Implementations that differ from the golden only in ways a correct kernel may: the tolerance
/// policy must pass every one of them on every case (spec §3).
public enum CorrectVariants {
    /// The variants, each a reference engine with other numerics.
    public static let all: [ReferenceEngine] = [
        ReferenceEngine(numerics: ReferenceNumerics(epilogue: .vendor), name: "variant:vendor-epilogue"),
        ReferenceEngine(numerics: ReferenceNumerics(accumulation: .splitK(4)), name: "variant:split-k"),
        ReferenceEngine(numerics: ReferenceNumerics(accumulation: .fp64), name: "variant:fp64-accumulation"),
        ReferenceEngine(numerics: ReferenceNumerics(rounding: .halfAwayFromZero), name: "variant:round-half-away"),
        // numerics-profile P1: implementation-defined behaviours, allowed by default, flagged by --strict.
        ReferenceEngine(numerics: ReferenceNumerics(activationEvaluation: .standardFloat32), name: "variant:framework"),
        ReferenceEngine(numerics: ReferenceNumerics(subnormals: .flushed), name: "variant:flush"),
        // quantized.md Q3: the cube's fixpipe dequantization (scales multiplied first); the
        // T-rounded partials of MatmulReduceScatter are `variant:vendor-epilogue`.
        ReferenceEngine(numerics: ReferenceNumerics(dequantization: .fixpipe), name: "variant:fixpipe-dequant"),
    ]

    /// The variants that show implementation-defined behaviours (numerics-profile P1): they pass by
    /// default, and a strict comparison must flag them.
    public static let implementationDefinedNames: Set<String> = ["variant:framework", "variant:flush"]
}
