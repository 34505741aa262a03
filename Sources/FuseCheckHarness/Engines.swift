import FuseCheckEngines

/// The built-in engines by command-line name.
public enum BuiltInEngines {
    /// Names accepted by `--engine`.
    public static let names = ["reference", "reference-vendor", "pipelined", "pipelined-splitk"]

    /// Parts of the `pipelined-splitk` engine's split-K accumulation.
    public static let splitKParts = 4

    /// The engine with this name.
    public static func engine(named name: String) throws -> any Engine {
        switch name {
        case "reference": return ReferenceEngine(epilogue: .ideal)
        case "reference-vendor": return ReferenceEngine(epilogue: .vendor)
        case "pipelined": return PipelinedEngine()
        case "pipelined-splitk": return PipelinedEngine(accumulation: .splitK(parts: splitKParts))
        default:
            throw HarnessError("unknown engine \"\(name)\" (known: \(names.joined(separator: ", ")))")
        }
    }
}
