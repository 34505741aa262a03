import ArgumentParser
import Foundation
import FuseCheckHarness

/// `fusecheck profile`: the numerics profile of a backend (spec P2), as a table and JSON.
struct ProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Measure a backend's numerics profile (accumulator, order, rounding, subnormals, NaN, ...).",
        discussion: """
            Designed exact-data probes decide, per operator and dtype, each property of the
            numerics profile; a property the probes cannot decide is reported as undetermined.
            """)

    @OptionGroup var backendOptions: BackendOptions

    @Option(name: .long, help: "Only this operator (agmm, aagbmm, mmrs, bmmrs).")
    var op: String?

    @Option(name: .long, help: "Write the profile as JSON (format 1) to this path (- for standard output).")
    var json: String?

    @OptionGroup var expectationsOptions: ExpectationsOptions

    @OptionGroup var htmlOption: HTMLOption

    func validate() throws {
        if let op, !NumericsProfiler.operators.map(\.rawValue).contains(op) {
            throw ValidationError("unknown operator \"\(op)\" (known: "
                + NumericsProfiler.operators.map(\.rawValue).joined(separator: ", ") + ")")
        }
    }

    func run() throws {
        if let json { try OutputLocation.checkReport(json, option: "--json") }
        try htmlOption.checkLocation()
        let expectations = try expectationsOptions.load()
        let backend = try backendOptions.make()
        defer { shutDown(backend) }
        let operators = NumericsProfiler.operators.filter { op == nil || $0.rawValue == op }
        var report = NumericsProfiler(backend: backend).measure(operators: operators)
        report.backend = backendOptions.name
        let toStdout = json == OutputLocation.standardOutput
        let say: (String) -> Void = toStdout ? { printError($0) } : { print($0) }
        say("numerics profile of \(backendOptions.name)")
        say(report.table())
        let reasons = report.undeterminedReasons()
        if !reasons.isEmpty {
            say("\nundetermined:")
            reasons.forEach { say("  " + $0) }
        }
        if let json { try OutputLocation.writeReport(try report.json(), to: json) }
        guard htmlOption.write(.profile(report, context: HTMLOption.context())) else { throw ExitStatus.harnessError }
        // A declared profile (expectations file) that a measurement contradicts: the kernel's
        // numerics changed, or the file is stale. Either way, say which property and fail.
        guard let expectations else { return }
        var contradictions: [String] = []
        for profile in report.profiles {
            var measured: [String: String] = [:]
            for (property, value) in profile.properties { measured[property.rawValue] = value.description }
            for line in expectations.profileContradictions(measured: measured) {
                contradictions.append("\(profile.op) \(profile.dtype.shortName): \(line)")
            }
        }
        if contradictions.isEmpty {
            say("the measured profile agrees with the profile declared in \(expectations.path)")
            return
        }
        printError("the measured profile contradicts the profile declared in \(expectations.path):")
        contradictions.forEach { printError("  " + $0) }
        throw ExitStatus.checkFailed
    }
}
