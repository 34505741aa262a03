import Testing
import FuseCheckCore
import FuseCheckEngines
@testable import FuseCheckHarness

@Suite("Pipelined engine against the goldens")
struct PipelinedGoldenTests {
    @Test("the pipelined engine reproduces every digest of reference/smoke.jsonl")
    func smokeGoldens() throws {
        let differences = try Goldens.check(smokeSuite, engine: PipelinedEngine(),
                                            against: projectLayout.golden("smoke"))
        #expect(differences.isEmpty,
                "\(differences.count) differences; first: \(differences.first.map { "\($0)" } ?? "")")
    }

    /// Output digests that differ between two engines on a case.
    static func differingOutputs(_ testCase: Case, _ lhs: any Engine, _ rhs: any Engine) throws -> [String] {
        let left = try Goldens.compute(testCase, engine: lhs)
        let right = try Goldens.compute(testCase, engine: rhs)
        return Goldens.compare(golden: left, actual: right).compactMap(\.tensor)
    }

    @Test("split-K equals the reference on exact data (16 smoke cases of both operators)")
    func splitKExact() throws {
        let splitK = try BackendCatalog.builtInEngine(named: "pipelined-splitk")
        let exact = smokeSuite.cases.filter { $0.data == .exact && $0.int("k", default: 0) < 4096 }
        let chosen = exact.filter { $0.op.rawValue == "agmm" }.prefix(8)
            + exact.filter { $0.op.rawValue == "aagbmm" }.prefix(8)
        #expect(chosen.count == 16)
        for testCase in chosen {
            let differing = try Self.differingOutputs(testCase, ReferenceEngine(), splitK)
            #expect(differing.isEmpty, "\(testCase.id): \(differing)")
        }
    }

    @Test("split-K differs from the reference on real-valued data",
          arguments: ["agmm:a3:fp16:ws=2:m=16:k=2048:n=64:data=normal:seed=1",
                      "aagbmm:a3:fp16:ep=2:tp=2:E=4:C=8:H=1024:M=64:shard=1:act=0:data=normal:seed=2"])
    func splitKDiffers(id: String) throws {
        let testCase = try Case(id: id)
        let differing = try Self.differingOutputs(testCase, ReferenceEngine(),
                                                  try BackendCatalog.builtInEngine(named: "pipelined-splitk"))
        #expect(!differing.isEmpty, "\(id): split-K gave the reference's bits")
        // Only matmul results may differ; data movement is exact in any order.
        #expect(differing.allSatisfy { $0 == "output" || $0 == "y1" || $0 == "y3" }, "\(differing)")
    }

    @Test("the registry offers both pipelined engines beside the reference")
    func registry() throws {
        #expect(BackendCatalog.builtInNames.contains("pipelined") && BackendCatalog.builtInNames.contains("pipelined-splitk"))
        #expect(try BackendCatalog.builtInEngine(named: "pipelined").name == "pipelined")
        #expect(try BackendCatalog.builtInEngine(named: "pipelined-splitk").name == "pipelined-splitk")
    }
}
