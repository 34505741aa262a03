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
            Exit status 1 if there was any finding.
            """
    )

    @Option(name: .long, help: "Stop after this many seconds.")
    var seconds: Double?

    @Option(name: .long, help: "Stop after this many cases (of this shard).")
    var cases: Int?

    @Option(name: .long, help: "The seed of the case stream.")
    var seed: UInt64 = 1

    @OptionGroup var backendOptions: BackendOptions

    @Option(name: .long, help: "This machine's part of the stream, I/N (0-based).")
    var shard = "0/1"

    @Option(name: .long, help: "Where to write findings.")
    var findings = "findings"

    @Option(name: .long, help: "Worker threads (each with its own backend).")
    var jobs = 1

    @Option(name: .long, help: "The most multiply-adds one case may cost over the whole world.")
    var budget = RandomCases.defaultBudget

    @Option(name: .long, help: "Write the summary as JSON to this path.")
    var json: String?

    func validate() throws {
        if seconds == nil && cases == nil { throw ValidationError("give --seconds N or --cases N") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let parts = shard.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, parts[0] >= 0, parts[0] < parts[1] else {
            throw HarnessError("--shard must be I/N with 0 <= I < N, e.g. 0/4")
        }
        var options = FuzzOptions()
        options.seed = seed
        options.shard = parts[0]
        options.shards = parts[1]
        options.seconds = seconds
        options.cases = cases
        options.jobs = jobs
        options.budget = budget
        options.findingsFolder = findings
        let display = FuzzDisplay()
        let backendOptions = self.backendOptions
        Interruption.install()
        let summary = try Fuzzer.run(options, backendName: backendOptions.name,
                                     reproBackendArguments: backendOptions.reproArguments,
                                     makeBackend: { try backendOptions.make() },
                                     progress: display.update)
        display.finish()
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(try encoder.encode(summary), to: json)
        }
        let counts = summary.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print(String(format: "fuzz: %d cases in %.1f s (%.1f cases/s) on %@, seed %llu, shard %d/%d: %@",
                     summary.casesRun, summary.seconds, summary.casesPerSecond, summary.backend, summary.seed,
                     summary.shard, summary.shards, counts))
        if summary.interrupted, let status = Interruption.exitStatus {
            printError("interrupted by \(Interruption.signalName ?? "a signal"): the summary holds the cases done")
            for finding in summary.findings {
                print("  \(finding.signature)  (\(finding.occurrences)x)" + (finding.path.map { "  repro: fusecheck replay \($0)" } ?? ""))
            }
            throw ExitCode(status)
        }
        if summary.findings.isEmpty {
            print("no findings")
            return
        }
        print("\(summary.findings.count) finding(s):")
        for finding in summary.findings {
            print("  \(finding.signature)  (\(finding.occurrences)x)")
            print("    shrunk to \(finding.caseID)")
            if let path = finding.path { print("    repro: fusecheck replay \(path)") }
        }
        throw ExitStatus.checkFailed
    }
}

/// The fuzzer's live progress line, safe to call from the worker threads.
final class FuzzDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var last = Date.distantPast

    func update(_ progress: FuzzProgress) {
        lock.lock()
        defer { lock.unlock() }
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
        discussion: "Exit status 1 if the case still fails."
    )

    @Argument(help: "The finding's JSON file.")
    var file: String

    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let finding = try Finding.load(path: file)
        var options = backendOptions
        if options.backend == nil && options.backendCommand == nil {
            // The backend recorded in the file.
            if finding.backend.hasPrefix("cmd:") {
                options.backendCommand = String(finding.backend.dropFirst(4))
            } else {
                options.backend = finding.backend
            }
        }
        let backendName = options.name
        let backend = try options.make()
        defer { shutDown(backend) }
        let runner = Runner(backend: backend, reproBackendArguments: options.reproArguments)
        let result = runner.run(finding.testCase, expectedRejection: finding.expect)
        print("case       \(result.id)")
        if let expect = finding.expect { print("expect     rejection with \(expect)") }
        print("backend    \(backendName)")
        print("recorded   \(finding.signature) (shrunk from \(finding.original) in \(finding.shrinkSteps) steps)")
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
        if result.status == .harnessError { throw ExitStatus.harnessError }
        if result.status.isFailure { throw ExitStatus.checkFailed }
    }
}
