import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckMutants

@Suite("Comparison: bounds, special values, bit-exact outputs and reports")
struct ComparatorTests {
    @Test("γ_n and the probabilistic γ̃_n reproduce the numbers of the tolerance notes")
    func gammas() {
        // tolerances.md: γ_k(fp32) = 3.8e-6 (k=64), 6.1e-5 (k=1024), 2.4e-4 (k=4096), 9.8e-4 (k=16384);
        // with λ = 5 the probabilistic bound at k = 4096 is 1.9e-5.
        #expect(abs(TolerancePolicy.gamma(64) - 3.8e-6) < 0.05e-6)
        #expect(abs(TolerancePolicy.gamma(1024) - 6.1e-5) < 0.05e-5)
        #expect(abs(TolerancePolicy.gamma(4096) - 2.4e-4) < 0.05e-4)
        #expect(abs(TolerancePolicy.gamma(16384) - 9.8e-4) < 0.05e-4)
        var policy = TolerancePolicy()
        policy.lambda = 5
        #expect(abs(policy.probabilisticGamma(4096) - 1.9e-5) < 0.05e-5)
    }

    @Test("activation slopes: extrema found where act'' = 0, |GELU'| <= 1.13, ReLU's is 0 or 1")
    func slopes() {
        let extrema = TolerancePolicy.slopeExtrema[.gelu] ?? []
        #expect(extrema.count == 2)
        let peak = TolerancePolicy.maxSlope(.gelu, from: -10, to: 10)
        #expect(peak > 1.12 && peak < 1.14, "\(peak)")
        // Near GELU's minimum (x ≈ -0.75) the slope is small, so the bound there is tight.
        #expect(TolerancePolicy.maxSlope(.gelu, from: -0.8, to: -0.7) < 0.05)
        #expect(TolerancePolicy.maxSlope(.relu, from: -2, to: -1) == 0)
        #expect(TolerancePolicy.maxSlope(.relu, from: -1, to: 1) == 1)
    }

    /// A one-rank, one-output setting for element-level checks.
    static func compare(expected: [Float], got: [Float], dtype: DType = .float16,
                        data: DataMode = .uniform, gauge: Float = 1) -> OutputReport {
        let testCase = AllGatherMatmulCases.make(.a3, dtype, ws: 2, m: expected.count / 2, k: 256, n: 1, data: data)
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
        let gaugeValue = ReferenceGauge(preActivation: world(expected), magnitude: magnitude, bias: zeros, terms: 256,
                                        intermediateRoundings: 0)
        let reports = Comparator().compare(testCase, call: call, inputs: WorldTensors(rankCount: 2),
                                           expected: world(expected), gauge: gaugeValue, got: world(got))
        return reports.first { $0.name == "output" }!
    }

    @Test("NaN matches only NaN; inf matches only inf of the same sign")
    func specialValues() {
        #expect(Self.compare(expected: [.nan, 1], got: [.nan, 1]).verdict == .pass)
        #expect(Self.compare(expected: [.nan, 1], got: [0, 1]).verdict == .fail)
        #expect(Self.compare(expected: [1, 1], got: [.nan, 1]).verdict == .fail)
        #expect(Self.compare(expected: [.infinity, 1], got: [.infinity, 1]).verdict == .pass)
        #expect(Self.compare(expected: [.infinity, 1], got: [-.infinity, 1]).verdict == .fail)
        #expect(Self.compare(expected: [.infinity, 1], got: [1000, 1]).verdict == .fail)
        // At fp16's overflow threshold a finite 65504 and inf are both legitimate roundings.
        #expect(Self.compare(expected: [.infinity, 1], got: [65504, 1], gauge: 65520).verdict == .pass)
    }

    @Test("an error of one ulp passes, a large one fails, and the worst element is named")
    func bounds() {
        let one = Float(Float16(1.0).nextUp)
        #expect(Self.compare(expected: [1, 2], got: [one, 2]).verdict == .pass)
        let report = Self.compare(expected: [1, 2], got: [1.25, 2])
        #expect(report.verdict == .fail && report.failures == 2)  // both ranks
        #expect(report.worst?.index == [0, 0] && report.worst?.expected == 1 && report.worst?.got == 1.25)
        #expect(report.message.contains("worst: rank 0 [0, 0]"))
    }

