import ArgumentParser
import Foundation
import FuseCheckHarness

/// `--repeat`, `--shuffle`, `--shuffle-seed`, `--twice`: how a run goes through its cases, to
/// catch a backend whose bits vary between calls or depend on what ran before (`RunOrder`).
struct OrderOptions: ParsableArguments {
    @Option(name: .customLong("repeat"),
            help: "Run each case N times back to back; different bits between the runs is a nondeterministic verdict at most \(Self.maximumRepeat).")
    var repeatCount = 1

    @Flag(name: .long, help: "Run the cases in a seeded random order; the seed is drawn and printed (give one with --shuffle-seed).")
    var shuffle = false

    @Option(name: .customLong("shuffle-seed"), help: "Run the cases in the random order of this seed (implies --shuffle).")
    var shuffleSeed: UInt64?

    @Flag(name: .long, help: "Run every case a second time, in a second pass through the order backwards; a case whose result depends on its position is state-dependent.")
    var twice = false

    /// The most runs of one case at one position.
    static let maximumRepeat = 1000

    func validate() throws {
        guard (1...Self.maximumRepeat).contains(repeatCount) else {
            throw ValidationError("--repeat must lie in [1, \(Self.maximumRepeat)], not \(repeatCount)")
        }
    }

    /// The order the options ask for; `--shuffle` without a seed draws one.
    func makeOrder() -> RunOrder {
        RunOrder(repeatCount: repeatCount,
                 shuffleSeed: shuffleSeed ?? (shuffle ? UInt64.random(in: 0...UInt64(UInt32.max)) : nil),
                 twice: twice)
    }
}

/// Runs cases in `order` with a progress line and collects the report: `execute` for a run with
/// `--repeat`, `--shuffle` or `--twice`. A case that fails in a reordered run is run again alone
/// on a fresh backend from `freshBackend`.
func execute(runner: Runner, suiteName: String, cases: [Case], expectations: [String: String],
             criterion: Criterion, order: RunOrder, freshBackend: @escaping () throws -> any Backend,
             say: (String) -> Void) -> RunReport {
    Interruption.install()
    var described = ["order: \(order.shuffleSeed.map { "shuffled (--shuffle-seed \($0))" } ?? "the suite's")"]
    if order.twice { described.append("then backwards (--twice)") }
    if order.repeatCount > 1 { described.append("each case \(order.repeatCount) times in a row (--repeat)") }
    say(described.joined(separator: ", "))
    let progress = Progress("run \(suiteName) on \(runner.backend.name)")
    let start = Date()
    var failed = 0
    let results = runner.run(cases, order: order, expectations: expectations, freshBackend: freshBackend) {
        done, total, result in
        if result.status.isFailure { failed += 1 }
        progress.update(done, total, note: failed > 0 ? "\(failed) failed runs" : nil)
    }
    if Interruption.isRequested { runner.backend.shutDown() }
    var report = RunReport(suite: suiteName, backend: runner.backend.name, criterion: criterion.rawValue,
                           seconds: Date().timeIntervalSince(start), results: results,
                           interruptedBy: Interruption.signalName)
    report.order = order
    return report
}
