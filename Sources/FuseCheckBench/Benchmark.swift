import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness
import FuseCheckOps

/// One measured row of `fusecheck bench`.
public struct BenchmarkResult: Codable, Sendable {
    /// Operator id (`agmm`, `aagbmm`).
    public var op: String
    /// The sizes, readably (`fp16 ws=8 m=128 k=2048 n=512`).
    public var shape: String
    /// The case id the inputs were drawn for.
    public var caseID: String
    /// Median seconds of the reference engine, over `referenceRepetitions` runs.
    public var referenceSeconds: Double
    public var referenceRepetitions: Int
    /// Median seconds of the pipelined engine (default mode), over `repetitions` runs.
    public var pipelinedSeconds: Double
    public var repetitions: Int
    /// reference / pipelined.
    public var speedup: Double
    /// The pipelined engine's matmul work per second: 2 * (multiply-adds of every rank) / seconds / 1e9.
    public var gflops: Double
    /// `cblas_sgemm` on the same matmuls with pre-converted, pre-gathered fp32 operands (median).
    public var openblasGflops: Double
    /// gflops / openblasGflops.
    public var ratioVsOpenblas: Double
    /// Share of communication time that overlapped compute (`PipelineProfile.overlapFraction`).
    public var overlap: Double
    /// Mean per-rank seconds in communication and in compute (median run).
    public var communicationSeconds: Double
    public var computeSeconds: Double
    /// Peak resident memory of the process during the row, MiB.
    public var peakMemoryMiB: Double?
    /// Whether the pipelined outputs equal the reference's bit for bit.
    public var identical: Bool
    /// The stage intervals of the median pipelined run (the HTML report's timeline); not in the JSON.
    public var timeline: PipelineProfile? = nil

    enum CodingKeys: String, CodingKey {
        case op, shape, caseID = "case", referenceSeconds = "reference_s"
        case referenceRepetitions = "reference_repetitions"
        case pipelinedSeconds = "pipelined_s", repetitions, speedup, gflops, openblasGflops = "openblas_gflops"
        case ratioVsOpenblas = "ratio_vs_openblas", overlap, communicationSeconds = "communication_s"
        case computeSeconds = "compute_s", peakMemoryMiB = "peak_memory_mib", identical
    }
}

/// `fusecheck bench`: the reference engine, the pipelined engine and OpenBLAS on realistic shapes
/// of both operators, measured in one run.
public enum Benchmark {
    /// The standard table: sizes a real model uses, small enough that the whole benchmark runs in
    /// under two minutes on two cores (the reference's naive loop dominates).
    public static let standardCases = [
        "agmm:a3:fp16:ws=4:m=128:k=2048:n=512:data=uniform:seed=1",
        "agmm:a3:bf16:ws=4:m=128:k=2048:n=512:data=uniform:seed=2",
        "aagbmm:a3:bf16:ep=4:tp=2:E=8:C=32:H=2048:M=1024:shard=0:act=0:data=uniform:seed=3",
        "aagbmm:a3:fp16:ep=4:tp=2:E=8:C=32:H=2048:M=1024:shard=1:act=3:bias=2:data=uniform:seed=4",
        "mmrs:a3:fp16:ws=4:m=512:k=2048:n=512:data=uniform:seed=5",
        "mmrs:a3:bf16:ws=4:m=512:k=2048:n=512:x2T=1:bias=1:data=uniform:seed=6",
        "bmmrs:a3:bf16:ep=4:tp=2:E=8:C=32:M=2048:H=1024:shard=1:bias=2:data=uniform:seed=7",
        // Quantized (int8, packed int64 scale): OpenBLAS has no int8 GEMM, so its anchor is
        // cblas_sgemm on the same multiply-adds (README, "The pipelined engine and the benchmark").
        "agmm:a3:fp16:ws=4:m=128:k=2048:n=512:mode=aiv:q=int8:x1s=1:x2s=int64:data=uniform:seed=7",
    ]

