import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckExternal
@testable import FuseCheckMutants

/// The quantized call (quantized.md Q2, Q3) end to end: the reference's numerics written out by
/// hand, the pipelined engine's bit identity, the tolerance against faithful roundings, the data.
@Suite("The quantized call: reference, pipelined engine, tolerance and data")
struct QuantizedTests {
    static var quantizedSmoke: [Case] { smokeSuite.cases.filter { $0.params["q"] == "int8" } }

    /// Runs a valid case on an engine.
    static func outputs(_ testCase: Case, _ engine: any Engine) throws -> WorldTensors {
        let call = try testCase.makeCall()
        let inputs = try InputGenerator.inputs(for: testCase)
        guard case .completed(let outputs) = try engine.run(call, inputs: inputs) else {
            Issue.record("\(testCase.id) was rejected")
            return WorldTensors(rankCount: 0)
        }
        return outputs
    }

    @Test("smoke holds quantized cases of both operators, fp16 and bf16, fp32 and int64 scales, every data mode")
    func smokeCoverage() {
        let cases = Self.quantizedSmoke
        #expect(Set(cases.map(\.op.rawValue)) == ["agmm", "mmrs"])
        #expect(Set(cases.map(\.dtype)) == [.float16, .bfloat16])
        #expect(Set(cases.compactMap { $0.params["x2s"] }) == ["fp32", "int64"])
        #expect(Set(cases.map(\.data)) == Set(DataMode.allCases))
    }

    @Test("the pipelined engine's int8 path is bit-identical to the reference on every quantized smoke case")
    func pipelinedBitIdentical() throws {
        for testCase in Self.quantizedSmoke {
            for name in ["pipelined", "pipelined-splitk"] {
                let differing = try PipelinedGoldenTests.differingOutputs(
                    testCase, ReferenceEngine(), try BackendCatalog.builtInEngine(named: name))
                #expect(differing.isEmpty, "\(testCase.id) on \(name): \(differing)")
            }
        }
    }

