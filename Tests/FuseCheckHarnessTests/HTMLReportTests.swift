import Foundation
import Testing
@testable import FuseCheckHarness
import FuseCheckBench
import _FuseCheckTestSupport

/// The HTML report (`--html`): the plots of failing cases, escaping, the size cap, and the page
/// as a browser renders it.
@Suite("HTML report")
struct HTMLReportTests {
    /// A smoke case of AllGatherMatmul whose output has 16 rows on every rank: enough row tiles
    /// that a dropped last tile leaves the first rows right.
    static let tileCase = "agmm:a2:fp16:ws=4:m=4:k=320:n=24:data=uniform:seed=117"

    /// Runs cases on a built-in backend in this process, recording the plots of failing cases.
    static func run(_ ids: [String], backend name: String,
                    capacity: Int = 10) throws -> (RunReport, ErrorPlotRecorder) {
        var runner = Runner(backend: try BackendCatalog.backend(named: name))
        let recorder = ErrorPlotRecorder(capacity: capacity)
        runner.errorPlots = recorder
        let results = try ids.map { runner.run(try Case(id: $0)) }
        let report = RunReport(suite: "cases", backend: name, criterion: "fusecheck", seconds: 1, results: results)
        return (report, recorder)
    }

    static let context = ReportContext(commandLine: ["fusecheck", "run", "--html", "r.html"], seed: "7",
                                       created: Date(timeIntervalSince1970: 0), facts: [("machine", "test")])

