import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness

/// The fp32 evaluation term of the activated-output bound (`TolerancePolicy`, E_fp32): wide enough
/// for the standard fp32 formulas of frameworks, far too narrow for a wrong formula.
@Suite("Activation bound: the fp32 evaluation term passes framework formulas and still fails wrong ones")
struct ActivationCalibrationTests {
    /// t from -24 to 12 in steps of 1/128 (SiLU's tail reaches further than GELU's).
    static let grid = (-3072...1536).map { Double($0) / 128 }

    /// The bound of an element of a smoke-sized case (G = 4, 17 terms), with or without E_fp32.
    static func bound(_ activation: ActivationType, _ t: Double, _ dtype: DType,
                      withFloat32Term: Bool = true) -> Double {
        let y = activation.apply(t)
        let full = TolerancePolicy().activatedBound(activation: activation, preActivation: t, expected: y, gauge: 4,
                                                    bias: 0, terms: 17, dtype: dtype, probabilistic: false)
        return withFloat32Term ? full : full - TolerancePolicy.float32Evaluation(activation, preActivation: t)
    }

    @Test("the standard fp32 formulas (tail cancellation included) are within the bound; without E_fp32 they are not",
          arguments: [ActivationType.gelu, .silu, .fastGelu], [DType.float16, .bfloat16])
    func frameworkFormulasPass(_ activation: ActivationType, _ dtype: DType) {
        var failuresWithout = 0
        for t in Self.grid {
            let golden = dtype.round(activation.apply(Double(Float(t))))
            let framework = dtype.round(activation.applyStandardFloat32(Float(t)))
            let error = Double(abs(framework - golden))
            // The pre-activation is exact here (G = |t|, one term): only evaluation and rounding remain.
            let policy = TolerancePolicy()
            let y = Double(golden)
            let bound = policy.activatedBound(activation: activation, preActivation: t, expected: y, gauge: abs(t),
                                              bias: 0, terms: 1, dtype: dtype, probabilistic: true)
            #expect(error <= bound, "\(activation) at t = \(t): |\(framework) - \(golden)| > \(bound)")
            if error > bound - TolerancePolicy.float32Evaluation(activation, preActivation: t) { failuresWithout += 1 }
        }
        print("framework \(activation) \(dtype.shortName): \(failuresWithout) of \(Self.grid.count) t need E_fp32")
        if activation != .fastGelu && dtype == .bfloat16 {
            // The tanh forms cancel in the tail: the term is needed there (in fp16 the tail's
            // results are below fp16's subnormals, within η_T).
            #expect(failuresWithout > 0, "\(activation) \(dtype) would pass without E_fp32")
        }
    }

    /// The wrong formulas of the calibration: (name, activation, wrong evaluation).
    static let wrongFormulas: [(String, ActivationType, @Sendable (Double) -> Double)] = [
        ("GELU without the cubic term", .gelu, { $0 / (1 + exp(-ActivationType.geluScale * $0)) }),
        ("GELU as SiLU", .gelu, { ActivationType.silu.apply($0) }),
        ("FastGELU with slope 1", .fastGelu, { ActivationType.silu.apply($0) }),
    ]

    @Test("GELU without the cubic term, GELU as SiLU and FastGELU with slope 1 fail by a wide margin",
          arguments: [DType.float16, .bfloat16])
    func wrongFormulasFail(_ dtype: DType) {
        for (name, activation, wrong) in Self.wrongFormulas {
            var margin = 0.0, marginWithout = 0.0, termMargin = Double.infinity
            for t in Self.grid {
                let difference = abs(wrong(t) - activation.apply(t))
                margin = max(margin, difference / Self.bound(activation, t, dtype))
                let boundWithout = Self.bound(activation, t, dtype, withFloat32Term: false)
                marginWithout = max(marginWithout, difference / boundWithout)
                if abs(t) >= 0.5 && abs(t) <= 4 {
                    let term = TolerancePolicy.float32Evaluation(activation, preActivation: t)
                    termMargin = min(termMargin, difference / term)
                }
            }
            // The wrong formula exceeds the bound over 100-fold somewhere, and on |t| in [0.5, 4],
            // where the formulas differ most, by over 1000 times E_fp32.
            #expect(margin > 100, "\(name) \(dtype): margin \(margin)")
            #expect(termMargin > 1e3, "\(name): difference / E_fp32 = \(termMargin) on |t| in [0.5, 4]")
            print(String(format: "calibration %@ %@: max difference/bound %.3g (%.3g without E_fp32); "
                         + "min difference/E_fp32 on |t| in [0.5, 4]: %.3g",
                         name, dtype.shortName, margin, marginWithout, termMargin))
        }
    }

    @Test("the mutants gelu-as-silu and fastgelu-slope-1 are still caught on the smoke suite",
          arguments: ["mutant:gelu-as-silu", "mutant:fastgelu-slope-1"])
    func mutantsCaught(_ name: String) throws {
        let runner = Runner(backend: try BackendCatalog.backend(named: name))
        let caught = smokeSuite.cases.lazy.map { runner.run($0, golden: smokeGoldens[$0.id]) }
            .first { $0.status.isFailure }
        #expect(caught != nil, "\(name) passes the smoke suite")
        if let caught { print("\(name) caught by \(caught.id): \(caught.message.prefix(200))") }
    }
}