    @Test("AllGatherMatmul: output row i takes row i mod m of source rank i / m's x1_scale (hand-derived)")
    func tokenScalesGathered() throws {
        // ws 2, m 1, k 2, n 1: x1_0 = [1, 1], x1_1 = [2, 2], x2 = [[1], [1]] on both ranks, so
        // acc = [2, 4]; x1_scale 0.5 on rank 0 and 4 on rank 1, x2_scale 1 and 3:
        // rank 0: [2 * 1 * 0.5, 4 * 1 * 4] = [1, 16]; rank 1: [2 * 3 * 0.5, 4 * 3 * 4] = [3, 48].
        var call = AllGatherMatmulCall(platform: .a3, dtype: .int8, worldSize: 2, m: 1, k: 2, n: 1)
        call.commMode = CommMode.aiv
        call.outputDType = .float16
        call.x1Scale = TensorSpec(.float32, [1, 1])
        call.x2Scale = TensorSpec(.float32, [1, 1])
        var inputs = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            inputs[rank, "x1"] = Tensor(dtype: .int8, shape: [1, 2], values: [Float(rank + 1), Float(rank + 1)])
            inputs[rank, "x2"] = Tensor(dtype: .int8, shape: [2, 1], values: [1, 1])
            inputs[rank, "x1_scale"] = Tensor(dtype: .float32, shape: [1, 1], values: [rank == 0 ? 0.5 : 4])
            inputs[rank, "x2_scale"] = Tensor(dtype: .float32, shape: [1, 1], values: [rank == 0 ? 1 : 3])
        }
        let outputs = call.referenceOutputs(inputs: inputs, numerics: .golden)
        #expect(outputs[0, "output"]?.values == [1, 16])
        #expect(outputs[1, "output"]?.values == [3, 48])
        #expect(outputs[0, "gather_out"]?.values == [1, 1, 2, 2] && outputs[0, "gather_out"]?.dtype == .int8)
    }

    @Test("int32 accumulation is exact at the extremes: k = 65534 products of -128 * -128")
    func exactAccumulation() {
        let k = 65534
        let left = Tensor(dtype: .int8, shape: [1, k], values: Array(repeating: -128, count: k))
        let right = StoredOperand(Tensor(dtype: .int8, shape: [k, 1], values: Array(repeating: -128, count: k)),
                                  isTransposed: false)
        let acc = QuantizedAccumulation.accumulate(left: left, right: right)
        #expect(acc == [Int32(16384 * k)])
        // An int16 accumulator wraps: 16384 k mod 2^16, read as signed.
        let wrapped = QuantizedAccumulation.accumulate(left: left, right: right, wrapping16: true)
        #expect(wrapped == [Int32(Int16(truncatingIfNeeded: 16384 * k))])
    }

    @Test("every faithful rounding of the exact dequantized product passes (fixpipe path), drawn unbiased",
          arguments: ["agmm:a3:fp16:ws=2:m=8:k=512:n=40:mode=aiv:q=int8:x1s=1:x2s=int64:data=uniform:seed=3",
                      "agmm:a2:bf16:ws=4:m=6:k=256:n=33:x2T=1:mode=aiv:q=int8:x1s=1:x2s=fp32:data=normal:seed=4",
                      "mmrs:a3:fp16:ws=4:m=8:k=300:n=17:mode=aiv:q=int8:x2s=fp32:data=outliers:seed=5"])
    func faithfulRoundingsPass(id: String) throws {
        let testCase = try Case(id: id)
        let call = try testCase.makeCall()
        let inputs = try InputGenerator.inputs(for: testCase)
        let golden = call.referenceOutputs(inputs: inputs, numerics: .golden)
        let gauge = call.referenceGauge(inputs: inputs)
        // The exact product in Double (error 2^-52 relative), then either T neighbour at random.
        let exact = try Self.exactDequantized(testCase, inputs: inputs)
        var got = golden
        var generator = SeededGenerator(seed: 11)
        let dtype = call.outputSlots[0].spec.dtype
        for rank in 0..<call.rankCount {
            let values = exact[rank].map { p -> Float in
                let nearest = dtype.round(p)
                guard p.isFinite, Double(nearest) != p, nearest.isFinite else { return nearest }
                // The other T neighbour of p: one step up (nearest below p) or down, in bit patterns.
                let up: UInt32 = nearest < 0 ? 0xFFFF_FFFF : 1
                let step = Double(nearest) < p ? up : 0 &- up
                let other = dtype.value(ofBits: dtype.bits(of: nearest) &+ step)
                return Bool.random(using: &generator) ? nearest : (other.isFinite ? other : nearest)
            }
            got[rank, "output"] = Tensor(dtype: dtype, shape: golden[rank, "output"]!.shape, values: values)
        }
        let reports = Comparator().compare(testCase, call: call, inputs: inputs, expected: golden, gauge: gauge,
                                           got: got)
        for report in reports {
            #expect(report.verdict == .pass, "\(id) \(report.name): \(report.message)")
        }
    }

    /// Per rank, the exact dequantized output before rounding, in Double.
    static func exactDequantized(_ testCase: Case, inputs: WorldTensors) throws -> [[Double]] {
        let call = try testCase.makeCall()
        if let agmm = call as? AllGatherMatmulCall {
            let gathered = SimulatedCollectives.allGatherRows((0..<agmm.worldSize).map { inputs[$0, "x1"]! })
            let tokens = SimulatedCollectives.allGatherRows((0..<agmm.worldSize).map { inputs[$0, "x1_scale"]! })
            return (0..<agmm.worldSize).map { rank in
                let acc = QuantizedAccumulation.accumulate(
                    left: gathered, right: StoredOperand(inputs[rank, "x2"]!, isTransposed: agmm.x2Transposed))
                return acc.indices.map { index in
                    let (i, j) = (index / agmm.n, index % agmm.n)
                    return Double(acc[index]) * Double(inputs[rank, "x2_scale"]!.values[j]) * Double(tokens.values[i])
                }
            }
        }
        let mmrs = call as! MatmulReduceScatterCall
        var total = [Double](repeating: 0, count: mmrs.m * mmrs.n)
        for rank in 0..<mmrs.worldSize {
            let acc = QuantizedAccumulation.accumulate(
                left: inputs[rank, "x1"]!, right: StoredOperand(inputs[rank, "x2"]!, isTransposed: mmrs.x2Transposed))
            for index in acc.indices {
                let (i, j) = (index / mmrs.n, index % mmrs.n)
                let token = Double(inputs[rank, "x1_scale"]?.values[i] ?? 1)
                total[index] += Double(acc[index]) * Double(inputs[rank, "x2_scale"]!.values[j]) * token
            }
        }
        let block = mmrs.outputRows * mmrs.n
        return (0..<mmrs.worldSize).map { Array(total[($0 * block)..<(($0 + 1) * block)]) }
    }

    @Test("wide-range scales take fp16 outputs from below 2^-14 to overflow")
    func outputRange() throws {
        let testCase = try Case(
            id: "agmm:a3:fp16:ws=2:m=16:k=256:n=64:mode=aiv:q=int8:x1s=1:x2s=fp32:data=uniform:seed=9")
        let values = try Self.outputs(testCase, ReferenceEngine())[0, "output"]!.values
        #expect(values.contains { $0.isInfinite })
        #expect(values.contains { $0 != 0 && abs($0) < 0x1p-14 })
        #expect(values.contains { abs($0) > 1 && abs($0) < 1024 })
    }

    @Test("exact data: quantized outputs are exact, so every correct variant gives the golden's bits",
          arguments: ["agmm:a3:bf16:ws=4:m=3:k=512:n=9:mode=aiv:q=int8:x1s=1:x2s=fp32:data=exact:seed=2",
                      "mmrs:a2:fp16:ws=8:m=16:k=384:n=5:mode=aiv:q=int8:x1s=1:x2s=int64:data=exact:seed=2"])
    func exactData(id: String) throws {
        let testCase = try Case(id: id)
        let golden = try Self.outputs(testCase, ReferenceEngine())
        for variant in CorrectVariants.all {
            #expect(try Self.outputs(testCase, variant) == golden, "\(variant.name)")
        }
    }

    @Test("the int8 inputs and scales a quantized case folder holds round-trip through .npy")
    func caseFolderTensors() throws {
        let testCase = try Case(
            id: "agmm:a3:fp16:ws=2:m=2:k=256:n=3:mode=aiv:q=int8:x1s=1:x2s=int64:data=special:seed=1")
        let inputs = try InputGenerator.inputs(for: testCase)
        for name in ["x1", "x2", "x1_scale", "x2_scale"] {
            let tensor = inputs[0, name]!
            #expect(try NpyFile.decode(NpyFile.encode(tensor)).tensor(as: tensor.dtype) == tensor, "\(name)")
        }
        #expect(inputs[0, "x1"]!.values.contains(-128) && inputs[0, "x1"]!.values.contains(127))
    }
}
