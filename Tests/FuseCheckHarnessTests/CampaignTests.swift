import Foundation
import FuseCheckCore
import FuseCheckEngines
import Testing
@testable import FuseCheckHarness
@testable import FuseCheckExternal
@testable import FuseCheckMutants
import _FuseCheckTestSupport

@Suite("Fuzz campaigns: shards from the launcher, findings per shard, merged reports")
struct CampaignTests {
    static let budget = 1 << 13

    @Test("--shard auto reads each launcher's rank and size, the most specific first")
    func launchers() throws {
        #expect(try ShardAssignment.parse("auto", environment: ["OMPI_COMM_WORLD_RANK": "3",
                                                                "OMPI_COMM_WORLD_SIZE": "8"])
            == ShardAssignment(index: 3, count: 8, source: "OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE"))
        #expect(try ShardAssignment.parse("auto", environment: ["PMI_RANK": "0", "PMI_SIZE": "2"]).count == 2)
        #expect(try ShardAssignment.parse("auto", environment: ["SLURM_PROCID": "5", "SLURM_NTASKS": "6"]).index == 5)
        // torchrun inside a Slurm step: torchrun's global rank, not Slurm's per-node task.
        let torch = try ShardAssignment.parse("auto", environment: ["RANK": "6", "WORLD_SIZE": "16",
                                                                    "SLURM_PROCID": "1", "SLURM_NTASKS": "2"])
        #expect(torch.index == 6 && torch.count == 16)
        #expect(try ShardAssignment.parse("2/4", environment: [:]) == ShardAssignment(index: 2, count: 4, source: "--shard"))
    }

    @Test("no launcher, half a pair, or a rank outside the size is a clear error",
          arguments: [[:], ["OMPI_COMM_WORLD_RANK": "1"], ["RANK": "4", "WORLD_SIZE": "4"],
                      ["SLURM_PROCID": "x", "SLURM_NTASKS": "2"]] as [[String: String]])
    func launcherErrors(environment: [String: String]) {
        #expect(throws: HarnessError.self) { try ShardAssignment.parse("auto", environment: environment) }
    }

    @Test("--shard I/N out of range is refused", arguments: ["4/4", "-1/2", "1", "a/b", "0/0"])
    func badShard(text: String) {
        #expect(throws: HarnessError.self) { try ShardAssignment.parse(text, environment: [:]) }
    }

    @Test("shards of one campaign name their findings apart; one shard keeps the plain name")
    func findingNames() {
        let signature = "agmm:output:fail:tolerance"
        let names = (0..<4).map { Finding.fileName(for: signature, shard: $0, of: 4) }
        #expect(Set(names).count == 4)
        #expect(Finding.fileName(for: signature, shard: 0, of: 1) == Finding.fileName(for: signature))
    }

    /// A campaign of `shards` shards of a mutant that fails often, each run in-process.
    static func shardRuns(_ shards: Int, cases: Int, folder: String?) throws -> [FuzzSummary] {
        let mutant = MutantEngine(.biasIgnored)
        return try (0..<shards).map { shard in
            var options = FuzzOptions()
            options.seed = 9
            options.shard = shard
            options.shards = shards
            options.cases = cases / shards
            options.budget = Self.budget
            options.findingsFolder = folder
            options.shrinkLimit = 20
            return try Fuzzer.run(options, backendName: mutant.name, makeBackend: { EngineBackend(mutant) })
        }
    }

    @Test("merging the shards' reports gives the unsharded run's cases, counts and findings")
    func mergeEqualsWhole() throws {
        let folder = try temporaryFolder()
        let whole = try Self.shardRuns(1, cases: 48, folder: nil)[0]
        let parts = try Self.shardRuns(3, cases: 48, folder: folder)
        let merged = try FuzzMerge.merge(parts)
        #expect(merged.missingShards.isEmpty)
        #expect(merged.summary.indices == whole.indices)
        #expect(merged.summary.counts == whole.counts)
        #expect(merged.summary.casesRun == whole.casesRun)
        #expect(Set(merged.summary.findings.map(\.signature)) == Set(whole.findings.map(\.signature)))
        #expect(merged.summary.findings.map(\.occurrences).reduce(0, +) == whole.findings.map(\.occurrences).reduce(0, +))
        #expect(!whole.findings.isEmpty, "the mutant was not found: the comparison proves nothing")
        // One file per signature and shard in the shared folder; collected, one per signature.
        var summary = merged.summary
        let out = try temporaryFolder()
        #expect(try FuzzMerge.collectFindings(&summary, searching: [folder], into: out).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).count == summary.findings.count)
        // A missing shard is named; a shard given twice, or another campaign's, is an error.
        #expect(try FuzzMerge.merge(Array(parts.prefix(2))).missingShards == [2])
        #expect(throws: HarnessError.self) { try FuzzMerge.merge([parts[0], parts[0]]) }
        var other = parts[1]
        other.seed = 10
        #expect(throws: HarnessError.self) { try FuzzMerge.merge([parts[0], other]) }
    }

    @Test("mpirun -n 2 with --shard auto runs one campaign: its shards' union is the unsharded run",
          .enabled(if: fusecheckExecutable != nil && PythonEnvironment.succeeds("command -v mpirun"),
                   "fusecheck not built or mpirun not installed"))
    func mpirun() throws {
        let folder = try temporaryFolder()
        let executable = fusecheckExecutable!
        let common = ["--seed", "4", "--budget", String(Self.budget), "--backend", "reference",
                      "--findings", folder + "/findings"]
        let launch = Process()
        launch.executableURL = URL(fileURLWithPath: "/bin/sh")
        launch.arguments = ["-c", "dir=$1; shift; exec mpirun --allow-run-as-root --oversubscribe -n 2 \"$0\" fuzz "
            + "--shard auto --cases 15 --json \"$dir/shard-{shard}.json\" \"$@\"", executable, folder] + common
        launch.standardOutput = FileHandle.nullDevice
        launch.standardError = FileHandle.nullDevice
        try launch.run()
        launch.waitUntilExit()
        #expect(launch.terminationStatus == 0)
        let (status, _) = try fusecheck(["fuzz", "--cases", "30", "--json", folder + "/whole.json"] + common)
        #expect(status == 0)
        let shards = try (0..<2).map { try FuzzMerge.load(path: "\(folder)/shard-\($0).json") }
        #expect(Set(shards.map(\.shard)) == [0, 1] && shards.allSatisfy { $0.shards == 2 })
        let merged = try FuzzMerge.merge(shards).summary
        let whole = try FuzzMerge.load(path: folder + "/whole.json")
        #expect(merged.indices == whole.indices && merged.indices == Array(0..<30))
        #expect(merged.counts == whole.counts)
    }
}

