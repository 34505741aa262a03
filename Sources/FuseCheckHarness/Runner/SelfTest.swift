import FuseCheckEngines
import FuseCheckMutants

/// The harness checking itself: every mutant must be caught by some case, and no correct
/// variant may fail any case. Under `strict`, the variants that show implementation-defined
/// behaviours (`CorrectVariants.implementationDefinedNames`) must instead be flagged: fail some
/// case, and only for an implementation-defined behaviour.
public struct SelfTestReport: Sendable {
    /// Per mutant, the first case that caught it (nil: not caught).
    public var mutants: [(name: String, caughtBy: CaseResult?)]
    /// Per correct variant, its failing cases and how many cases warned.
    public var variants: [(name: String, failures: [CaseResult], warnings: Int)]
    /// Per correct variant, the cases that showed each implementation-defined behaviour, by
    /// `ImplementationDefinedBehaviour` raw value.
    public var implementationDefined: [String: [String: Int]] = [:]
    /// Whether the variants ran with implementation-defined behaviours as failures.
    public var strict = false

    /// Whether a variant met its expectation: no failure, or under `strict` for an
    /// implementation-defined variant, some failure and every one implementation-defined.
    public func variantPassed(_ name: String) -> Bool {
        guard let failures = variants.first(where: { $0.name == name })?.failures else { return false }
        guard strict, CorrectVariants.implementationDefinedNames.contains(name) else { return failures.isEmpty }
        return !failures.isEmpty && failures.allSatisfy { $0.implementationDefined != nil }
    }

    /// Every mutant caught and every variant as expected.
    public var passed: Bool {
        mutants.allSatisfy { $0.caughtBy != nil } && variants.allSatisfy { variantPassed($0.name) }
    }
}

public enum SelfTest {
    /// The goldens of the valid cases among `cases`, by case id.
    public static func goldens(for cases: [Case], progress: (Int, Int) -> Void = { _, _ in }) throws -> [String: Golden] {
        var goldens: [String: Golden] = [:]
        for (index, testCase) in cases.enumerated() {
            progress(index + 1, cases.count)
            let call = try testCase.makeCall()
            guard call.isValid else { continue }
            goldens[testCase.id] = try Runner.golden(call, inputs: try InputGenerator.inputs(for: testCase))
        }
        return goldens
    }

    /// Runs the mutants and the correct variants over the suites. Goldens are computed once per
    /// case and shared; a mutant stops at the first case that catches it.
    ///
    /// `makeBackend` turns a variant's or mutant's name into the backend that runs it: in-process
    /// by default, in a worker process from the CLI (FuseCheckExternal's
    /// `BackendCatalog.backend(named:workerCommand:timeout:)`), so that a mutant that traps is
    /// caught as a crash instead of ending the self-test.
    ///
    /// `only` restricts the run to the named variants and mutants (all of them by default).
    public static func run(suites: [Suite], criterion: Criterion = .fusecheck, strict: Bool = false,
                           goldens precomputed: [String: Golden]? = nil, only: Set<String>? = nil,
                           makeBackend: (String) throws -> any Backend = { try BackendCatalog.backend(named: $0) },
                           progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> SelfTestReport {
        let entries = suites.flatMap { suite in suite.cases.map { ($0, suite.expectations[$0.id]) } }
        let goldens = try precomputed ?? Self.goldens(for: entries.map(\.0)) { progress("goldens", $0, $1) }
        var report = SelfTestReport(mutants: [], variants: [])
        report.strict = strict
        for variant in CorrectVariants.all where only?.contains(variant.name) ?? true {
            let backend = try makeBackend(variant.name)
            defer { backend.shutDown() }
            let runner = Runner(backend: backend, criterion: criterion, strict: strict)
            var failures: [CaseResult] = []
            var warnings = 0
            var behaviours: [String: Int] = [:]
            for (index, (testCase, expected)) in entries.enumerated() {
                progress(variant.name, index + 1, entries.count)
                let result = runner.run(testCase, expectedRejection: expected, golden: goldens[testCase.id])
                if result.status.isFailure || result.status == .harnessError { failures.append(result) }
                if result.status == .warn { warnings += 1 }
                for behaviour in (result.implementationDefined ?? [:]).keys { behaviours[behaviour, default: 0] += 1 }
            }
            report.variants.append((variant.name, failures, warnings))
            report.implementationDefined[variant.name] = behaviours
        }
        for mutant in BackendCatalog.mutants where only?.contains(mutant.name) ?? true {
            let backend = try makeBackend(mutant.name)
            defer { backend.shutDown() }
            let runner = Runner(backend: backend, criterion: criterion)
            var caught: CaseResult?
            // An operator's own mutant is the reference on every other operator's cases, which
            // cannot catch it: only its operator's cases are run.
            let scoped: [(Case, String?)]
            if case .ofOperator(let target) = mutant.mutation {
                scoped = entries.filter { $0.0.op == target.operatorID }
            } else {
                scoped = entries
            }
            for (index, (testCase, expected)) in scoped.enumerated() {
                progress(mutant.name, index + 1, scoped.count)
                let result = runner.run(testCase, expectedRejection: expected, golden: goldens[testCase.id])
                if result.status.isFailure {
                    caught = result
                    break
                }
            }
            report.mutants.append((mutant.name, caught))
        }
        return report
    }
}
