import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness

/// The `exact` mode's promise: every fp32-accumulating implementation, in any summation order and
/// with any rounding of ties, produces the same matmul output bits.
@Suite("Exact data is exact in every summation order")
struct ExactDataTests {
    /// Accumulates one output element in three orders: ascending, descending, and a pairwise tree.
    static func orders(_ a: [Float], _ b: [Float]) -> [Float] {
        var ascending: Float = 0
        for k in a.indices { ascending = ascending.addingProduct(a[k], b[k]) }
        var descending: Float = 0
        for k in a.indices.reversed() { descending = descending.addingProduct(a[k], b[k]) }
        func pairwise(_ range: Range<Int>) -> Float {
            if range.count <= 2 { return range.reduce(Float(0)) { $0 + a[$1] * b[$1] } }
            let middle = range.lowerBound + range.count / 2
            return pairwise(range.lowerBound..<middle) + pairwise(middle..<range.upperBound)
        }
        return [ascending, descending, pairwise(a.indices)]
    }

    static let exactAllGatherCases = smokeSuite.cases.filter {
        // Unquantized: quantized exact data (scaled int8) is checked in `QuantizedTests.exactData`.
        $0.data == .exact && $0.op == AllGatherMatmulCall.operatorID && $0.params["q"] == nil
    }

    @Test("AllGatherMatmul exact smoke cases: every order and both tie rules give the reference's bits")
    func allGatherMatmul() throws {
        #expect(!Self.exactAllGatherCases.isEmpty)
        for testCase in Self.exactAllGatherCases {
            let call = try #require(try testCase.makeCall() as? AllGatherMatmulCall)
            let inputs = try InputGenerator.inputs(for: testCase)
            guard case .completed(let outputs) = try ReferenceEngine().run(call, inputs: inputs) else {
                Issue.record("\(testCase.id) rejected")
                continue
            }
            let gathered = (0..<call.worldSize).flatMap { inputs[$0, "x1"]!.values }
            var mismatches = 0
            for rank in 0..<call.worldSize {
                let x2 = StoredOperand(inputs[rank, "x2"]!, isTransposed: call.x2Transposed).logical.values
                let output = outputs[rank, "output"]!.values
                for row in 0..<(call.m * call.worldSize) {
                    let a = Array(gathered[(row * call.k)..<((row + 1) * call.k)])
                    for column in 0..<call.n {
                        var b = [Float](repeating: 0, count: call.k)
                        for depth in 0..<call.k { b[depth] = x2[depth * call.n + column] }
                        for acc in Self.orders(a, b) {
                            let t = acc + (inputs[rank, "bias"]?.values[column] ?? 0)
                            let expected = output[row * call.n + column]
                            if call.x1.dtype.round(t) != expected || call.x1.dtype.roundHalfAwayFromZero(t) != expected {
                                mismatches += 1
                            }
                        }
                    }
                }
            }
            #expect(mismatches == 0, "\(testCase.id): \(mismatches) elements differ between orders")
        }
    }

    @Test("the vendor-numerics epilogue gives the golden's bits on exact data without a smooth activation")
    func vendorEpilogue() throws {
        let cases = smokeSuite.cases.filter { testCase in
            guard testCase.data == .exact else { return false }
            let act = testCase.params["act"].flatMap(Int.init) ?? 0
            return act == 0 || act == 3
        }
        #expect(cases.count >= 5)
        for testCase in cases {
            let ideal = try Goldens.compute(testCase, engine: ReferenceEngine(epilogue: .ideal))
            let vendor = try Goldens.compute(testCase, engine: ReferenceEngine(epilogue: .vendor))
            #expect(ideal == vendor, "\(testCase.id)")
        }
    }

    @Test("on real-valued data the vendor epilogue differs from the golden (so the check above is not vacuous)")
    func vendorDiffersOnRealData() throws {
        let testCase = AlltoAllAllGatherBatchMatMulCases.make(.bfloat16, ep: 2, tp: 2, experts: 4, capacity: 8,
                                                              hidden: 64, outputWidth: 16, shard: .gatherC, act: .gelu,
                                                              bias: 2, y3: true, data: .normal, seed: 3)
        let ideal = try Goldens.compute(testCase, engine: ReferenceEngine(epilogue: .ideal))
        let vendor = try Goldens.compute(testCase, engine: ReferenceEngine(epilogue: .vendor))
        #expect(ideal.outputs["y1"] != vendor.outputs["y1"])
    }
}
