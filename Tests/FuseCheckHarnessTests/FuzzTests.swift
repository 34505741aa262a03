import Foundation
import Testing
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps
@testable import FuseCheckHarness
@testable import FuseCheckMutants

@Suite("Fuzzing: the case stream, shards, shrinking, findings and replay")
struct FuzzTests {
    /// A small budget keeps debug-build runs quick; the stream's logic does not depend on it.
    static let budget = 1 << 13

    @Test("entry i of a seed is the same every time, differs between seeds, and about 1 in 8 is invalid")
    func deterministicStream() throws {
        let stream = FuzzStream(seed: 7, budget: Self.budget)
        let first = (0..<400).map(stream.entry)
        #expect(first == (0..<400).map(stream.entry))
        #expect(first.map(\.testCase) != (0..<400).map(FuzzStream(seed: 8, budget: Self.budget).entry).map(\.testCase))
        let invalid = first.filter { $0.expectedRejection != nil }
        #expect(invalid.count > 20 && invalid.count < 80, "\(invalid.count) invalid of 400")
        for entry in first {
            let ids = try entry.testCase.makeCall().violations().map(\.constraint.id)
            #expect(ids == (entry.expectedRejection.map { [$0] } ?? []), "\(entry.testCase.id): \(ids)")
        }
        // Random violations reach many constraints of both operators.
        #expect(Set(invalid.compactMap(\.expectedRejection)).count >= 12)
    }

    @Test("two shards of one seed run disjoint cases whose union is the unsharded run")
    func shards() throws {
        func run(shard: Int, of shards: Int, cases: Int) throws -> FuzzSummary {
            var options = FuzzOptions()
            options.seed = 11
            options.shard = shard
            options.shards = shards
            options.cases = cases
            options.budget = Self.budget
            options.jobs = 2
            return try Fuzzer.run(options, backendName: "reference", makeBackend: { EngineBackend(ReferenceEngine()) })
        }
        let whole = try run(shard: 0, of: 1, cases: 40)
        let first = try run(shard: 0, of: 2, cases: 20)
        let second = try run(shard: 1, of: 2, cases: 20)
        #expect(Set(first.indices).isDisjoint(with: second.indices))
        #expect((first.indices + second.indices).sorted() == whole.indices)
        #expect(whole.indices == Array(0..<40))
        #expect(whole.findings.isEmpty, "the reference found fault with itself: \(whole.findings.map(\.signature))")
    }

    @Test("a mutant's failure is found, shrunk to the smallest world, written, and replayed",
          arguments: [MutantEngine.Fault.shardOneTPMajor, .biasIgnored, .validationSkipped])
    func findShrinkReplay(fault: MutantEngine.Fault) throws {
        let folder = try temporaryFolder()
        var options = FuzzOptions()
        options.seed = 3
        options.cases = 120
        options.budget = Self.budget
        options.findingsFolder = folder
        let mutant = MutantEngine(fault)
        let summary = try Fuzzer.run(options, backendName: mutant.name, makeBackend: { EngineBackend(mutant) })
        let first = try #require(summary.findings.first, "\(mutant.name) not found in 120 cases")
        let finding = try Finding.load(path: try #require(first.path))
        let call = try finding.testCase.makeCall()
        if let agmm = call as? AllGatherMatmulCall {
            #expect(agmm.worldSize == 2 && agmm.m <= 1 && agmm.n <= 1, "\(finding.testCase.id)")
        } else if let aagbmm = call as? AlltoAllAllGatherBatchMatMulCall {
            #expect(aagbmm.ep == 2 && aagbmm.tp == 2, "\(finding.testCase.id)")
            #expect(aagbmm.localExperts == 1 && aagbmm.localOutputWidth == 1, "\(finding.testCase.id)")
        }
        // Replaying the file reproduces the same kind of failure.
        let replayed = Runner(backend: EngineBackend(mutant)).run(finding.testCase, expectedRejection: finding.expect)
        #expect(replayed.status.isFailure && Finding.signature(of: replayed) == finding.signature)
        // The same case passes on the reference: the finding is about the mutant, not the case.
        let reference = Runner(backend: EngineBackend(ReferenceEngine())).run(finding.testCase,
                                                                             expectedRejection: finding.expect)
        #expect(!reference.status.isFailure)
    }

    @Test("every finding in corpora/regressions passes on the reference and the built-in engines")
    func regressions() throws {
        let folder = projectLayout.root + "/corpora/regressions"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted()
        #expect(!files.isEmpty)
        for file in files {
            let finding = try Finding.load(path: "\(folder)/\(file)")
            for name in BackendCatalog.builtInNames {
                let result = Runner(backend: try BackendCatalog.backend(named: name))
                    .run(finding.testCase, expectedRejection: finding.expect)
                #expect(!result.status.isFailure && result.status != .harnessError,
                        "\(file) on \(name): \(result.status.rawValue) \(result.message)")
            }
        }
    }

    /// Random invalid cases of the stream whose inputs are small. A violation may make a case
    /// huge (k = 65535, 33 experts per rank): generating such inputs 38 times in a debug build took
    /// 20 CPU-minutes, and the size is not what a mutant could trip over here (the invalid suite
    /// and `fusecheck fuzz` run the large ones).
    static let smallInvalidEntries: [FuzzEntry] = {
        let stream = FuzzStream(seed: 5, budget: budget)
        return Array((0..<2000).lazy.map(stream.entry).filter { entry in
            guard entry.expectedRejection != nil, let call = try? entry.testCase.makeCall() else { return false }
            return call.inputSlots.reduce(0) { $0 + $1.spec.elementCount } <= 1 << 15
        }.prefix(60))
    }()

    @Test("every mutant and variant survives random invalid cases: a verdict, never a crash",
          arguments: BackendCatalog.mutants.map(\.name) + CorrectVariants.all.map(\.name))
    func invalidCasesNeverCrash(name: String) throws {
        let runner = Runner(backend: try BackendCatalog.backend(named: name))
        let invalid = Self.smallInvalidEntries
        #expect(invalid.count == 60)
        // Every operator, and many constraints (36 of them at this seed).
        #expect(Set(invalid.map(\.testCase.op)).count == OperatorRegistry.records.count)
        #expect(Set(invalid.compactMap(\.expectedRejection)).count >= 30)
        for entry in invalid {
            let result = runner.run(entry.testCase, expectedRejection: entry.expectedRejection)
            #expect(result.status != .harnessError, "\(entry.testCase.id): \(result.message)")
        }
    }

    @Test("a malformed finding file is a clear error")
    func malformedFinding() throws {
        let path = try temporaryFolder() + "/bad.json"
        try AtomicFile.write(Data("{\"case\": 3}".utf8), to: path)
        #expect { try Finding.load(path: path) } throws: { "\($0)".contains("is not a FuseCheck finding") }
    }
}
