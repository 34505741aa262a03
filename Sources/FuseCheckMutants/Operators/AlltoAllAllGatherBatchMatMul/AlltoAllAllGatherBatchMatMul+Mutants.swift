import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

extension AlltoAllAllGatherBatchMatMulCall: MutantTarget {
    /// x of EP ranks 0 and 1 (at TP rank 0) exchanged: the all-to-all in the wrong rank order.
    public func swappingFirstSources(_ inputs: WorldTensors) -> WorldTensors {
        ep >= 2 ? inputs.swapping("x", ranks: 0, tp) : inputs
    }

    /// In every local expert, the capacity rows from the last EP source zeroed in y1 and y3.
    public func droppingLastTile(_ outputs: WorldTensors) -> WorldTensors {
        let rows = ep * capacity
        return ["y1", "y3"].reduce(outputs) { world, name in
            world.zeroingRows(of: name, blocks: localExperts, rowsPerBlock: rows, firstRow: (ep - 1) * capacity,
                              rowCount: capacity)
        }
    }

    /// The weight stored (E/ep, M/tp, H) read as if it were (E/ep, H, M/tp).
    public func ignoringTransposition(_ inputs: WorldTensors) -> (call: any EngineCall, inputs: WorldTensors)? {
        guard weightTransposed else { return nil }
        let logical = [localExperts, hidden, localOutputWidth]
        var misread = self
        misread.weightTransposed = false
        misread.weight = TensorSpec(weight.dtype, logical)
        return (misread, inputs.reinterpreting("weight", as: logical))
    }

    /// The shard-1 layout and the activations are general faults (`ReferenceNumerics`).
    public static var operatorMutants: [OperatorMutant] { [] }
}
