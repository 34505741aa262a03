import Foundation
import Testing
import FuseCheckOps
@testable import FuseCheckEngines

@Suite("Activations as spec §2 writes them")
struct ActivationTests {
    static let points: [Double] = [-20, -6, -3, -1.28, -0.75, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 2, 3, 6, 20]

    @Test("GELU equals the textbook tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))")
    func gelu() {
        for x in Self.points {
            let textbook = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            #expect(abs(ActivationType.gelu.apply(x) - textbook) <= 1e-12 * max(1, abs(x)), "x = \(x)")
        }
    }

    @Test("SiLU is x * sigmoid(x); ReLU is max(x, 0)")
    func siluRelu() {
        for x in Self.points {
            #expect(abs(ActivationType.silu.apply(x) - x * (1 / (1 + exp(-x)))) <= 1e-15 * max(1, abs(x)), "x = \(x)")
            #expect(ActivationType.relu.apply(x) == max(x, 0), "x = \(x)")
        }
    }

    @Test("FastGELU's stable form equals x / (1 + exp(-1.702 x)) where that does not overflow")
    func fastGelu() {
        for x in Self.points {
            let naive = x / (1 + exp(-1.702 * x))
            #expect(abs(ActivationType.fastGelu.apply(x) - naive) <= 1e-14 * max(1, abs(x)), "x = \(x)")
        }
        // Where the naive form overflows (exp(1.702 * 500) = inf) the stable form still gives -0.
        #expect(ActivationType.fastGelu.apply(-500) == 0)
    }

    @Test("at ±inf the activations return their limits; NaN stays NaN", arguments: ActivationType.allCases)
    func limits(act: ActivationType) {
        #expect(act.apply(Double.infinity) == .infinity)
        let negative = act.apply(-Double.infinity)
        #expect(act == .none ? negative == -.infinity : negative == 0)
        #expect(act.apply(Double.nan).isNaN)
        #expect(act.apply(Float.nan) { $0 }.isNaN)
    }

    @Test("the fp32 evaluation (vendor numerics) stays within a few fp32 ulps of the Double one",
          arguments: [ActivationType.gelu, .silu, .fastGelu])
    func narrowEvaluation(act: ActivationType) {
        for x in Self.points {
            let wide = act.apply(x)
            let narrow = Double(act.apply(Float(x)) { $0 })
            #expect(abs(narrow - wide) <= 1e-5 * max(abs(wide), 1e-3), "x = \(x): \(narrow) vs \(wide)")
        }
    }
}
