import FuseCheck

/// An engine of our own: every operator with each output element's k range cut into `parts`
/// consecutive pieces, each accumulated in fp32 from +0, the partial sums then added in order, as
/// a split-K GPU kernel does. A different, valid accumulation order: FuseCheck must pass it.
public struct SplitKEngine: Engine {
    public let parts: Int
    public var name: String { "split-k-\(parts)" }

    public init(parts: Int = 8) { self.parts = parts }

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        try ReferenceEngine(numerics: ReferenceNumerics(accumulation: .splitK(parts)), name: name)
            .run(call, inputs: inputs)
    }
}

/// The same engine with a bug a real kernel could have: the last row of every rank's first
/// output is never written (a dropped edge tile). FuseCheck must fail it.
public struct DroppedLastRowEngine: Engine {
    public var name: String { "dropped-last-row" }

    public init() {}

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        guard case .completed(var outputs) = try SplitKEngine().run(call, inputs: inputs),
              let first = call.outputSlots.first?.name else {
            return try SplitKEngine().run(call, inputs: inputs)
        }
        for rank in 0..<outputs.rankCount {
            guard var tensor = outputs[rank, first], tensor.shape.count >= 2, tensor.count > 0 else { continue }
            let rowLength = tensor.shape.last!
            for index in (tensor.count - rowLength)..<tensor.count { tensor.values[index] = 0 }
            outputs.ranks[rank][first] = tensor
        }
        return .completed(outputs)
    }
}