    @Test("systematic truncation is caught by the mean signed error even when each element is within bounds")
    func meanSignedError() {
        let expected = (0..<64).map { Float(Float16(1 + Float($0) / 64 + 0x1p-12)) }
        let truncated = expected.map { Float(Float16(bitPattern: Float16($0).bitPattern &- 1)) }
        let unbiased = expected.enumerated().map { index, value in
            index % 2 == 0 ? Float(Float16(value).nextUp) : Float(Float16(value).nextDown)
        }
        #expect(Self.compare(expected: expected, got: truncated).verdict == .fail)
        #expect(Self.compare(expected: expected, got: truncated).message.contains("systematic rounding bias"))
        #expect(Self.compare(expected: expected, got: unbiased).verdict == .pass)
    }

    @Test("a wrong output shape or a missing output fails with a message, not a crash")
    func shapes() throws {
        let testCase = smokeSuite.cases[0]
        let call = try testCase.makeCall()
        let inputs = try InputGenerator.inputs(for: testCase)
        let golden = try #require(try Runner.golden(call, inputs: inputs))
        var wrong = golden.outputs
        wrong[1, "output"] = Tensor(zeros: testCase.dtype, shape: [1, 1])
        wrong[0, "gather_out"] = nil
        let reports = Comparator().compare(testCase, call: call, inputs: inputs, expected: golden.outputs,
                                           gauge: golden.gauge, got: wrong)
        #expect(reports.allSatisfy { $0.verdict == .fail })
        #expect(reports.contains { $0.message.contains("rank 1 output has shape [1, 1]") })
        #expect(reports.contains { $0.message.contains("rank 0 has no gather_out") })
    }

    @Test("a data-movement mistake on provenance data names where the element came from")
    func provenance() throws {
        let testCase = try #require(smokeSuite.cases.first { $0.data == .provenance && $0.op.rawValue == "aagbmm" && $0.params["y2"] == "1" })
        let result = Runner(backend: EngineBackend(MutantEngine(.rowsSwapped))).run(testCase, golden: smokeGoldens[testCase.id])
        let y2 = try #require(result.outputs.first { $0.name == "y2" })
        #expect(y2.verdict == .fail && y2.method == "bit-exact")
        #expect(y2.message.contains("got x of rank") && y2.message.contains("expected x of rank"), "\(y2.message)")
    }

    @Test("JSON and JUnit reports: one testcase per case, failures carry the verdict and repro")
    func reports() throws {
        let cases = Array(smokeSuite.cases.prefix(3))
        let runner = Runner(backend: EngineBackend(MutantEngine(.rowsSwapped)))
        let results = cases.map { runner.run($0, golden: smokeGoldens[$0.id]) }
        let report = RunReport(suite: "smoke", backend: runner.backend.name, criterion: "fusecheck", seconds: 1,
                               results: results)
        let decoded = try JSONDecoder().decode(RunReport.self, from: try report.json())
        #expect(decoded.results.map(\.id) == cases.map(\.id))
        let xml = report.junit()
        let document = try XMLDocumentCheck(xml)
        #expect(document.testcases == 3)
        #expect(document.failures == results.filter(\.status.isFailure).count)
        #expect(xml.contains("repro: fusecheck run --case"))
        #expect(!report.passed)
    }
}

/// Counts testcase and failure elements with Foundation's XML parser (which also proves the XML well-formed).
final class XMLDocumentCheck: NSObject, XMLParserDelegate {
    var testcases = 0
    var failures = 0

    init(_ xml: String) throws {
        super.init()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = self
        guard parser.parse() else { throw HarnessError("malformed XML: \(parser.parserError.map { "\($0)" } ?? "")") }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "testcase" { testcases += 1 }
        if name == "failure" { failures += 1 }
    }
}