@Suite("Throughput: audited goldens and the time per case")
struct ThroughputTests {
    @Test("goldens and gauges are the same bits on both reference kernels over many fuzz cases")
    func kernelsAgree() throws {
        let stream = FuzzStream(seed: 21, budget: 1 << 12)
        var compared = 0
        for index in 0..<60 {
            let entry = stream.entry(index)
            guard entry.expectedRejection == nil else { continue }
            let call = try entry.testCase.makeCall()
            let inputs = try InputGenerator.inputs(for: entry.testCase)
            let naive = try ReferenceMatmul.$kernel.withValue(.naive) { try Runner.golden(call, inputs: inputs) }
            let blocked = try ReferenceMatmul.$kernel.withValue(.blocked) { try Runner.golden(call, inputs: inputs) }
            let difference = GoldenAudit.difference(blocked, naive)
            #expect(difference == nil, "\(entry.testCase.id): \(difference ?? "")")
            compared += 1
        }
        #expect(compared >= 40)
    }

    @Test("the audit reports a golden that differs by one bit, in the outputs or the gauge")
    func auditCatchesDifference() throws {
        let entry = (0..<20).map { FuzzStream(seed: 3, budget: 1 << 12).entry($0) }.first { $0.expectedRejection == nil }!
        let call = try entry.testCase.makeCall()
        let inputs = try InputGenerator.inputs(for: entry.testCase)
        let golden = try #require(try Runner.golden(call, inputs: inputs))
        #expect(GoldenAudit.difference(golden, golden) == nil)
        func flipped(_ world: WorldTensors) -> WorldTensors {
            var copy = world
            let name = world.ranks[0].keys.sorted().first { !world.ranks[0][$0]!.values.isEmpty }!
            var tensor = world[0, name]!
            var values = tensor.values
            values[0] = Float(bitPattern: values[0].bitPattern ^ 1)
            tensor = Tensor(dtype: tensor.dtype, shape: tensor.shape, values: values)
            copy[0, name] = tensor
            return copy
        }
        let outputsOff = Golden(outputs: flipped(golden.outputs), gauge: golden.gauge)
        #expect(GoldenAudit.difference(outputsOff, golden)?.contains("outputs differ") == true)
        let g = golden.gauge
        let gaugeOff = Golden(outputs: golden.outputs, gauge: ReferenceGauge(
            preActivation: g.preActivation, magnitude: flipped(g.magnitude), bias: g.bias, terms: g.terms,
            intermediateRoundings: g.intermediateRoundings))
        #expect(GoldenAudit.difference(gaugeOff, golden)?.contains("magnitude") == true)
    }

