import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

extension MatmulReduceScatterCall: MutantTarget {
    /// x1 of ranks 0 and 1 exchanged: partials computed from the wrong rank's rows.
    public func swappingFirstSources(_ inputs: WorldTensors) -> WorldTensors { inputs.swapping("x1", ranks: 0, 1) }

    /// The last block of rows, the tile a pipelined kernel reduces last, left zero on its rank.
    public func droppingLastTile(_ outputs: WorldTensors) -> WorldTensors {
        guard worldSize > 0, let last = outputs[worldSize - 1, "output"] else { return outputs }
        var dropped = outputs
        dropped[worldSize - 1, "output"] = Tensor(zeros: last.dtype, shape: last.shape)
        return dropped
    }

    /// x2 stored (n, k) read as if it were (k, n).
    public func ignoringTransposition(_ inputs: WorldTensors) -> (call: any EngineCall, inputs: WorldTensors)? {
        guard x2Transposed else { return nil }
        var misread = self
        misread.x2Transposed = false
        misread.x2 = TensorSpec(x2.dtype, [k, n])
        return (misread, inputs.reinterpreting("x2", as: [k, n]))
    }

    /// The reduce-scatter's own bugs (spec §7): each computes the golden's fp32 partials and
    /// breaks one step of the reduction or the scatter.
    public static var operatorMutants: [OperatorMutant] {
        [
            OperatorMutant(Self.self, name: "mmrs-sum-averaged",
                           summary: "the reduce-scatter averages the partials instead of summing them") { call, inputs in
                call.faultyOutputs(inputs) { sum, rank in call.rowBlock(sum, rank).map { $0 / Float(call.worldSize) } }
            },
            OperatorMutant(Self.self, name: "mmrs-blocks-shifted",
                           summary: "rank r receives block r+1 of the sum") { call, inputs in
                call.faultyOutputs(inputs) { sum, rank in call.rowBlock(sum, (rank + 1) % call.worldSize) }
            },
            OperatorMutant(Self.self, name: "mmrs-last-partial-dropped",
                           summary: "the last rank's partial is left out of the sum") { call, inputs in
                call.faultyOutputs(inputs, ranks: 0..<max(call.worldSize - 1, 0))
            },
            OperatorMutant(Self.self, name: "mmrs-columns-scattered",
                           summary: "the sum is scattered in column-major order (columns instead of rows)") { call, inputs in
                call.faultyOutputs(inputs) { sum, rank in
                    let (rows, columns, block) = (call.m, call.n, call.outputRows * call.n)
                    return (0..<block).map { offset in
                        let flat = rank * block + offset  // index into the column-major sum
                        return sum[(flat % rows) * columns + flat / rows]
                    }
                }
            },
            OperatorMutant(Self.self, name: "mmrs-bias-one-rank",
                           summary: "only rank 0 adds its bias to its partial") { call, inputs in
                var biasless = inputs
                for rank in 1..<max(call.worldSize, 1) { biasless[rank, "bias"] = nil }
                // Rank 0's partial with its bias, the others' without.
                let withBias = call.partial(rank: 0, inputs: inputs, numerics: .golden)
                let others = (1..<call.worldSize).map { call.partial(rank: $0, inputs: biasless, numerics: .golden) }
                return call.outputs(of: call.sum([withBias] + others))
            },
        ] + quantizedMutants
    }

    /// The fp32 sum over `ranks` of the golden partials, in rank order, row-major (m, n).
    func sum(_ partials: [Tensor]) -> [Float] {
        var total = partials.first?.values ?? []
        for partial in partials.dropFirst() {
            for index in total.indices { total[index] += partial.values[index] }
        }
        return total
    }

    /// Rows `[block * m/ws, (block + 1) * m/ws)` of a row-major (m, n) matrix.
    func rowBlock(_ matrix: [Float], _ block: Int) -> [Float] {
        Array(matrix[(block * outputRows * n)..<((block + 1) * outputRows * n)])
    }

    /// Every rank's output from its fp32 block, rounded to T once.
    func outputs(of sum: [Float], block: (([Float], Int) -> [Float])? = nil) -> WorldTensors {
        var outputs = WorldTensors(rankCount: worldSize)
        for rank in 0..<worldSize {
            let values = block?(sum, rank) ?? rowBlock(sum, rank)
            outputs[rank, "output"] = Tensor(dtype: matmulOutputDType, shape: [outputRows, n],
                                             values: values.map(matmulOutputDType.round))
        }
        return outputs
    }

    /// The golden's partials of `ranks` summed in rank order, each rank's block taken by `block`.
    func faultyOutputs(_ inputs: WorldTensors, ranks: Range<Int>? = nil,
                       block: (([Float], Int) -> [Float])? = nil) -> WorldTensors {
        let partials = (ranks ?? 0..<worldSize).map { partial(rank: $0, inputs: inputs, numerics: .golden) }
        let total = partials.isEmpty ? [Float](repeating: 0, count: m * n) : sum(partials)
        return outputs(of: total, block: block)
    }
}
