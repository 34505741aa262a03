import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness

@Suite("Input data: a pure function of (case, rank, tensor name)")
struct InputDataTests {
    static func big(_ mode: DataMode, _ dtype: DType = .float16) throws -> (Case, WorldTensors) {
        let testCase = AllGatherMatmulCases.make(.a3, dtype, ws: 2, m: 32, k: 512, n: 32, data: mode, seed: 9)
        return (testCase, try InputGenerator.inputs(for: testCase))
    }

    @Test("generating twice gives the same tensors; ranks and tensors differ", arguments: DataMode.allCases)
    func deterministic(mode: DataMode) throws {
        let (testCase, first) = try Self.big(mode)
        let second = try InputGenerator.inputs(for: testCase)
        // Compared by digest: NaN != NaN, and a failure should not print the tensors.
        func digests(_ world: WorldTensors) -> [[String: Digest]] { world.ranks.map { $0.mapValues(Digest.init(tensor:)) } }
        #expect(digests(first) == digests(second))
        #expect(Digest(tensor: first[0, "x1"]!) != Digest(tensor: first[1, "x1"]!))
        #expect(Digest(tensor: first[0, "x2"]!) != Digest(tensor: first[1, "x2"]!))
    }

    @Test("a different seed gives different data")
    func seedMatters() throws {
        var testCase = try Self.big(.uniform).0
        let before = try InputGenerator.inputs(for: testCase)
        testCase.seed += 1
        #expect(Digest(tensor: try InputGenerator.inputs(for: testCase)[0, "x1"]!) != Digest(tensor: before[0, "x1"]!))
    }

    @Test("one tensor generated alone equals the same tensor generated with the whole world")
    func orderIndependent() throws {
        let (testCase, world) = try Self.big(.normal)
        let call = try testCase.makeCall()
        let slot = try #require(call.inputSlots.first { $0.name == "x2" })
        let alone = InputGenerator.tensor(caseID: testCase.id, mode: .normal, rank: 1, name: "x2", spec: slot.spec,
                                          role: .right(contractionAxis: 0, columnAxis: 1))
        #expect(alone.values == world[1, "x2"]!.values)
    }

