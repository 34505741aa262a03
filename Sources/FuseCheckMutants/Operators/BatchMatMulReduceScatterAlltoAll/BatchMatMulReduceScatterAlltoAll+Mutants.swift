import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

extension BatchMatMulReduceScatterAlltoAllCall: MutantTarget {
    /// x of TP ranks 0 and 1 (EP rank 0) exchanged: each multiplies the other's contraction shard
    /// by its own weight, so the TP sum is wrong.
    public func swappingFirstSources(_ inputs: WorldTensors) -> WorldTensors {
        tp >= 2 ? inputs.swapping("x", ranks: 0, 1) : inputs
    }

    /// In every expert block of y, the last row left zero on every rank: the last row of the last
    /// slice of every (local expert, destination EP rank) tile sequence of the pipelined engine.
    public func droppingLastTile(_ outputs: WorldTensors) -> WorldTensors {
        let rows = scatteredCapacity
        guard rows > 0 else { return outputs }
        return outputs.zeroingRows(of: "y", blocks: experts, rowsPerBlock: rows, firstRow: rows - 1, rowCount: 1)
    }

    /// The weight stored (E/ep, H, M/tp) read as if it were (E/ep, M/tp, H).
    public func ignoringTransposition(_ inputs: WorldTensors) -> (call: any EngineCall, inputs: WorldTensors)? {
        guard weightTransposed else { return nil }
        let logical = [localExperts, localContraction, outputWidth]
        var misread = self
        misread.weightTransposed = false
        misread.weight = TensorSpec(weight.dtype, logical)
        return (misread, inputs.reinterpreting("weight", as: logical))
    }

    /// The four bugs of spec §8 "Bugs this operator invites", each computed from the golden's fp32
    /// partials with one step of the reduce-scatter, bias or all-to-all broken.
    public static var operatorMutants: [OperatorMutant] {
        [
            OperatorMutant(Self.self, name: "bmmrs-tp-major-rows",
                           summary: "shard 1: the reduce-scatter takes x's rows TP-major (rank t gets the t-th "
                               + "contiguous ep*C/tp rows) instead of destination-EP-major") { call, inputs in
                var numerics = ReferenceNumerics.golden
                numerics.shardOneOrder = .tpMajor
                return call.referenceOutputs(inputs: inputs, numerics: numerics)
            },
            OperatorMutant(Self.self, name: "bmmrs-bias-before-rs",
                           summary: "every TP rank adds its bias to its partial before the reduce-scatter "
                               + "(the bias summed tp times)") { call, inputs in
                call.faultyOutputs(inputs, biasBeforeReduceScatter: true)
            },
            OperatorMutant(Self.self, name: "bmmrs-alltoall-wrong-ep",
                           summary: "the all-to-all sends expert block rows e*C..<(e+1)*C to EP rank e+1 "
                               + "instead of e") { call, inputs in
                call.faultyOutputs(inputs, destinationShift: 1)
            },
            OperatorMutant(Self.self, name: "bmmrs-rs-wrong-dim",
                           summary: "the reduce-scatter splits C for shard 0 and H for shard 1, its shares "
                               + "written into y's shape (the golden where the other dimension does not split)") {
                call, inputs in
                call.faultyOutputs(inputs, wrongDimension: true)
            },
        ]
    }

    /// The golden's steps with one fault: the fp32 partials (with each rank's bias added first when
    /// `biasBeforeReduceScatter`), the TP reduce-scatter in rank order (over the other shard type's
    /// dimension when `wrongDimension` and that dimension splits over tp), bias and rounding to T,
    /// then the all-to-all with EP rank e's rows sent to EP rank `e + destinationShift`.
    func faultyOutputs(_ inputs: WorldTensors, biasBeforeReduceScatter: Bool = false, destinationShift: Int = 0,
                       wrongDimension: Bool = false) -> WorldTensors {
        let shard = self.shard!
        let numerics = ReferenceNumerics.golden
        func rank(_ e: Int, _ t: Int) -> Int { e * tp + t }
        let otherShard: ScatterShardType = shard == .scatterH ? .scatterC : .scatterH
        let otherSplits = otherShard == .scatterC ? capacity % tp == 0 : outputWidth % tp == 0
        let scatter = wrongDimension && otherSplits ? otherShard : shard
        let width = scatteredWidth
        var combined = [[Tensor]](repeating: [], count: tp)  // [t][s]
        for s in 0..<ep {
            let partials = (0..<tp).map { t -> Tensor in
                var part = partial(rank: rank(s, t), inputs: inputs, numerics: numerics)
                if biasBeforeReduceScatter, let bias = inputs[rank(s, t), "bias"] {
                    // The rank's bias (width W) over every column of its partial: bias[k][j mod W].
                    let columns = outputWidth
                    for index in part.values.indices {
                        let k = index / (rows * columns)
                        part.values[index] += bias.values[k * width + index % columns % width]
                    }
                }
                return part
            }
            let shares = SimulatedCollectives.tensorParallelReduceScatter(partials, epSize: ep, shard: scatter,
                                                                          order: .rankOrder) { $0 + $1 }
            for t in 0..<tp {
                // The share read in the shape the right dimension would have given it.
                let share = Tensor(dtype: .float32, shape: [localExperts, ep * scatteredCapacity, width],
                                   values: shares[t].values)
                let bias = biasBeforeReduceScatter ? nil : inputs[rank(s, t), "bias"]
                combined[t].append(biasedAndRounded(share, bias: bias, numerics: numerics))
            }
        }
        var outputs = WorldTensors(rankCount: rankCount)
        for t in 0..<tp {
            let received = SimulatedCollectives.combineAllToAll(combined[t])
            for e in 0..<ep {
                // EP rank e + shift receives what was meant for e.
                outputs[rank((e + destinationShift) % ep, t), "y"] = received[e]
            }
        }
        return outputs
    }
}