    @Test("HTML.escape leaves no character that could start markup or end an attribute")
    func escaping() {
        #expect(HTML.escape("<a href='x' title=\"y\">&amp;</a>")
            == "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;amp;&lt;/a&gt;")
        // Control characters become visible escapes (UntrustedText), not raw bytes.
        #expect(HTML.escape("a\u{1B}[2Jb\u{202E}c") == "a\\x1b[2Jb\\u{202e}c")
    }

    @Test("a dropped last tile is a stripe at the bottom of every rank's map, the worst cell in it")
    func lastTileStripe() throws {
        let (report, recorder) = try Self.run([Self.tileCase], backend: "mutant:last-tile-dropped")
        #expect(report.results.first?.status == .fail)
        let plots = try #require(recorder.plots(for: Self.tileCase))
        let output = try #require(plots.outputs.first { $0.output == "output" })
        #expect(output.maps.count == 4, "one map per rank of 4")
        for map in output.maps {
            let rowClasses = (0..<map.gridRows).map { row in
                map.cells[(row * map.gridColumns)..<((row + 1) * map.gridColumns)].max() ?? .exact
            }
            // Failing rows form one block that ends at the last row and does not start at the first.
            let failing = rowClasses.indices.filter { rowClasses[$0] >= .fail }
            #expect(!failing.isEmpty && failing.last == map.gridRows - 1 && failing.first! > 0,
                    "rank \(map.rank): rows by class \(rowClasses.map(\.rawValue))")
            #expect(failing == Array(failing.first!...failing.last!), "rank \(map.rank): the stripe is one block")
            let worst = try #require(map.worst)
            #expect(failing.contains(worst.row / map.rowsPerCell), "rank \(map.rank): worst at row \(worst.row)")
            #expect(worst.got == 0, "the dropped tile reads as zeros")
        }
        // The output of the gathered x1 is right: no plot of it fails.
        let gathered = plots.outputs.first { $0.output == "gather_out" }
        #expect(gathered.map { $0.maps.allSatisfy { $0.worstClass == .exact } } ?? true)
        // The error histogram counts every element once.
        let elements = output.maps.reduce(0) { $0 + $1.rows * $1.columns }
        let counted = output.histogram.bins.reduce(0, +) + output.histogram.below + output.histogram.above
            + output.histogram.nonFinite
        #expect(counted == elements)
        #expect(output.histogram.passBoundUlps.map { $0 > 0 } == true)
        #expect(output.histogram.warnBoundUlps! >= output.histogram.passBoundUlps!)
    }

    @Test("swapped ranks on provenance data name the rank each misplaced row came from")
    func provenanceRows() throws {
        let id = "agmm:a3:fp16:ws=8:m=3:k=256:n=5:data=provenance:seed=111"
        let (report, recorder) = try Self.run([id], backend: "mutant:rows-swapped")
        #expect(report.results.first?.status == .fail)
        let plots = try #require(recorder.plots(for: id))
        let misplaced = plots.outputs.flatMap(\.misplacedRows)
        #expect(!misplaced.isEmpty, "outputs: \(plots.outputs.map { "\($0.output) \($0.method)" })")
        for row in misplaced {
            #expect(row.source.hasPrefix("got ") && row.source.contains("; expected ") && row.source.contains("rank"),
                    "\(row.source)")
        }
    }

    @Test("a passing case records no plots, and the page of a passing run has no heatmap")
    func passingCasesCostNothing() throws {
        let (report, recorder) = try Self.run([Self.tileCase], backend: "reference")
        #expect(report.passed)
        #expect(recorder.plots(for: Self.tileCase) == nil)
        let page = ReportDocument.run(report, plots: recorder, context: Self.context).render()
        #expect(!page.contains("class=\"heatmap\""))
        #expect(page.contains("No case failed or warned."))
    }

    @Test("the page is one self-contained document: CSP forbids scripts, nothing is fetched, every chart inline")
    func structure() throws {
        let (report, recorder) = try Self.run([Self.tileCase], backend: "mutant:last-tile-dropped")
        let page = ReportDocument.run(report, plots: recorder, context: Self.context).render()
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'none';"))
        #expect(!page.contains("<script"))
        for external in ["src=", "href=", "url(http", "@import", "@font-face"] {
            #expect(!page.contains(external), "the page refers to \(external)")
        }
        #expect(page.components(separatedBy: "<svg class=\"heatmap\"").count - 1 == 4)
        #expect(page.components(separatedBy: "<svg class=\"histogram\"").count - 1 == 1)
        #expect(page.contains("Ringed: worst at row"))
        #expect(page.contains("fusecheck run --case &#39;\(Self.tileCase)&#39;"), "the repro line")
        // Balanced: every element the writer opens is closed.
        for tag in ["section", "article", "svg", "figure", "table", "pre"] {
            #expect(page.components(separatedBy: "<\(tag)").count == page.components(separatedBy: "</\(tag)>").count,
                    "<\(tag)> opened and closed a different number of times")
        }
    }

    /// A result whose every text comes from a hostile backend.
    static func hostileResult(_ number: Int, stderrLength: Int = 0) -> CaseResult {
        CaseResult(id: "agmm:\"><script>alert(\(number))</script>", op: "agmm", dtype: "fp16", platform: "a2",
                   backend: "cmd:<b>", status: .crash, expectedRejection: nil,
                   rejection: "<img src=x onerror=alert(2)>",
                   outputs: [], message: "died: <iframe src=\"javascript:alert(3)\">",
                   stderr: "</pre><script>alert(1)</script>" + String(repeating: "x", count: stderrLength),
                   repro: "fusecheck run --case '<svg onload=alert(4)>'", seconds: 0)
    }

    @Test("a backend's stderr, messages and case ids cannot inject markup or script")
    func hostileBackend() {
        let report = RunReport(suite: "<title>", backend: "cmd:</title><script>x()</script>", criterion: "fusecheck",
                               seconds: 0, results: [Self.hostileResult(1)])
        let page = ReportDocument.run(report, plots: ErrorPlotRecorder(), context: Self.context).render()
        #expect(!page.contains("<script"))
        for injected in ["<img", "<iframe", "<svg onload", "</pre><script", "<b>"] {
            #expect(!page.contains(injected), "\(injected) reached the page unescaped")
        }
        #expect(page.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(page.components(separatedBy: "<title>").count == 2, "only the page's own title element")
        #expect(page.components(separatedBy: "<pre>").count == page.components(separatedBy: "</pre>").count)
    }

    @Test("a nightly run of 5,000 failures stays under 2 MB: 10 cases plotted, 300 listed, stderr cut, all said")
    func sizeCap() throws {
        // Ten real cases of plots, then 5,000 hostile crashes with 20 KB of stderr each.
        let ids = ["agmm:a2:fp16:ws=4:m=4:k=320:n=24:data=uniform:seed=117",
                   "agmm:a3:fp16:ws=8:m=3:k=256:n=5:data=provenance:seed=111"]
        let (plotted, recorder) = try Self.run(ids, backend: "mutant:last-tile-dropped", capacity: 10)
        let results = plotted.results + (0..<5000).map { Self.hostileResult($0, stderrLength: 20_000) }
        let report = RunReport(suite: "nightly", backend: "cmd:x", criterion: "fusecheck", seconds: 3000,
                               results: results)
        let page = ReportDocument.run(report, plots: recorder, context: Self.context).render()
        #expect(page.utf8.count < 2_000_000, "\(page.utf8.count) bytes")
        #expect(page.contains("10 of 5002 failing or warning cases are shown in detail"))
        #expect(page.contains("4702 more failing or warning cases are not listed here"))
        #expect(page.contains("characters cut ...]"))
        #expect(page.components(separatedBy: "<svg class=\"heatmap\"").count - 1 > 4, "the real cases keep their plots")
    }

    @Test("the benchmark page draws GFLOP/s bars and the pipelined engine's per-rank timeline of every chunk")
    func benchTimeline() throws {
        let results = try Benchmark.run(caseIDs: ["agmm:a3:fp16:ws=2:m=8:k=256:n=16:data=uniform:seed=1"],
                                        repetitions: 1, referenceRepetitions: 1)
        let profile = try #require(results.first?.timeline)
        #expect(profile.intervals.count == 2, "one lane set per rank")
        for rank in profile.intervals {
            #expect(rank.contains { $0.stage == .compute })
            #expect(rank.allSatisfy { $0.start >= 0 && $0.end >= $0.start && $0.end <= profile.wallSeconds + 1e-3 })
        }
        // Every tile's put is on the timeline of the rank that moved it: its source's transport, or
        // the compute stage that needed it first.
        let puts = profile.intervals.map { $0.filter { $0.stage == .communication }.count }.reduce(0, +)
        #expect(puts == 2, "one put per source tile, \(puts) recorded")
        // The intervals are the ones the overlap is computed from: their union gives the compute time.
        let page = ReportDocument.bench(results, context: Self.context).render()
        #expect(page.contains("<svg class=\"timeline\"") && page.contains("<svg class=\"bars\""))
        #expect(page.contains("class=\"lane-transport\"") && page.contains("class=\"lane-compute\""))
        // Not in the JSON: the bench's JSON keys stay as documented.
        let json = String(decoding: try JSONEncoder().encode(results), as: UTF8.self)
        #expect(!json.contains("timeline") && !json.contains("intervals"))
    }

    @Test("the fuzz page shows each finding's shrink as the parameters that changed")
    func shrinkTable() {
        let table = ReportDocument.shrinkTable(from: "agmm:a3:fp16:ws=8:m=300:k=512:n=64:data=normal:seed=9",
                                               to: "agmm:a3:fp16:ws=2:m=1:k=512:n=64:data=uniform:seed=9")
        #expect(table.rows == [["ws", "8", "2"], ["m", "300", "1"], ["data", "normal", "uniform"]])
    }
}

