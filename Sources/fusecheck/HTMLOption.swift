import ArgumentParser
import Foundation
import FuseCheckHarness

/// `--html PATH`: a self-contained HTML report (README, "The HTML report").
struct HTMLOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write a self-contained HTML report (plots of failing cases; "
                                            + "no script, nothing fetched) to this file."))
    var html: String?

    /// The most failing cases drawn in detail.
    static let plottedCases = 10

    func validate() throws {
        if html == OutputLocation.standardOutput {
            throw ValidationError("--html needs a file path (the report is a page, not a stream)")
        }
    }

    /// Checks, before anything runs, that the report can be written.
    func checkLocation() throws {
        if let html { try OutputLocation.checkReport(html, option: "--html") }
    }

    /// A recorder of failing cases' plots when a report is asked for.
    func makeRecorder(capacity: Int = HTMLOption.plottedCases) -> ErrorPlotRecorder? {
        html == nil ? nil : ErrorPlotRecorder(capacity: capacity)
    }

    /// The command line and the machine, for the report's header.
    static func context(seed: String? = nil) -> ReportContext {
        ReportContext(commandLine: CommandLine.arguments, seed: seed)
    }

    /// Writes the report atomically. Returns false (after saying why) if it could not be written.
    @discardableResult
    func write(_ document: @autoclosure () -> ReportDocument) -> Bool {
        guard let html else { return true }
        do {
            try OutputLocation.writeReport(Data(document().render().utf8), to: html)
            return true
        } catch {
            printError("error: the HTML report was not written: \(error)")
            return false
        }
    }
}

extension HTMLOption {
    /// Runs the command's ending (which may throw its exit status) after the report was or was
    /// not written: a report that could not be written makes the exit status 2, as for `--json`.
    func finishing(written: Bool, _ finish: () throws -> Void) throws {
        do {
            try finish()
        } catch {
            if !written { throw ExitStatus.harnessError }
            throw error
        }
        if !written { throw ExitStatus.harnessError }
    }
}

extension RunReport {
    /// The seed a run report names: the shuffle seed, else that each case carries its own.
    var seedDescription: String {
        order?.shuffleSeed.map { "shuffle seed \($0); data seeds in each case id" } ?? "in each case id (seed=...)"
    }
}
