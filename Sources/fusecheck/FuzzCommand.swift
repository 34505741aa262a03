import ArgumentParser
import Foundation
import FuseCheckHarness

struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Run seeded random valid and invalid cases until a time or case budget is spent; shrink and keep every new kind of failure.",
        discussion: """
            The same --seed and --shard always give the same cases; shards I/N partition the stream, \
            so N machines run disjoint cases. Each distinct failure (operator, output, kind) is shrunk \
            and written to --findings as a self-contained repro for `fusecheck replay`. \
            --shard auto takes the shard from the launcher (mpirun, srun, torchrun), so that one \
            launch runs one campaign; `fusecheck fuzz merge` combines the shards' reports. \
            Exit status 1 if there was any finding.
            """,
        subcommands: [FuzzMergeCommand.self]
    )

    // Budgets and the seed are parsed unconditionally so that a negative number reaches the range
    // check (otherwise `--seconds -1` is taken for an option and reported as a missing value).
    @Option(name: .long, parsing: .unconditional, help: "Stop after this many seconds (a positive number).")
    var seconds: Double?

    @Option(name: .long, parsing: .unconditional, help: "Stop after this many cases of this shard (at least 1).")
    var cases: Int?

    @Option(name: .long, parsing: .unconditional, help: "The seed of the case stream (0 to 2^64 - 1).",
            transform: FuzzCommand.parseSeed)
    var seed: UInt64 = 1

    @OptionGroup var backendOptions: BackendOptions

    @OptionGroup var expectationsOptions: ExpectationsOptions

    @Option(name: .long, help: ArgumentHelp(
        "This process's part of the stream: I/N (0-based), or auto for the rank and size its launcher set.",
        discussion: "auto reads \(ShardAssignment.launchers.map { "\($0.rank)/\($0.size)" }.joined(separator: ", "))."))
    var shard = "0/1"

    @Option(name: .long, help: "The folder to write findings into (created if missing).")
    var findings = "findings"

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp(
                "Worker threads, each with its own backend (default: the CPUs this process may use, "
                    + "at most 4; 1 under --shard auto, where the launcher starts a process per slot)."))
    var jobs: Int?

    @Option(name: .long, parsing: .unconditional,
            help: "The most multiply-adds one case may cost over the whole world.")
    var budget = RandomCases.defaultBudget

    @Flag(name: .long, help: "Fail implementation-defined behaviours (activation of ±inf giving NaN, flushed subnormals, the sign of an exact zero) instead of allowing them.")
    var strict = false

    @Option(name: .long, help: "Write the summary as JSON to this path (- for standard output); {shard} in it becomes the shard's number (one file per rank under --shard auto).")
    var json: String?

    @OptionGroup var htmlOption: HTMLOption

    /// Jobs when `--jobs` is not given: one per CPU this process may use, at most 4 (each job has a
    /// case in flight and the next being prepared), or 1 under `--shard auto`, whose launcher
    /// already runs a process per slot. On 2 cores, 2 jobs ran `fuzz --cases 900 --seed 11` at
    /// 168 cases/s against 137 for 1: one job leaves a core idle while its case's stages hand over.
    static func defaultJobs(shard: String) -> Int {
        shard == "auto" ? 1 : min(4, max(1, ProcessInfo.processInfo.activeProcessorCount))
    }

    /// A seed: a whole number that fits 64 bits, said so when it does not.
    @Sendable static func parseSeed(_ text: String) throws -> UInt64 {
        guard let seed = UInt64(text) else {
            throw ValidationError("--seed must be a whole number from 0 to \(UInt64.max), not \(text)")
        }
        return seed
    }

    func validate() throws {
        if let seconds, !(seconds > 0 && seconds.isFinite) {
            throw ValidationError("--seconds must be a finite number of seconds greater than 0, not \(seconds)")
        }
        if let cases, cases < 1 { throw ValidationError("--cases must be at least 1, not \(cases)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, not \(jobs)") }
        if budget < 1 { throw ValidationError("--budget must be at least 1, not \(budget)") }
    }

    @OptionGroup var budgetOptions: BudgetOptions

    func run() throws {
        // Checked here, not in validate(): ArgumentParser validates this command for `fuzz merge` too.
        if seconds == nil && cases == nil { throw ValidationError("give --seconds N or --cases N") }
        try budgetOptions.apply()
        let assignment = try ShardAssignment.parse(shard, environment: ProcessInfo.processInfo.environment)
        let json = self.json?.replacingOccurrences(of: "{shard}", with: String(assignment.index))
        // Every output location is checked before the first case runs.
        try OutputLocation.checkFolder(findings, option: "--findings")
        if let json { try OutputLocation.checkReport(json, option: "--json") }
        try htmlOption.checkLocation()
        var options = FuzzOptions()
        options.seed = seed
        options.shard = assignment.index
        options.shards = assignment.count
        options.seconds = seconds
        options.cases = cases
        options.jobs = jobs ?? Self.defaultJobs(shard: shard)
        options.budget = budget
        options.strict = strict
        options.findingsFolder = findings
        options.expectations = try expectationsOptions.load()
        let onTerminal = isatty(STDERR_FILENO) != 0  // then the message starts below the progress line
        options.findingNotWritten = { signature, error in
            printError((onTerminal ? "\n" : "") + "error: finding \(signature) could not be written: \(error)")
        }
        let display = FuzzDisplay()
        let backendOptions = self.backendOptions
        Interruption.install()
        let summary = try Fuzzer.run(options, backendName: backendOptions.name,
                                     reproBackendArguments: backendOptions.reproArguments,
                                     makeBackend: { try backendOptions.make() },
                                     progress: display.update)
        display.finish()
        let htmlWritten = try writeHTML(summary, rate: display.samples)
        // With the JSON summary on standard output, the human-readable one goes to standard error.
        let say = textPrinter(reportOnStandardOutput: json == OutputLocation.standardOutput)
        let counts = summary.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        say(String(format: "fuzz: %d cases in %.1f s (%.1f cases/s) on %@, seed %llu, shard %d/%d, %d job(s): %@",
                   summary.casesRun, summary.seconds, summary.casesPerSecond, summary.backend, summary.seed,
                   summary.shard, summary.shards, options.jobs, counts))
        if let checks = summary.goldenChecks, checks > 0 {
            say("golden audit: \(checks) golden(s) recomputed on the naive reference kernel, "
                + (summary.goldenMismatches?.isEmpty ?? true ? "all identical" : "\(summary.goldenMismatches!.count) differ"))
        }
        // A golden that differs from the naive reference's is FuseCheck's bug: said loudly, and
        // the run ends as a harness error.
        for mismatch in summary.goldenMismatches ?? [] {
            printError("error: FuseCheck bug: a golden differs from the naive reference's: \(mismatch)")
        }
        if summary.findings.isEmpty {
            say("no findings")
        } else {
            say("\(summary.findings.count) finding(s):")
        }
        for finding in summary.findings {
            say("  \(finding.signature)  (\(finding.occurrences)x)")
            say("    shrunk to \(finding.caseID)")
            if let path = finding.path { say("    repro: fusecheck replay \(path)") }
        }
        // A finding that could not be written is not dropped silently: it is named with its case id
        // (enough to rerun it), and the run is a harness error.
        let unwritten = summary.findings.filter { $0.writeError != nil }
        for finding in unwritten {
            printError("error: finding \(finding.signature) was not written to \(findings): "
                + (finding.writeError ?? ""))
            printError("  repro: fusecheck run --case '\(finding.caseID)' \(backendOptions.reproArguments)")
        }
        var reportFailed = false
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            do {
                try OutputLocation.writeReport(try encoder.encode(summary), to: json)
            } catch {
                printError("error: the summary was not written: \(error)")
                reportFailed = true
            }
        }
        if !unwritten.isEmpty || reportFailed || !htmlWritten || !(summary.goldenMismatches?.isEmpty ?? true) {
            throw ExitStatus.harnessError
        }
        if summary.interrupted, let status = Interruption.exitStatus {
            printError("interrupted by \(Interruption.signalName ?? "a signal"): the summary holds the cases done")
            throw ExitCode(status)
        }
        if !summary.findings.isEmpty { throw ExitStatus.checkFailed }
    }
}

