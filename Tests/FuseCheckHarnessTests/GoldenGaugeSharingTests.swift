import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness

@Suite("Golden and gauge computed together")
struct GoldenGaugeSharingTests {
    static func bits(_ world: WorldTensors, _ name: String) -> [[UInt32]] {
        (0..<world.rankCount).map { world[$0, name]?.values.map(\.bitPattern) ?? [] }
    }

    @Test("AlltoAllAllGatherBatchMatMul: the shared pass gives the separate passes' golden and gauge, bit for bit")
    func sharedPreActivation() throws {
        let cases = smokeSuite.cases.filter { $0.op == AlltoAllAllGatherBatchMatMulCall.operatorID }
        var activated = 0
        for testCase in cases {
            let call = try #require(try testCase.makeCall() as? AlltoAllAllGatherBatchMatMulCall)
            guard call.violations().isEmpty else { continue }
            let inputs = try InputGenerator.inputs(for: testCase)
            guard case .completed(let separateOutputs) = try ReferenceEngine().run(call, inputs: inputs) else {
                Issue.record("\(testCase.id): the reference rejected it")
                continue
            }
            let separateGauge = call.referenceGauge(inputs: inputs)
            let shared = try #require(try call.referenceGoldenAndGauge(inputs: inputs))
            if call.activation != ActivationType.none { activated += 1 }
            for name in ["y1", "y2", "y3"] {
                #expect(Self.bits(shared.outputs, name) == Self.bits(separateOutputs, name), "\(testCase.id) \(name)")
            }
            for name in ["y1", "y3"] {
                #expect(Self.bits(shared.gauge.preActivation, name) == Self.bits(separateGauge.preActivation, name),
                        "\(testCase.id) t of \(name)")
                #expect(Self.bits(shared.gauge.magnitude, name) == Self.bits(separateGauge.magnitude, name),
                        "\(testCase.id) G of \(name)")
            }
        }
        #expect(activated >= 10, "only \(activated) activated AlltoAllAllGatherBatchMatMul smoke cases")
    }
}