    /// Runs every case: the reference `referenceRepetitions` times (at most; fewer once it has
    /// used `referenceBudget` seconds), then the pipelined engine and OpenBLAS alternately
    /// `repetitions` times each, each timed run after a pause and a warm-up, reporting medians.
    public static func run(caseIDs: [String] = standardCases, repetitions: Int = 5, referenceRepetitions: Int = 3,
                           referenceBudget: Double = 5,
                           progress: (String) -> Void = { _ in }) throws -> [BenchmarkResult] {
        try caseIDs.map { id in
            try measure(Case(id: id), repetitions: repetitions, referenceRepetitions: referenceRepetitions,
                        referenceBudget: referenceBudget, progress: progress)
        }
    }

    static func measure(_ testCase: Case, repetitions: Int, referenceRepetitions: Int, referenceBudget: Double,
                        progress: (String) -> Void) throws -> BenchmarkResult {
        PeakMemory.reset()
        let call = try testCase.makeCall()
        let inputs = try InputGenerator.inputs(for: testCase)
        var work = try MatmulWork(call: call, inputs: inputs)

        progress("\(testCase.id): reference")
        var referenceTimes: [Double] = []
        var referenceOutputs: WorldTensors?
        while referenceTimes.count < max(1, referenceRepetitions) && referenceTimes.reduce(0, +) < referenceBudget {
            let (outcome, seconds) = try timed { try ReferenceEngine().run(call, inputs: inputs) }
            referenceTimes.append(seconds)
            if referenceOutputs == nil { referenceOutputs = try completedOutputs(outcome, testCase) }
        }

        progress("\(testCase.id): pipelined and OpenBLAS")
        let engine = PipelinedEngine()
        var pipelinedOutputs = try completedOutputs(try engine.run(call, inputs: inputs), testCase)
        var runs: [(seconds: Double, profile: PipelineProfile?)] = []
        var blasTimes: [Double] = []
        // Both are timed in the same state: each timed run follows a pause (OpenBLAS's idle
        // threads spin, sched_yield, for a while after each call, and would compete with the
        // pipelined engine's threads) and then `warmUpSeconds` of untimed runs of the same work
        // (after a pause, caches and clock speed are cold for whichever runs first: a single
        // untimed run left the engine up to 1.5x slower than back-to-back runs in a standalone driver).
        // The order alternates from one repetition to the next.
        for repetition in 0..<max(1, repetitions) {
            for pipelinedTurn in repetition % 2 == 0 ? [true, false] : [false, true] {
                Thread.sleep(forTimeInterval: pause)
                if pipelinedTurn {
                    try warmUp { _ = try engine.run(call, inputs: inputs) }
                    let ((outcome, profile), seconds) = try timed { try engine.runProfiled(call, inputs: inputs) }
                    pipelinedOutputs = try completedOutputs(outcome, testCase)
                    runs.append((seconds, profile))
                } else {
                    warmUp { work.runOpenBLAS() }
                    blasTimes.append(timed { work.runOpenBLAS() }.seconds)
                }
            }
        }
        let identical = referenceOutputs.map { bitIdentical($0, pipelinedOutputs, names: call.outputSlots.map(\.name)) }
            ?? false

        let medianRun = runs.sorted { $0.seconds < $1.seconds }[runs.count / 2]
        let pipelinedSeconds = median(runs.map(\.seconds))
        let referenceSeconds = median(referenceTimes)
        let gflops = work.flops / pipelinedSeconds / 1e9
        let blasGflops = work.flops / median(blasTimes) / 1e9
        let ranks = medianRun.profile?.ranks ?? []
        return BenchmarkResult(
            op: testCase.op.rawValue, shape: shapeText(testCase), caseID: testCase.id,
            referenceSeconds: referenceSeconds, referenceRepetitions: referenceTimes.count,
            pipelinedSeconds: pipelinedSeconds, repetitions: runs.count, speedup: referenceSeconds / pipelinedSeconds,
            gflops: gflops, openblasGflops: blasGflops, ratioVsOpenblas: gflops / blasGflops,
            overlap: medianRun.profile?.overlapFraction ?? 0,
            communicationSeconds: ranks.map(\.communication).reduce(0, +) / Double(max(ranks.count, 1)),
            computeSeconds: ranks.map(\.compute).reduce(0, +) / Double(max(ranks.count, 1)),
            peakMemoryMiB: PeakMemory.mebibytes(), identical: identical, timeline: medianRun.profile)
    }