    @Test("the audit draws the first golden and every interval-th after it, and never on the naive kernel")
    func auditSampling() {
        let audit = GoldenAudit(interval: 4)
        let draws = (0..<9).map { _ in audit.drawsNext(kernel: .blocked) }
        #expect(draws == [true, false, false, false, true, false, false, false, true])
        #expect(!GoldenAudit(interval: 1).drawsNext(kernel: .naive))
    }

    @Test("a case's time is split into the backend's and the harness's, and the report summarizes it")
    func timing() throws {
        let runner = Runner(backend: EngineBackend(ReferenceEngine()))
        let results = runner.run(Array(smokeSuite.cases.prefix(6)))
        for result in results {
            let backend = try #require(result.backendSeconds, "\(result.id)")
            let harness = try #require(result.harnessSeconds, "\(result.id)")
            #expect(result.seconds > 0 && backend >= 0 && harness >= 0, "\(result.id)")
            #expect(abs(backend + harness - result.seconds) < 1e-6, "\(result.id)")
        }
        let timing = try #require(RunReport(suite: "smoke", backend: "reference", criterion: "fusecheck", seconds: 1,
                                            results: results).timing)
        #expect(timing.cases == results.count && timing.summary.contains("harness"))
    }

    @Test("an external backend's case folders are in /dev/shm by default, and removed with the backend",
          .enabled(if: ProcessInfo.processInfo.environment["TMPDIR"] == nil
                       && SubprocessBackend.freeBytes(SubprocessBackend.memoryFolder) ?? 0 > 1 << 30,
                   "TMPDIR is set or /dev/shm is missing or small"))
    func scratchInMemory() throws {
        let backend = SubprocessBackend(command: "while read line; do echo '{\"status\": \"error\", \"message\": \"none\"}'; done")
        let result = Runner(backend: backend).run(smokeSuite.cases[0])
        #expect(result.status == .crash, "\(result.message)")
        // This backend's own root: other tests in this process make roots of the same prefix at
        // the same time (counting the prefix's folders failed when two ran at once).
        let root = try #require(backend.memoryScratchFolder, "no case folder went to /dev/shm")
        #expect(root.hasPrefix(SubprocessBackend.memoryFolder + "/fusecheck-backend-\(getpid())-"), "\(root)")
        #expect(FileManager.default.fileExists(atPath: root))
        backend.shutDown()
        #expect(!FileManager.default.fileExists(atPath: root), "\(root) left behind")
        #expect(backend.memoryScratchFolder == nil)
    }
}