/// `--html` from the command line: written atomically next to the text report, with the plots.
@Suite("HTML report from the command line", .serialized,
       .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct HTMLReportCommandLineTests {
    @Test("run --html writes the page of a failing mutant (exit 1) with a heatmap per rank and the repro line")
    func runWritesReport() throws {
        let path = try temporaryFolder() + "/report.html"
        let outcome = try fusecheckOutcome(["run", "--case", HTMLReportTests.tileCase, "--backend",
                                            "mutant:last-tile-dropped", "--in-process", "--html", path])
        #expect(outcome.status == 1, "\(outcome.errors)")
        let page = try String(contentsOfFile: path, encoding: .utf8)
        #expect(page.components(separatedBy: "<svg class=\"heatmap\"").count - 1 == 4)
        #expect(page.contains("--backend &#39;mutant:last-tile-dropped&#39;"))
        #expect(page.contains("--html " + path), "the command line is on the page")
    }

    @Test("--html - is refused: the report is a page, not a stream")
    func standardOutputRefused() throws {
        let outcome = try fusecheckOutcome(["run", "--case", HTMLReportTests.tileCase, "--backend", "reference",
                                            "--html", "-"])
        #expect(outcome.status == 2 && outcome.errors.contains("--html needs a file path"), "\(outcome.errors)")
    }
}
