import Foundation
import FuseCheckHarness

extension ReportDocument {
    /// The benchmark: the table, GFLOP/s per row against OpenBLAS, and per row the pipelined
    /// engine's per-rank timeline of its median run.
    public static func bench(_ results: [BenchmarkResult], context: ReportContext) -> ReportDocument {
        let rows = results.map { result in
            [result.op, result.shape, String(format: "%.3f", result.referenceSeconds),
             String(format: "%.4f", result.pipelinedSeconds), String(format: "%.1fx", result.speedup),
             String(format: "%.1f", result.gflops), String(format: "%.1f", result.openblasGflops),
             String(format: "%.2f", result.ratioVsOpenblas), String(format: "%.0f%%", result.overlap * 100),
             result.identical ? "yes" : "NO"]
        }
        var sections = [
            ReportSection("Results", [
                .table(ReportTable(headers: ["op", "shape", "reference s", "pipelined s", "speedup", "GFLOP/s",
                                             "OpenBLAS GFLOP/s", "ratio", "overlap", "identical"], rows: rows)),
                .bars(BarChart(title: "GFLOP/s per row: the pipelined engine (whole fused operator) and OpenBLAS "
                                   + "cblas_sgemm on the same matmuls",
                               unit: "GFLOP/s", series: ["pipelined", "OpenBLAS"],
                               groups: results.map { ("\($0.op) \($0.shape)", [$0.gflops, $0.openblasGflops]) })),
            ]),
        ]
        var timelines: [ReportBlock] = []
        for result in results {
            guard let profile = result.timeline, !profile.intervals.isEmpty else { continue }
            let ranks = profile.intervals.map { intervals in
                intervals.map { TimelineInterval(lane: $0.stage == .communication ? .transport : .compute,
                                                 start: $0.start, end: $0.end) }
            }
            let end = max(profile.wallSeconds, profile.intervals.flatMap { $0.map(\.end) }.max() ?? 0)
            timelines.append(.timeline(TimelineChart(
                title: "\(result.op) \(result.shape): median run, "
                    + String(format: "%.0f%% of transport overlapped by compute", profile.overlapFraction * 100),
                ranks: ranks, seconds: end)))
        }
        if timelines.isEmpty { timelines = [.paragraph("No pipelined timeline was recorded.")] }
        sections.append(ReportSection("The pipelined engine's timeline per rank", timelines))
        return ReportDocument(title: "FuseCheck benchmark", context: context, sections: sections)
    }
}
