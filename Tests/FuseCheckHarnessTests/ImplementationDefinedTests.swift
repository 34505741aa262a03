import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckMutants

/// One real case's inputs, golden and a copy of the golden to tamper with.
private struct Tampered {
    let testCase: Case
    let call: any HarnessCall
    let inputs: WorldTensors
    let golden: Golden
    var got: WorldTensors

    init(_ testCase: Case) throws {
        self.testCase = testCase
        call = try testCase.makeCall()
        inputs = try InputGenerator.inputs(for: testCase)
        golden = try #require(try Runner.golden(call, inputs: inputs))
        got = golden.outputs
    }

    /// The first (rank, index) of `name` whose golden value and pre-activation satisfy `where`.
    func find(_ name: String, where predicate: (_ e: Float, _ t: Float) -> Bool) -> (Int, Int)? {
        for rank in 0..<call.rankCount {
            let values = golden.outputs[rank, name]!.values
            let t = golden.gauge.preActivation[rank, name]?.values ?? values
            if let index = values.indices.first(where: { predicate(values[$0], t[$0]) }) { return (rank, index) }
        }
        return nil
    }

    mutating func set(_ name: String, _ at: (Int, Int), _ value: Float) {
        var tensor = got[at.0, name]!
        tensor.values[at.1] = value
        got[at.0, name] = tensor
    }

    func report(_ name: String, strict: Bool = false, criterion: Criterion = .fusecheck,
                allowed: Set<ImplementationDefinedBehaviour> = []) -> OutputReport {
        var comparator = Comparator(criterion: criterion, strict: strict)
        comparator.allowed = allowed
        return comparator.compare(testCase, call: call, inputs: inputs, expected: golden.outputs, gauge: golden.gauge, got: got)
            .first { $0.name == name }!
    }
}

/// A special-data AlltoAllAllGatherBatchMatMul case with this activation whose golden
/// pre-activation holds ±inf.
private func caseWithInfinitePreActivation(_ activation: ActivationType, dtype: DType = .float16) throws -> Tampered {
    for seed in UInt64(1)...40 {
        let testCase = AlltoAllAllGatherBatchMatMulCases.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 4, hidden: 16,
                                                               outputWidth: 8, shard: .gatherC, act: activation,
                                                               data: .special, seed: seed)
        let tampered = try Tampered(testCase)
        if tampered.find("y1", where: { e, t in t.isInfinite && !e.isNaN }) != nil { return tampered }
    }
    throw HarnessError("no seed gives an infinite pre-activation")
}

private let activation = ImplementationDefinedBehaviour.activationOfInfinity.rawValue
private let flush = ImplementationDefinedBehaviour.subnormalsFlushed.rawValue
private let zeroSign = ImplementationDefinedBehaviour.signOfExactZero.rawValue

@Suite("Implementation-defined behaviours (numerics-profile P1): allowed and reported, failed under --strict")
struct ImplementationDefinedTests {
    @Test("the activation of a ±inf pre-activation may be NaN; --strict fails it",
          arguments: [ActivationType.gelu, .silu, .fastGelu, .relu])
    func activationOfInfinity(_ act: ActivationType) throws {
        var tampered = try caseWithInfinitePreActivation(act)
        let at = try #require(tampered.find("y1") { e, t in t.isInfinite && !e.isNaN })
        tampered.set("y1", at, .nan)
        let allowed = tampered.report("y1")
        #expect(allowed.verdict == .pass, "\(allowed.message)")
        #expect(allowed.implementationDefined?[activation] == 1)
        #expect(allowed.message.contains("activation of ±inf gave NaN"))
        #expect(allowed.vendor?.nonFiniteMismatches == 0)
        let strict = tampered.report("y1", strict: true)
        #expect(strict.verdict == .fail && strict.failures == 1)
        #expect(strict.message.contains("failed under --strict"))
        // An expectations file that allows it keeps it allowed under --strict; another allowance does not.
        let fileAllows = tampered.report("y1", strict: true, allowed: [.activationOfInfinity])
        #expect(fileAllows.verdict == .pass && fileAllows.message.contains("(allowed)"), "\(fileAllows.message)")
        #expect(tampered.report("y1", strict: true, allowed: [.subnormalsFlushed]).verdict == .fail)
    }