extension FuzzCommand {
    /// The HTML report: each finding's shrunk case is run again (on a new backend) for its plots.
    func writeHTML(_ summary: FuzzSummary, rate: [(seconds: Double, cases: Int)]) throws -> Bool {
        guard htmlOption.html != nil else { return true }
        let recorder = htmlOption.makeRecorder()
        var results: [CaseResult] = []
        let replayed = summary.findings.filter { !$0.signature.hasSuffix(":invalid") }.prefix(HTMLOption.plottedCases)
        if !replayed.isEmpty {
            let backend = try backendOptions.make()
            defer { shutDown(backend) }
            var runner = Runner(backend: backend, strict: strict, reproBackendArguments: backendOptions.reproArguments)
            runner.errorPlots = recorder
            for finding in replayed {
                guard let testCase = try? Case(id: finding.caseID) else { continue }
                results.append(runner.run(testCase))
            }
        }
        return htmlOption.write(.fuzz(summary, rate: rate, findings: results, plots: recorder,
                                      context: HTMLOption.context(seed: "\(seed)")))
    }
}

struct FuzzMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the --json reports of a sharded fuzz campaign into one report.",
        discussion: """
            The reports must be of one campaign (seed, shard count, backend), each shard once. Totals \
            are summed, findings deduplicated by signature, and cases/s is the campaign's (its cases \
            over its longest shard's time). Missing shards are named. With --merged-findings, one \
            file per signature is copied there from the shards' findings (searched at their recorded \
            paths and in each --findings-from folder). Exit status 1 if there was any finding.
            """
    )

    @Argument(help: "The shards' reports (fusecheck fuzz --json).")
    var reports: [String]

    // The names differ from `fuzz`'s own options: ArgumentParser gives a parent command's
    // options precedence after the subcommand's name too.
    @Option(name: .long, help: "A folder holding shards' finding files (repeatable).")
    var findingsFrom: [String] = []

    @Option(name: .long, help: "Copy one finding file per signature into this folder.")
    var mergedFindings: String?

    @Option(name: .customLong("merged-json"), help: "Write the merged report as JSON to this path (- for standard output).")
    var mergedJSON: String?

    func validate() throws {
        if reports.isEmpty { throw ValidationError("give the shards' report files") }
    }

    func run() throws {
        let json = mergedJSON
        if let json { try OutputLocation.checkReport(json, option: "--merged-json") }
        if let mergedFindings { try OutputLocation.checkFolder(mergedFindings, option: "--merged-findings") }
        let loaded = try reports.map(FuzzMerge.load(path:))
        let merged = try FuzzMerge.merge(loaded, names: reports)
        var summary = merged.summary
        let say = textPrinter(reportOnStandardOutput: json == OutputLocation.standardOutput)
        var lost: [String] = []
        if let mergedFindings {
            lost = try FuzzMerge.collectFindings(&summary, searching: findingsFrom, into: mergedFindings)
        }
        let counts = summary.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        say(String(format: "fuzz merge: %d shard(s) of %d, %d cases in %.1f s (%.1f cases/s), seed %llu, on %@: %@",
                   summary.mergedShards?.count ?? 0, summary.shards, summary.casesRun, summary.seconds,
                   summary.casesPerSecond, summary.seed, summary.backend, counts))
        if !merged.missingShards.isEmpty {
            say("missing shard(s): " + merged.missingShards.map(String.init).joined(separator: ", "))
        }
        if let checks = summary.goldenChecks, checks > 0 {
            say("golden audit: \(checks) golden(s) recomputed on the naive reference kernel, "
                + (summary.goldenMismatches?.isEmpty ?? true ? "all identical" : "\(summary.goldenMismatches!.count) differ"))
        }
        for mismatch in summary.goldenMismatches ?? [] {
            printError("error: FuseCheck bug: a golden differs from the naive reference's: \(mismatch)")
        }
        say(summary.findings.isEmpty ? "no findings" : "\(summary.findings.count) distinct finding(s):")
        for finding in summary.findings {
            say("  \(finding.signature)  (\(finding.occurrences)x)")
            say("    shrunk to \(finding.caseID)")
            if let path = finding.path { say("    repro: fusecheck replay \(path)") }
        }
        for signature in lost { printError("error: no file of finding \(signature) in its recorded path or --findings-from") }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try OutputLocation.writeReport(try encoder.encode(summary), to: json)
        }
        if !lost.isEmpty || !(summary.goldenMismatches?.isEmpty ?? true) { throw ExitStatus.harnessError }
        if !summary.findings.isEmpty { throw ExitStatus.checkFailed }
    }
}