    /// The pause before each timed run's warm-up.
    static let pause = 0.2
    /// How long each timed run is preceded by untimed runs of the same work (at least one).
    static let warmUpSeconds = 0.1

    /// Runs `body` until `warmUpSeconds` have passed, at least once.
    static func warmUp(_ body: () throws -> Void) rethrows {
        let start = DispatchTime.now().uptimeNanoseconds
        repeat {
            try body()
        } while Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 < warmUpSeconds
    }

    /// The median (the mean of the middle two for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func timed<Result>(_ body: () throws -> Result) rethrows -> (result: Result, seconds: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }

    static func completedOutputs(_ outcome: EngineOutcome, _ testCase: Case) throws -> WorldTensors {
        guard case .completed(let outputs) = outcome else {
            throw HarnessError("benchmark case \(testCase.id) was rejected")
        }
        return outputs
    }

    static func bitIdentical(_ lhs: WorldTensors, _ rhs: WorldTensors, names: [String]) -> Bool {
        guard lhs.rankCount == rhs.rankCount else { return false }
        for rank in 0..<lhs.rankCount {
            for name in names {
                guard let a = lhs[rank, name], let b = rhs[rank, name], a.shape == b.shape else { return false }
                if a.bitPatterns != b.bitPatterns { return false }
            }
        }
        return true
    }

    /// `fp16 ws=8 m=128 k=2048 n=512`: the dtype and the case's parameters.
    static func shapeText(_ testCase: Case) -> String {
        let order = OperatorRegistry.record(for: testCase.op)?.parameters.map(\.key) ?? testCase.params.keys.sorted()
        return ([testCase.dtype.shortName] + order.compactMap { key in testCase.params[key].map { "\(key)=\($0)" } })
            .joined(separator: " ")
    }

    /// The results as a text table, with the medians of the ratio and the speedup below it.
    public static func table(_ results: [BenchmarkResult]) -> String {
        let header = ["op", "shape", "ref s", "pipe s", "speedup", "GFLOP/s", "BLAS GFLOP/s", "ratio", "overlap",
                      "comm s", "comp s", "peak MiB", "identical"]
        let rows = results.map { result in
            [result.op, result.shape,
             String(format: "%.2f", result.referenceSeconds) + "×\(result.referenceRepetitions)",
             String(format: "%.4f", result.pipelinedSeconds), String(format: "%.1fx", result.speedup),
             String(format: "%.1f", result.gflops), String(format: "%.1f", result.openblasGflops),
             String(format: "%.2f", result.ratioVsOpenblas), String(format: "%.0f%%", result.overlap * 100),
             String(format: "%.4f", result.communicationSeconds), String(format: "%.4f", result.computeSeconds),
             result.peakMemoryMiB.map { String(format: "%.0f", $0) } ?? "-", result.identical ? "yes" : "NO"]
        }
        var lines = alignedLines(header: header, rows: rows)
        lines.append(String(format: "median speedup %.1fx, median ratio vs OpenBLAS %.2f (OpenBLAS on %d threads)",
                            median(results.map(\.speedup)), median(results.map(\.ratioVsOpenblas)),
                            OpenBLAS.threadCount))
        return lines.joined(separator: "\n")
    }

    /// The header and rows as lines of aligned columns: the first two (op, shape) left-aligned,
    /// the numbers right-aligned.
    static func alignedLines(header: [String], rows: [[String]]) -> [String] {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                column < 2 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                           : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return [line(header)] + rows.map(line)
    }
}
