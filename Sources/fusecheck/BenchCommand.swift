import ArgumentParser
import Foundation
import FuseCheckHarness
import FuseCheckBench
import FuseCheckEngines

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the reference engine, the pipelined engine and OpenBLAS on realistic shapes of every operator.",
        discussion: """
            Build with -c release. Per row: median seconds of the reference and the pipelined engine, the \
            speedup, the pipelined engine's GFLOP/s, cblas_sgemm's GFLOP/s on the same matmuls with \
            pre-gathered fp32 operands, their ratio, the share of communication overlapped by compute, \
            and the peak memory. Exits 1 when the pipelined outputs are not bit-identical to the reference.
            """
    )

    @Flag(name: .long, help: "Write the results as a JSON array instead of a table.")
    var json = false

    @Option(name: .long, help: "Timed runs of the pipelined engine and of OpenBLAS per row (each after a pause and 0.1 s of untimed runs).")
    var repetitions = 5

    @Option(name: .long, help: "Runs of the reference engine per row (fewer once a row has used 5 s).")
    var referenceRepetitions = 3

    @Option(name: .long, help: "A case id to measure instead of the standard table (repeatable).")
    var `case`: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Time only the pipelined engine (no reference, no OpenBLAS, no pauses): this many calls back to back "
            + "per row after 5 untimed ones; prints the median and fastest seconds and GFLOP/s.",
        valueName: "runs"))
    var engineOnly: Int?

    @Flag(name: .long, help: "Do not pin the compute stages to the first allowed CPUs (also FUSECHECK_PIN=off).")
    var noPin = false

    @OptionGroup var htmlOption: HTMLOption

    func validate() throws {
        if let engineOnly, engineOnly < 1 { throw ValidationError("--engine-only needs at least 1 run") }
        if engineOnly != nil && htmlOption.html != nil {
            throw ValidationError("--engine-only has no HTML report; drop --html")
        }
    }

    func run() throws {
        try htmlOption.checkLocation()
        if noPin { CorePinning.isEnabled = false }
        let interactive = isatty(STDERR_FILENO) != 0
        if let engineOnly {
            try runEngineOnly(runs: engineOnly, interactive: interactive)
            return
        }
        // The anchor first: its version, build and kernel, and whether the environment forced the kernel.
        let say = json ? printError : { print($0) }
        OpenBLAS.anchorDescription(environment: ProcessInfo.processInfo.environment).forEach(say)
        let results = try Benchmark.run(caseIDs: `case`.isEmpty ? Benchmark.standardCases : `case`,
                                        repetitions: repetitions, referenceRepetitions: referenceRepetitions,
                                        progress: { if interactive { printError("bench: \($0)") } })
        try report(results, table: Benchmark.table(results),
                   kernels: "\(KernelPath.active) (best on this CPU: \(KernelPath.best); "
                       + "\(KernelPath.environmentVariable) forces one)")
        guard htmlOption.write(.bench(results, context: HTMLOption.context())) else { throw ExitStatus.harnessError }
        if results.contains(where: { !$0.identical }) {
            printError("bench: the pipelined outputs differ from the reference's")
            throw ExitStatus.checkFailed
        }
    }

    /// `--engine-only`: the pipelined engine alone, as a table or JSON.
    func runEngineOnly(runs: Int, interactive: Bool) throws {
        let results = try Benchmark.engineOnly(caseIDs: `case`.isEmpty ? Benchmark.standardCases : `case`, runs: runs,
                                               progress: { if interactive { printError("bench: \($0)") } })
        try report(results, table: Benchmark.engineTable(results), kernels: "\(KernelPath.active)")
    }

    /// The results as JSON (`--json`), or the table and a line naming the kernel path and pinning.
    func report(_ results: some Encodable, table: String, kernels: String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
        } else {
            print(table)
            print("pipelined engine's kernels: \(kernels); compute stages "
                  + (CorePinning.isEnabled ? "pinned" : "not pinned"))
        }
    }
}
