import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

extension AllGatherMatmulCall: MutantTarget {
    /// x1 of ranks 0 and 1 exchanged: the gathered rows in the wrong rank order.
    public func swappingFirstSources(_ inputs: WorldTensors) -> WorldTensors { inputs.swapping("x1", ranks: 0, 1) }

    /// The output rows of the last source rank, the tile a pipelined kernel computes last, zeroed.
    public func droppingLastTile(_ outputs: WorldTensors) -> WorldTensors {
        outputs.zeroingRows(of: "output", blocks: 1, rowsPerBlock: 0, firstRow: (worldSize - 1) * m, rowCount: m)
    }

    /// x2 stored (n, k) read as if it were (k, n).
    public func ignoringTransposition(_ inputs: WorldTensors) -> (call: any EngineCall, inputs: WorldTensors)? {
        guard x2Transposed else { return nil }
        var misread = self
        misread.x2Transposed = false
        misread.x2 = TensorSpec(x2.dtype, [k, n])
        return (misread, inputs.reinterpreting("x2", as: [k, n]))
    }

    /// The general mutants cover AllGatherMatmul's gather; its own are the quantized mode's.
    public static var operatorMutants: [OperatorMutant] { quantizedMutants }
}
