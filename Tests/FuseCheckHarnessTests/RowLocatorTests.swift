import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckHarness

@Suite("Failure messages say where a wrong row of a computed output came from")
struct RowLocatorTests {
    /// Two ranks of a (3, 8) fp16 output with distinct random rows.
    static func golden() -> WorldTensors {
        var generator = SeededGenerator(seed: 7)
        var world = WorldTensors(rankCount: 2)
        for rank in 0..<2 {
            let values = (0..<24).map { _ in DType.float16.round(Float.random(in: -4...4, using: &generator)) }
            world[rank, "output"] = Tensor(dtype: .float16, shape: [3, 8], values: values)
        }
        return world
    }

    /// The golden with rank 1's row 2 replaced.
    static func with(row replacement: [Float]) -> WorldTensors {
        var got = golden()
        var values = got[1, "output"]!.values
        values.replaceSubrange(16..<24, with: replacement)
        got[1, "output"] = Tensor(dtype: .float16, shape: [3, 8], values: values)
        return got
    }

    static func describe(_ got: WorldTensors) -> String? {
        let expected = golden()
        let element = ElementReport(rank: 1, index: [2, 3], got: got[1, "output"]!.values[19],
                                    expected: expected[1, "output"]!.values[19])
        return RowLocator.describe(element, slot: "output", expected: expected, got: got, dtype: .float16)
    }

    @Test("a row that is another place's golden row is named as misplaced, with its rank and row")
    func misplaced() {
        let other = Array(Self.golden()[0, "output"]!.values[8..<16])
        #expect(Self.describe(Self.with(row: other)) == "rank 1 row [2] is the golden's rank 0 row [1] (misplaced)")
        // Within a few roundings of T it still matches (another backend's accumulation order).
        let nudged = other.map { DType.float16.round($0 * (1 + 0x1p-10)) }  // about an ulp of fp16 off
        #expect(Self.describe(Self.with(row: nudged))?.hasSuffix("rank 0 row [1] (misplaced)") == true)
    }

    @Test("a row of zeros, and a row that is the golden's times a constant, are named")
    func zerosAndScaled() {
        #expect(Self.describe(Self.with(row: Array(repeating: 0, count: 8)))
            == "rank 1 row [2] is all zeros (never written?)")
        let own = Array(Self.golden()[1, "output"]!.values[16..<24])
        #expect(Self.describe(Self.with(row: own.map { DType.float16.round($0 / 4) }))?.contains("times 1/4") == true)
        #expect(Self.describe(Self.with(row: own.map { $0 * 2 }))?.contains("times 2 ") == true)
        // Another ratio (a row scaled by another row's dequantization scale) is not a sum's.
        #expect(Self.describe(Self.with(row: own.map { DType.float16.round($0 * 1.5) })) == nil)
    }

    @Test("a row that is merely wrong in a few elements gets no origin")
    func numericalError() {
        var own = Array(Self.golden()[1, "output"]!.values[16..<24])
        own[3] = DType.float16.round(own[3] + 1)
        #expect(Self.describe(Self.with(row: own)) == nil)
    }

    @Test("an int8 provenance row decodes to its rank and row, every candidate named where codes wrap")
    func int8Provenance() throws {
        let call = try AllGatherMatmulCases.make(.a3, .float16, ws: 8, m: 3, k: 256, n: 2).makeCall()
        // (37 rank + row) mod 255 - 127: rank 1 row 2 is 39 - 127; rank 7 row 0 wraps onto rank 0 row 4.
        #expect(Provenance.int8Source(-88, rows: 3, call: call, name: "x1") == "x1 of rank 1 row 2")
        #expect(Provenance.int8Source(4 - 127, rows: 5, call: call, name: "x1")
            == "x1 of rank 0 row 4 or rank 7 row 0 (ambiguous: codes wrap)")
        #expect(Provenance.int8Source(4 - 127, rows: 3, call: call, name: "x1") == "x1 of rank 7 row 0")
        #expect(Provenance.int8Source(0.5, rows: 3, call: call, name: "x1") == "0.5 (no input row)")
    }

    @Test("the reduce-scatter mutants' messages name the origin of the wrong rows",
          arguments: [("mutant:mmrs-blocks-shifted", "(misplaced)"), ("mutant:mmrs-sum-averaged", "times 1/"),
                      ("mutant:bmmrs-alltoall-wrong-ep", "(misplaced)")])
    func mutantMessages(backend name: String, phrase: String) throws {
        let runner = Runner(backend: try BackendCatalog.backend(named: name))
        let op = name.contains("bmmrs") ? "bmmrs" : "mmrs"
        let candidates = smokeSuite.cases.filter {
            $0.op.rawValue == op && ($0.data == .uniform || $0.data == .normal) && !$0.id.contains("mode=")
        }
        let failure = candidates.lazy.map { runner.run($0, golden: smokeGoldens[$0.id]) }.first { $0.status.isFailure }
        let message = try #require(failure?.message, "\(name) passes every \(op) smoke case")
        #expect(message.contains(phrase), "\(name) on \(failure!.id): \(message)")
    }
}
