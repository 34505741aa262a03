import FuseCheckEngines

/// Every backend that `--backend NAME` can name: the built-in engines, the correct variants
/// (`variant:NAME`) and the mutants (`mutant:NAME`).
public enum BackendCatalog {
    /// The mutants of the self-test: the general faults, then every registered operator's own.
    public static let mutants: [MutantEngine] = MutantEngine.Fault.allCases.map(MutantEngine.init)
        + OperatorRegistry.records.flatMap(\.operatorMutants).map(MutantEngine.init)

    /// The default backend: the built-in implementation under test (the pipelined engine where
    /// it is built, else the reference).
    public static var defaultName: String {
        BuiltInEngines.names.contains("pipelined") ? "pipelined" : "reference"
    }

    /// Every name `backend(named:)` accepts. `mutant:stale-scratch` is not in `mutants`: only a
    /// reordered run (`--twice`, `--shuffle`) catches it, and the self-test runs in suite order.
    public static var names: [String] {
        BuiltInEngines.names + CorrectVariants.all.map(\.name) + mutants.map(\.name)
            + [StaleScratchEngine.name, TrappingEngine.name]
    }

    /// The engine behind the backend with this name.
    public static func engine(named name: String) throws -> any Engine {
        if let variant = CorrectVariants.all.first(where: { $0.name == name }) { return variant }
        if let mutant = mutants.first(where: { $0.name == name }) { return mutant }
        if name == TrappingEngine.name { return TrappingEngine() }
        if name == StaleScratchEngine.name { return StaleScratchEngine() }
        if BuiltInEngines.names.contains(name) { return try BuiltInEngines.engine(named: name) }
        throw HarnessError("unknown backend \"\(name)\"; known: \(names.joined(separator: ", "))")
    }

    /// The backend with this name. With a `workerCommand` the engine runs in a worker process
    /// (`IsolatedEngineBackend`), so that a trap in it is a verdict; without, in this process.
    public static func backend(named name: String, workerCommand: String? = nil,
                               timeout: Duration = SubprocessBackend.defaultTimeout) throws -> any Backend {
        let engine = try engine(named: name)
        guard let workerCommand else { return EngineBackend(engine) }
        return IsolatedEngineBackend(name: name, workerCommand: workerCommand, timeout: timeout)
    }
}

/// A `--filter` query: comma-separated terms, all of which must hold. `key=value` compares a
/// case field (`op`, `platform`, `dtype`, `data`, `seed`) or parameter (`ws`, `k`, `act`, ...)
/// exactly; any other term must occur in the case id.
public struct CaseFilter: Sendable {
    let terms: [(key: String?, value: String)]

    public init(_ query: String) {
        terms = query.split(separator: ",").map { term in
            let parts = term.split(separator: "=", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : (nil, String(term))
        }
    }

    public func matches(_ testCase: Case) -> Bool {
        terms.allSatisfy { term in
            guard let key = term.key else { return testCase.id.contains(term.value) }
            switch key {
            case "op": return testCase.op.rawValue == term.value
            case "platform": return testCase.platform.rawValue == term.value
            case "dtype": return testCase.dtype.shortName == term.value || testCase.dtype.rawValue == term.value
            case "data": return testCase.data.rawValue == term.value
            case "seed": return String(testCase.seed) == term.value
            default:
                let fallback = OperatorRegistry.record(for: testCase.op)?.parameters
                    .first { $0.key == key }?.defaultValue
                return (testCase.params[key] ?? fallback) == term.value
            }
        }
    }
}