    @Test("P1 failures stay failures in both modes: NaN suppressed, NaN from nothing, a finite value for inf")
    func failuresStayFailures() throws {
        for strict in [false, true] {
            // ReLU(NaN) = 0 suppresses a diverging run.
            var relu = try caseWithInfinitePreActivation(.relu)
            let nanAt = try #require(relu.find("y1") { e, _ in e.isNaN })
            relu.set("y1", nanAt, 0)
            #expect(relu.report("y1", strict: strict).verdict == .fail)
            // NaN where the pre-activation is finite and nothing special is involved.
            var gelu = try caseWithInfinitePreActivation(.gelu)
            let finiteAt = try #require(gelu.find("y1") { e, t in e.isFinite && t.isFinite && e != 0 })
            gelu.set("y1", finiteAt, .nan)
            #expect(gelu.report("y1", strict: strict).verdict == .fail)
            // A finite value where the golden is +inf from an infinite pre-activation.
            var finite = try caseWithInfinitePreActivation(.gelu)
            let infAt = try #require(finite.find("y1") { e, t in e == .infinity && t == .infinity })
            finite.set("y1", infAt, 1000)
            let report = finite.report("y1", strict: strict)
            #expect(report.verdict == .fail && report.implementationDefined == nil, "\(report.message)")
        }
    }

    @Test("a subnormal result written as zero (FTZ) passes and is reported; a normal one written as zero fails")
    func flushToZero() {
        let subnormal: Float = 0x1p-16  // fp16 subnormal
        let allowed = ElementComparison.compare(expected: [subnormal, 1], got: [0, 1], gauge: 0.01)
        #expect(allowed.verdict == .pass && allowed.implementationDefined?[flush] == 2)  // both ranks
        let strict = ElementComparison.compare(expected: [subnormal, 1], got: [0, 1], gauge: 0.01, strict: true)
        #expect(strict.verdict == .fail)
        #expect(ElementComparison.compare(expected: [0x1p-10, 1], got: [0, 1], gauge: 0.01).verdict == .fail)
    }

    @Test("the sign of an exact zero (every term zero) is reported; a rounded zero's sign is not counted")
    func signOfExactZero() {
        let exact = ElementComparison.compare(expected: [0, 0], got: [-0.0, 0], gauge: 0)
        #expect(exact.verdict == .pass && exact.implementationDefined?[zeroSign] == 2)
        #expect(ElementComparison.compare(expected: [0, 0], got: [-0.0, 0], gauge: 0, strict: true).verdict == .fail)
        let rounded = ElementComparison.compare(expected: [0, 0], got: [-0.0, 0], gauge: 1)
        #expect(rounded.verdict == .pass && rounded.implementationDefined == nil)
    }

