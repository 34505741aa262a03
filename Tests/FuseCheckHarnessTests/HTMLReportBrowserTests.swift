import Foundation
import Testing
@testable import FuseCheckHarness

/// The HTML report as a browser renders it: Debian's headless Chromium (`.ci/run` installs it).
/// Skipped, saying so, only where chromium is missing and `CI` is not set; in CI it must run.
@Suite("HTML report in a browser")
struct HTMLReportBrowserTests {
    static let chromium: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let candidates = path.split(separator: ":").flatMap { ["\($0)/chromium", "\($0)/chromium-browser"] }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static let enabled = chromium != nil || ProcessInfo.processInfo.environment["CI"] != nil

    /// Runs headless Chromium on a file and returns its serialized DOM and its log (console
    /// messages, script errors and Content-Security-Policy violations appear there as `:CONSOLE`).
    static func dumpDOM(_ file: String, scratch: String) throws -> (status: Int32, dom: String, log: String) {
        let executable = try #require(chromium, "chromium is not installed: apt-get install chromium (CI must have it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                             "--user-data-dir=\(scratch)/profile", "--dump-dom",
                             URL(fileURLWithPath: file).absoluteString]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = scratch
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes to the end on their own threads so neither can fill up and stall the browser.
        let dom = Reader(output.fileHandleForReading), log = Reader(errors.fileHandleForReading)
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: timer)
        process.waitUntilExit()
        timer.cancel()
        return (process.terminationStatus, dom.text(), log.text())
    }

    /// Reads a pipe to its end on a background thread.
    final class Reader: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var data = Data()

        init(_ handle: FileHandle) {
            Thread.detachNewThread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }
        }

        func text() -> String {
            done.wait()
            return String(decoding: data, as: UTF8.self)
        }
    }

    @Test("a real failing report with a hostile backend renders: every chart in the DOM, no script, no console error",
          .enabled(if: enabled,
                   "chromium is not installed and CI is not set: skipped (apt-get install chromium to run it)"))
    func rendersInChromium() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fusecheck-html-\(UUID())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let (failing, recorder) = try HTMLReportTests.run([HTMLReportTests.tileCase],
                                                          backend: "mutant:last-tile-dropped")
        let report = RunReport(suite: "smoke", backend: "mutant:last-tile-dropped", criterion: "fusecheck",
                               seconds: 1, results: failing.results + [HTMLReportTests.hostileResult(1)])
        let page = ReportDocument.run(report, plots: recorder, context: HTMLReportTests.context).render()
        let file = scratch + "/report.html"
        try AtomicFile.write(Data(page.utf8), to: file)

        let (status, dom, log) = try Self.dumpDOM(file, scratch: scratch)
        #expect(status == 0, "chromium exited with \(status): \(log.suffix(2000))")
        #expect(dom.contains("<h1>FuseCheck: smoke on mutant:last-tile-dropped</h1>"), "\(dom.prefix(500))")
        #expect(dom.components(separatedBy: "<svg class=\"heatmap\"").count - 1 == 4, "one heatmap per rank")
        #expect(dom.contains("<svg class=\"histogram\""))
        #expect(dom.contains("<circle class=\"worst\""))
        // The hostile stderr is text in a <pre>, not an element: the DOM has no script at all.
        #expect(!dom.contains("<script"))
        #expect(dom.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        let console = log.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        #expect(console.isEmpty, "console messages: \(console.joined(separator: "\n"))")
    }
}
