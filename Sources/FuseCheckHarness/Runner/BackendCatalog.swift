import FuseCheckEngines
import FuseCheckMutants

/// The one registry of engines and backends: the built-in engines (`--engine NAME`, and
/// `--backend NAME`), the correct variants (`variant:NAME`) and the mutants (`mutant:NAME`).
public enum BackendCatalog {
    /// The built-in engines' names (`--engine`).
    public static let builtInNames = ["reference", "reference-vendor", "pipelined", "pipelined-splitk"]

    /// Parts of the `pipelined-splitk` engine's split-K accumulation.
    public static let splitKParts = 4

    /// The built-in engine with this name.
    public static func builtInEngine(named name: String) throws -> any Engine {
        switch name {
        case "reference": return ReferenceEngine(epilogue: .ideal)
        case "reference-vendor": return ReferenceEngine(epilogue: .vendor)
        case "pipelined": return PipelinedEngine()
        case "pipelined-splitk": return PipelinedEngine(accumulation: .splitK(parts: splitKParts))
        default:
            throw HarnessError("unknown engine \"\(name)\" (known: \(builtInNames.joined(separator: ", ")))")
        }
    }

    /// The mutants of the self-test: the general faults, then every registered operator's own.
    public static let mutants: [MutantEngine] = MutantEngine.Fault.allCases.map(MutantEngine.init)
        + OperatorRegistry.records.flatMap(\.operatorMutants).map(MutantEngine.init)

    /// The default backend: the built-in implementation under test (the pipelined engine where
    /// it is built, else the reference).
    public static var defaultName: String {
        builtInNames.contains("pipelined") ? "pipelined" : "reference"
    }

    /// Every name `backend(named:)` accepts. `mutant:stale-scratch` is not in `mutants`: only a
    /// reordered run (`--twice`, `--shuffle`) catches it, and the self-test runs in suite order.
    public static var names: [String] {
        builtInNames + CorrectVariants.all.map(\.name) + mutants.map(\.name)
            + [StaleScratchEngine.name, TrappingEngine.name]
    }

    /// The engine behind the backend with this name.
    public static func engine(named name: String) throws -> any Engine {
        if let variant = CorrectVariants.all.first(where: { $0.name == name }) { return variant }
        if let mutant = mutants.first(where: { $0.name == name }) { return mutant }
        if name == TrappingEngine.name { return TrappingEngine() }
        if name == StaleScratchEngine.name { return StaleScratchEngine() }
        if builtInNames.contains(name) { return try builtInEngine(named: name) }
        throw HarnessError("unknown backend \"\(name)\"; known: \(names.joined(separator: ", "))")
    }

    /// The backend with this name, running in this process (FuseCheckExternal's
    /// `backend(named:workerCommand:timeout:)` runs it in a worker process).
    public static func backend(named name: String) throws -> any Backend {
        EngineBackend(try engine(named: name))
    }
}
