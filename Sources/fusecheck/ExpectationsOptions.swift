import ArgumentParser
import Foundation
import FuseCheckHarness

/// `--expectations FILE`: the backend's expectations file (docs/expectations.md) for `run`,
/// `check` and `fuzz`.
struct ExpectationsOptions: ParsableArguments {
    @Option(name: .long, help: """
        The backend's expectations file (JSON, docs/expectations.md): skips, expected failures, \
        allowed implementation-defined behaviours.
        """)
    var expectations: String?

    /// The file, read and checked (a malformed one is a harness error naming line and key), or nil.
    func load() throws -> Expectations? {
        try expectations.map(Expectations.load(path:))
    }

    /// The implementation-defined behaviours the file allows (reported, never failed, even
    /// under `--strict`); none without a file.
    func allowedBehaviours() throws -> Set<ImplementationDefinedBehaviour> {
        Set(try load()?.allow.compactMap(ImplementationDefinedBehaviour.init(rawValue:)) ?? [])
    }

    /// Runs `cases` through `execute` with the file applied: skipped cases are not run and are
    /// reported as `skipped`, failures the file expects become `expected-failure`, stale entries
    /// give `unexpected-pass` (failures with `strict`). Without a file, just `execute(cases)`.
    func run(_ cases: [Case], backend: String, strict: Bool,
             execute: ([Case]) -> RunReport) throws -> RunReport {
        guard let file = try load() else { return execute(cases) }
        let (toRun, skipped) = file.skipping(cases, backend: backend)
        return file.apply(to: execute(toRun), skipped: skipped, strict: strict)
    }
}
