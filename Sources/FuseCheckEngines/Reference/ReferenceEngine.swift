import FuseCheckCore
import FuseCheckOps

/// The reference engine: naive, explicit and obviously correct; what everything else is judged against.
///
/// With non-default `numerics` it is a variant (or a fault) of itself, under another name.
public struct ReferenceEngine: Engine {
    /// The numerical choices; `.golden` is the reference proper.
    public var numerics: ReferenceNumerics
    public let name: String

    /// The numerics after accumulation.
    public var epilogue: Epilogue { numerics.epilogue }

    /// A reference engine with the given epilogue.
    public init(epilogue: Epilogue = .ideal) {
        numerics = ReferenceNumerics(epilogue: epilogue)
        name = epilogue == .ideal ? "reference" : "reference-vendor-epilogue"
    }

    /// A reference engine with other numerics, under a name of its own.
    public init(numerics: ReferenceNumerics, name: String) {
        self.numerics = numerics
        self.name = name
    }

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        let violations = call.violations()
        guard violations.isEmpty else { return .rejected(violations) }
        try call.checkInputs(inputs)
        return .completed(numerics.writingOutputs(call.referenceOutputs(inputs: inputs, numerics: numerics),
                                                  slots: call.outputSlots))
    }

    /// The golden outputs of a valid call with checked inputs.
    package static func outputs(_ call: any EngineCall, inputs: WorldTensors) -> WorldTensors {
        call.referenceOutputs(inputs: inputs, numerics: .golden)
    }
}