/// The fuzzer's live progress line, safe to call from the worker threads.
final class FuzzDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var last = Date.distantPast
    private var lastSample = -1.0
    private var recorded: [(seconds: Double, cases: Int)] = [(0, 0)]

    /// The cases done, sampled about once a second (the HTML report's cases/s over time).
    var samples: [(seconds: Double, cases: Int)] { lock.withLock { recorded } }

    func update(_ progress: FuzzProgress) {
        lock.lock()
        defer { lock.unlock() }
        if progress.seconds - lastSample >= 1 {
            lastSample = progress.seconds
            recorded.append((progress.seconds, progress.casesRun))
        }
        let now = Date()
        guard now.timeIntervalSince(last) >= (interactive ? 0.2 : 5) else { return }
        last = now
        let text = String(format: "fuzz: %d cases, %.1f cases/s, %d passed, %d failed, %d distinct finding(s), %.0f s",
                          progress.casesRun, Double(progress.casesRun) / max(progress.seconds, 1e-9),
                          progress.passed, progress.failed, progress.findings, progress.seconds)
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[2K" + text : text + "\n").utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rerun a finding (a repro file written by `fusecheck fuzz`) with full diagnostics.",
        discussion: """
            Runs the backend named by --backend or --backend-cmd (default: \(BackendCatalog.defaultName)); the \
            backend recorded in the file is shown, never run. Exit status 1 if the case still fails.
            """
    )

    @Argument(help: "The finding's JSON file.")
    var file: String

    @OptionGroup var backendOptions: BackendOptions

    @OptionGroup var htmlOption: HTMLOption

    @OptionGroup var budgetOptions: BudgetOptions

    func run() throws {
        try budgetOptions.apply()
        try htmlOption.checkLocation()
        let finding = try Finding.load(path: file)
        // Only the command line chooses what runs: a finding may come from anywhere (a CI
        // artifact), and its `backend` may be a shell command. It is shown, never used.
        let backend = try backendOptions.make()
        defer { shutDown(backend) }
        var runner = Runner(backend: backend, reproBackendArguments: backendOptions.reproArguments)
        runner.errorPlots = htmlOption.makeRecorder(capacity: 1)
        let result = runner.run(finding.testCase, expectedRejection: finding.expect)
        print("case       \(result.id)")
        if let expect = finding.expect { print("expect     rejection with \(expect)") }
        print("backend    \(backendOptions.name)")
        print("recorded with backend: \(UntrustedText.sanitizedLine(finding.backend))")
        print("recorded   \(UntrustedText.sanitizedLine(finding.signature)) (shrunk from \(UntrustedText.sanitizedLine(finding.original)) in "
            + "\(finding.shrinkSteps) steps)")
        print("verdict    \(result.status.rawValue)\(result.message.isEmpty ? "" : ": " + result.message)")
        if let rejection = result.rejection { print("rejection  \(rejection)") }
        for output in result.outputs {
            print("output \(output.name): \(output.verdict.rawValue) (\(output.method)), \(output.elements) elements, "
                + "\(output.failures) over bound, \(output.warnings) warned")
            if let worst = output.worst { print("  worst    \(worst)") }
            if output.method == "tolerance" {
                print(String(format: "  errors   max abs %.4g, max rel %.4g", output.maxAbsoluteError, output.maxRelativeError))
                if let mean = output.meanSignedError, let z = output.meanSignedErrorZ {
                    print(String(format: "  bias     mean signed error %.3f ulp (z = %.1f)", mean, z))
                }
                if let vendor = output.vendor {
                    print("  vendor   " + vendor.verdicts.sorted { $0.key < $1.key }
                        .map { "\($0.key) \($0.value.rawValue)" }.joined(separator: ", "))
                }
            }
            let buckets = ["0", "1", "2", "3-4", "5-8", "9-16", ">16", "nan/inf"]
            let histogram = buckets.compactMap { key in output.ulpHistogram[key].map { "\(key): \($0)" } }
            if !histogram.isEmpty { print("  ulps     " + histogram.joined(separator: ", ")) }
        }
        if let stderr = result.stderr, !stderr.isEmpty { print("stderr\n\(stderr)") }
        print("repro      \(result.repro)")
        let written = htmlOption.write(.replay(result, finding: finding, plots: runner.errorPlots,
                                               context: HTMLOption.context(seed: "in the case id")))
        try htmlOption.finishing(written: written) {
            if result.status == .harnessError { throw ExitStatus.harnessError }
            if result.status.isFailure { throw ExitStatus.checkFailed }
        }
    }
}