    @Test("the vectorized words, uniform and normal streams are CounterRNG's, bit for bit, on every kernel path",
          arguments: KernelPath.allCases.filter(\.isSupported))
    func vectorizedStreams(path: KernelPath) {
        var mismatches: [String] = []
        for (keyIndex, key) in [UInt64(0), 1, 0x9E37_79B9_7F4A_7C15, .max, 0xDEAD_BEEF_0123_4567].enumerated() {
            let stream = CounterRNG(key: key)
            // Every remainder of the 8- and 4-lane loops, a long run, and streams started past 0
            // (and near the index's wrap-around).
            let runs: [(UInt64, Int)] = [(0, 0), (0, 1), (0, 7), (0, 9), (0, 31), (0, 1000), (5, 17), (.max / 16, 23)]
            for (first, count) in runs {
                var uniform = [Float](repeating: .nan, count: count)
                uniform.withUnsafeMutableBufferPointer {
                    RandomStreams.uniform(key: key, first: UInt64(first) &* 4, step: 4, into: $0, path: path)
                }
                var words = [UInt64](repeating: 0, count: count)
                words.withUnsafeMutableBufferPointer {
                    RandomStreams.words(key: key, first: UInt64(first) &* 4 &+ 2, step: 4, into: $0, path: path)
                }
                for i in 0..<count where words[i] != stream.word((UInt64(first) &+ UInt64(i)) &* 4 &+ 2) {
                    mismatches.append("key \(keyIndex) word [\(UInt64(first) &+ UInt64(i))]")
                }
                var normal = [Float](repeating: .nan, count: count)
                normal.withUnsafeMutableBufferPointer {
                    RandomStreams.normal(key: key, firstElement: UInt64(first), into: $0, path: path)
                }
                for i in 0..<count {
                    let element = UInt64(first) &+ UInt64(i)
                    let expectedUniform = 2 * stream.unit(element &* 4) - 1
                    if uniform[i].bitPattern != expectedUniform.bitPattern {
                        mismatches.append("key \(keyIndex) uniform [\(element)]: \(uniform[i]) != \(expectedUniform)")
                    }
                    // The scalar definition (a whole-tensor element index, so only from element 0).
                    guard first < 1 << 40 else { continue }
                    let expectedNormal = InputGenerator.normal(stream: stream, element: Int(element))
                    if normal[i].bitPattern != expectedNormal.bitPattern {
                        mismatches.append("key \(keyIndex) normal [\(element)]: \(normal[i]) != \(expectedNormal)")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(path): \(mismatches.prefix(5))")
    }

    @Test("the vectorized fp16 and bf16 rounding gives DType.round's bits, NaN payloads included, on every path",
          arguments: KernelPath.allCases.filter(\.isSupported))
    func vectorizedRounding(path: KernelPath) {
        // Every 16-bit pattern in the top half of a Float with low halves around every rounding
        // boundary (ties, just past them, between neighbours), so every bf16 value, every fp16
        // neighbour and tie, subnormals, overflow, infinities and NaNs with payloads; then specials.
        var values: [Float] = []
        for pattern in UInt32(0)...0xFFFF {
            for low: UInt32 in [0, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x2000, 0x3000, 0x7FFF, 0x8000, 0x8001, 0xFFFF] {
                values.append(Float(bitPattern: pattern << 16 | low))
            }
        }
        values += [65519.996, 65520, -65520, 0x1p-25, -0x1p-25, 0x1.8p-25, 0x1p-24, -0x1.8p-24, .nan, -.nan]
        for dtype in [DType.float16, .bfloat16] {
            var rounded = values
            rounded.withUnsafeMutableBufferPointer { RandomStreams.round($0, to: dtype, path: path) }
            var mismatches: [String] = []
            for (value, got) in zip(values, rounded) where got.bitPattern != dtype.round(value).bitPattern {
                let expected = dtype.round(value).bitPattern
                mismatches.append("\(String(value.bitPattern, radix: 16)) -> \(String(got.bitPattern, radix: 16)), "
                                  + "DType.round \(String(expected, radix: 16))")
            }
            #expect(mismatches.isEmpty, "\(path) \(dtype): \(mismatches.count) differ, e.g. \(mismatches.prefix(4))")
        }
    }

    @Test("uniform values lie in [-1, 1]; normal values have mean ~0 and variance ~1")
    func distributions() throws {
        let uniform = try Self.big(.uniform).1[0, "x1"]!.values
        #expect(uniform.allSatisfy { $0 >= -1 && $0 <= 1 })
        let normal = try Self.big(.normal).1[0, "x1"]!.values.map(Double.init)
        let mean = normal.reduce(0, +) / Double(normal.count)
        let variance = normal.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(normal.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.05, "mean \(mean), variance \(variance)")
    }

    @Test("outliers: mostly tiny, rarely large")
    func outliers() throws {
        let values = try Self.big(.outliers).1[0, "x1"]!.values
        let large = values.filter { abs($0) >= 8 }.count
        // Tiny values are drawn below 2^-10 and may round up to it.
        #expect(values.allSatisfy { abs($0) <= 0x1p-10 || (abs($0) >= 8 && abs($0) <= 64) })
        #expect(large > 0 && large < values.count / 100, "\(large) large of \(values.count)")
    }

    @Test("exact: integers, at most L non-zero terms per output column, |c| bounded by 4L + 8",
          arguments: [DType.float16, .bfloat16])
    func exact(dtype: DType) throws {
        let (_, inputs) = try Self.big(.exact, dtype)
        let x1 = inputs[0, "x1"]!
        let x2 = inputs[0, "x2"]!  // (k, n)
        #expect(x1.values.allSatisfy { $0 == $0.rounded() && abs($0) <= 2 })
        for column in 0..<32 {
            let nonZero = (0..<512).filter { x2[$0, column] != 0 }.count
            #expect(nonZero <= ExactData.maxTerms(dtype), "column \(column) has \(nonZero) terms")
        }
        #expect(ExactData.bound(dtype) <= (dtype == .bfloat16 ? 256 : 2048))
    }

    @Test("provenance: every x1 row decodes to its (rank, row)")
    func provenance() throws {
        let (testCase, inputs) = try Self.big(.provenance, .bfloat16)
        let call = try #require(try testCase.makeCall() as? AllGatherMatmulCall)
        for rank in 0..<2 {
            let x1 = inputs[rank, "x1"]!
            for row in 0..<call.m {
                let index = ProvenanceCode.index(of: x1[row, 7], dtype: .bfloat16)
                #expect(index == rank * call.m + row, "rank \(rank) row \(row)")
            }
        }
    }

    @Test("provenance codes are distinct, representable and decode back", arguments: [DType.float16, .bfloat16])
    func provenanceCodes(dtype: DType) {
        var seen = Set<UInt32>()
        for index in 0..<ProvenanceCode.capacity(dtype) {
            let value = ProvenanceCode.value(index, dtype: dtype)
            #expect(dtype.represents(value))
            #expect(ProvenanceCode.index(of: value, dtype: dtype) == index)
            seen.insert(value.bitPattern)
        }
        #expect(seen.count == ProvenanceCode.capacity(dtype))
    }

    @Test("special: ±0, subnormals, huge values, infinities and NaN all occur", arguments: [DType.float16, .bfloat16])
    func special(dtype: DType) throws {
        let values = try Self.big(.special, dtype).1[0, "x1"]!.values
        let smallestNormal: Float = dtype == .float16 ? 0x1p-14 : .leastNormalMagnitude
        #expect(values.contains { $0 == 0 && $0.sign == .plus })
        #expect(values.contains { $0 == 0 && $0.sign == .minus })
        #expect(values.contains { $0 != 0 && abs($0) < smallestNormal })
        #expect(values.contains { $0.isFinite && abs($0) >= (dtype == .float16 ? 0x1p14 : 0x1p100) })
        #expect(values.contains { $0.isInfinite } && values.contains { $0.isNaN })
    }

    @Test("the random case stream is deterministic, valid, within budget, and mixes operators")
    func randomCases() throws {
        let first = Array(RandomCases(seed: 42).prefix(300))
        let second = Array(RandomCases(seed: 42).prefix(300))
        #expect(first == second)
        #expect(Array(RandomCases(seed: 43).prefix(300)) != first)
        #expect(Set(first.map(\.op)).count == OperatorRegistry.records.count)
        for testCase in first {
            let call = try testCase.makeCall()
            #expect(call.violations().isEmpty, "\(testCase.id): \(call.violations())")
            #expect(try Case(id: testCase.id) == testCase)
        }
        // Enough of the stream that AllGatherMatmul's share (a quarter of four operators) shows its edges.
        let agmm = try RandomCases(seed: 42).prefix(1200).compactMap { try $0.makeCall() as? AllGatherMatmulCall }
        #expect(agmm.allSatisfy { $0.worldSize * $0.m * $0.worldSize * $0.k * $0.n <= RandomCases.defaultBudget })
        #expect(agmm.contains { $0.k == 256 } && agmm.contains { $0.m == 0 })
    }
}