    @Test("inf * subnormal flushed to inf * 0 = NaN inside the matmul is recognized as DAZ")
    func infinityTimesSubnormal() throws {
        // Special-data AllGatherMatmul cases: ±inf in x1, subnormals in x2.
        var found = false
        for seed in UInt64(1)...60 where !found {
            let testCase = AllGatherMatmulCases.make(.a3, .bfloat16, ws: 2, m: 4, k: 256, n: 8, data: .special,
                                                     seed: seed)
            let tampered = try Tampered(testCase)
            let engine = try #require(CorrectVariants.all.first(where: { $0.name == "variant:flush" }))
            guard case .completed(let flushed) = try engine.run(tampered.call, inputs: tampered.inputs) else {
                continue
            }
            let golden = tampered.golden.outputs
            let nanFromInfinity = (0..<2).contains { rank in
                zip(golden[rank, "output"]!.values, flushed[rank, "output"]!.values)
                    .contains { $0.isInfinite && $1.isNaN }
            }
            guard nanFromInfinity else { continue }
            found = true
            var outputs = tampered
            outputs.got = flushed
            let allowed = outputs.report("output")
            #expect(allowed.verdict == .pass && allowed.implementationDefined?[flush] ?? 0 > 0, "\(allowed.message)")
            #expect(outputs.report("output", strict: true).verdict == .fail)
            // The same NaN on an element whose golden inf involves no subnormal stays a failure:
            // a NaN at every inf of the golden.
            var everywhere = tampered
            for rank in 0..<2 {
                var tensor = everywhere.got[rank, "output"]!
                tensor.values = tensor.values.map { $0.isInfinite ? .nan : $0 }
                everywhere.got[rank, "output"] = tensor
            }
            let infinities = (0..<2).map { golden[$0, "output"]!.values.filter(\.isInfinite).count }.reduce(0, +)
            let flushedNaN = (0..<2).map { rank in
                zip(golden[rank, "output"]!.values, flushed[rank, "output"]!.values)
                    .filter { $0.isInfinite && $1.isNaN }.count
            }.reduce(0, +)
            if infinities > flushedNaN { #expect(everywhere.report("output").verdict == .fail) }
        }
        #expect(found, "no seed gives inf * subnormal")
    }

    @Test("the vendor criteria count non-finite mismatches: NaN for inf or -0 fails every criterion")
    func vendorCriteria() {
        for (got, expected) in [([Float.nan, 1], [Float.infinity, 1]), ([.nan, 1], [-0.0, 1]),
                                ([.infinity, 1], [-.infinity, 1]), ([5, 1], [.infinity, 1])] {
            let report = VendorCriteriaReport.compute(got: got, expected: expected, dtype: .float16)
            #expect(report.nonFiniteMismatches == 1)
            #expect(report.verdicts.values.allSatisfy { $0 == .fail }, "\(got) for \(expected): \(report.verdicts)")
        }
        let matching = VendorCriteriaReport.compute(got: [.nan, .infinity, -0.0], expected: [.nan, .infinity, 0],
                                                    dtype: .float16)
        #expect(matching.nonFiniteMismatches == 0 && matching.verdicts.values.allSatisfy { $0 == .pass })
        let accepted = VendorCriteriaReport.compute(got: [.nan, 1], expected: [-0.0, 1], dtype: .float16,
                                                    accepted: [true, false])
        #expect(accepted.nonFiniteMismatches == 0 && accepted.verdicts.values.allSatisfy { $0 == .pass })
        // A report written before the field existed decodes with 0.
        let old = #"{"fractionOverThousandth":0,"fractionOverHundredth":0,"mere":0,"mare":0,"#
            + #""mixedFractionWithin":1,"maxAbsoluteError":0,"verdicts":{"mixed":"pass"}}"#
        let decoded = try? JSONDecoder().decode(VendorCriteriaReport.self, from: Data(old.utf8))
        #expect(decoded?.nonFiniteMismatches == 0)
    }

    @Test("variant:framework and variant:flush pass the smoke suite by default and are flagged under --strict",
          arguments: ["variant:framework", "variant:flush"])
    func variantsFlaggedUnderStrict(_ name: String) throws {
        let backend = try BackendCatalog.backend(named: name)
        let cases = smokeSuite.cases.filter { $0.data == .special }
        let allowed = Runner(backend: backend)
        let strict = Runner(backend: backend, strict: true)
        var flagged = 0
        for testCase in cases {
            let result = allowed.run(testCase, golden: smokeGoldens[testCase.id])
            #expect(!result.status.isFailure, "\(result.id): \(result.message)")
            let strictResult = strict.run(testCase, golden: smokeGoldens[testCase.id])
            if strictResult.status.isFailure {
                flagged += 1
                #expect(strictResult.implementationDefined != nil, "\(strictResult.id): \(strictResult.message)")
                #expect(strictResult.repro.hasSuffix("--strict"))
            }
            #expect(strictResult.implementationDefined == result.implementationDefined)
        }
        #expect(flagged > 0, "\(name) is not flagged by --strict on any special-data smoke case")
    }

    @Test("the run's summary names each behaviour with its number of cases")
    func summary() throws {
        let backend = try BackendCatalog.backend(named: "variant:framework")
        let cases = smokeSuite.cases.filter { $0.data == .special && $0.op.rawValue == "aagbmm" }
        let results = cases.map { Runner(backend: backend).run($0, golden: smokeGoldens[$0.id]) }
        let report = RunReport(suite: "smoke", backend: backend.name, criterion: "fusecheck", seconds: 1,
                               results: results)
        let lines = report.implementationDefinedSummary()
        #expect(lines.contains { $0.contains("activation of ±inf gave NaN (implementation-defined, allowed") },
                "\(lines)")
        #expect(report.passed)
        let json = try String(decoding: report.json(), as: UTF8.self)
        #expect(json.contains("\"implementationDefined\""))
    }
}

/// A one-rank-pair AllGatherMatmul output compared element by element, as in `ComparatorTests`.
enum ElementComparison {
    static func compare(expected: [Float], got: [Float], gauge: Float = 1, strict: Bool = false) -> OutputReport {
        let dtype = DType.float16
        let testCase = AllGatherMatmulCases.make(.a3, dtype, ws: 2, m: expected.count / 2, k: 256, n: 1)
        let call = try! testCase.makeCall()
        func world(_ values: [Float]) -> WorldTensors {
            var world = WorldTensors(rankCount: 2)
            for rank in 0..<2 {
                world[rank, "output"] = Tensor(dtype: dtype, shape: [expected.count, 1], values: values)
                world[rank, "gather_out"] = Tensor(zeros: dtype, shape: [expected.count, 256])
            }
            return world
        }
        var magnitude = WorldTensors(rankCount: 2), zeros = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            magnitude[rank, "output"] = Tensor(dtype: .float32, shape: [expected.count, 1],
                                               values: Array(repeating: gauge, count: expected.count))
            zeros[rank, "output"] = Tensor(zeros: .float32, shape: [expected.count, 1])
        }
        let gaugeValue = ReferenceGauge(preActivation: WorldTensors(rankCount: 2), magnitude: magnitude, bias: zeros,
                                        terms: 256, intermediateRoundings: 0)
        return Comparator(strict: strict).compare(testCase, call: call, inputs: WorldTensors(rankCount: 2),
                                                  expected: world(expected), gauge: gaugeValue, got: world(got))
            .first { $0.name == "output" }!
    }
}
