import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness

/// One row of `fusecheck bench --engine-only`: the pipelined engine alone, called back to back.
public struct EngineTiming: Codable, Sendable {
    public var op: String
    public var shape: String
    public var caseID: String
    /// Timed calls, after `EngineTiming.untimedRuns` untimed ones.
    public var runs: Int
    public var medianSeconds: Double
    public var fastestSeconds: Double
    /// 2 * (multiply-adds of every rank) / seconds / 1e9, at the median and the fastest call.
    public var medianGflops: Double
    public var fastestGflops: Double

    enum CodingKeys: String, CodingKey {
        case op, shape, caseID = "case", runs, medianSeconds = "median_s", fastestSeconds = "fastest_s"
        case medianGflops = "median_gflops", fastestGflops = "fastest_gflops"
    }

    /// Calls made before the timed ones (caches, scratch buffers and stage threads warm).
    public static let untimedRuns = 5
}

extension Benchmark {
    /// Times the pipelined engine alone on each case, `runs` calls back to back after
    /// `EngineTiming.untimedRuns` untimed ones: no reference, no OpenBLAS and no pauses, for
    /// comparing two builds of the engine back to back and for profiling it (`perf record`)
    /// without the anchor's threads in the samples. Throws when a case is rejected.
    public static func engineOnly(caseIDs: [String] = standardCases, runs: Int,
                                  progress: (String) -> Void = { _ in }) throws -> [EngineTiming] {
        try caseIDs.map { id in
            let testCase = try Case(id: id)
            let call = try testCase.makeCall()
            let inputs = try InputGenerator.inputs(for: testCase)
            let work = try MatmulWork(call: call, inputs: inputs)
            let engine = PipelinedEngine()
            progress("\(id): \(runs) timed runs")
            for _ in 0..<EngineTiming.untimedRuns {
                _ = try completedOutputs(try engine.run(call, inputs: inputs), testCase)
            }
            var seconds: [Double] = []
            for _ in 0..<max(1, runs) {
                let (outcome, elapsed) = try timed { try engine.run(call, inputs: inputs) }
                _ = try completedOutputs(outcome, testCase)
                seconds.append(elapsed)
            }
            let middle = median(seconds)
            let fastest = seconds.min() ?? .nan
            return EngineTiming(op: testCase.op.rawValue, shape: shapeText(testCase), caseID: id, runs: seconds.count,
                                medianSeconds: middle, fastestSeconds: fastest, medianGflops: work.flops / middle / 1e9,
                                fastestGflops: work.flops / fastest / 1e9)
        }
    }

    /// The engine-only results as a text table.
    public static func engineTable(_ results: [EngineTiming]) -> String {
        let header = ["op", "shape", "runs", "median s", "fastest s", "median GFLOP/s", "fastest GFLOP/s"]
        let rows = results.map { result in
            [result.op, result.shape, "\(result.runs)", String(format: "%.5f", result.medianSeconds),
             String(format: "%.5f", result.fastestSeconds), String(format: "%.1f", result.medianGflops),
             String(format: "%.1f", result.fastestGflops)]
        }
        return alignedLines(header: header, rows: rows).joined(separator: "\n")
    }
}
