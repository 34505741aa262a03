import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// The bugs the quantized mode invites (quantized.md Q3), as operator mutants. Each is the
/// golden on an unquantized call (so that it only counts where it can be caught), and on a
/// quantized call breaks one step.
extension AllGatherMatmulCall {
    static var quantizedMutants: [OperatorMutant] {
        [
            OperatorMutant(Self.self, name: "agmm-x1-scale-not-gathered",
                           summary: "every output row scaled by the local rank's x1_scale (x1_scale not gathered)") {
                call, inputs in
                call.quantizedFault(inputs) {
                    $0.quantizedOutputs(inputs: inputs, numerics: .golden, gatherScales: false)
                }
            },
            OperatorMutant(Self.self, name: "agmm-scales-swapped",
                           summary: "per-token and per-channel scales swapped") { call, inputs in
                call.quantizedFault(inputs) {
                    $0.quantizedOutputs(inputs: inputs, numerics: ReferenceNumerics(dequantization: .scalesSwapped))
                }
            },
            OperatorMutant(Self.self, name: "agmm-dequant-fp16",
                           summary: "the dequantization done in fp16") { call, inputs in
                call.quantizedFault(inputs) {
                    $0.quantizedOutputs(inputs: inputs, numerics: ReferenceNumerics(dequantization: .float16))
                }
            },
            OperatorMutant(Self.self, name: "agmm-int16-accumulation",
                           summary: "int8 products accumulated in an int16 that wraps") { call, inputs in
                call.quantizedFault(inputs) { $0.quantizedOutputs(inputs: inputs, numerics: .golden, wrapping16: true) }
            },
            OperatorMutant(Self.self, name: "agmm-packed-scale-raw",
                           summary: "the int64 x2_scale read as a plain number, not npu_trans_quant_param's layout") {
                call, inputs in
                call.quantizedFault(inputs) {
                    $0.quantizedOutputs(inputs: inputs, numerics: ReferenceNumerics(dequantization: .rawPackedScale))
                }
            },
            OperatorMutant(Self.self, name: "agmm-gather-out-fp16",
                           summary: "gather_out written as fp16 instead of int8") { call, inputs in
                call.quantizedFault(inputs) { call in
                    var outputs = call.quantizedOutputs(inputs: inputs, numerics: .golden)
                    for rank in 0..<call.worldSize {
                        guard let gathered = outputs[rank, "gather_out"] else { continue }
                        outputs[rank, "gather_out"] = Tensor(rounding: gathered.values, to: .float16,
                                                             shape: gathered.shape)
                    }
                    return outputs
                }
            },
        ]
    }

    /// `fault(self)` on a quantized call; the golden otherwise.
    func quantizedFault(_ inputs: WorldTensors, _ fault: (Self) -> WorldTensors) -> WorldTensors {
        isQuantized ? fault(self) : referenceOutputs(inputs: inputs, numerics: .golden)
    }
}

extension MatmulReduceScatterCall {
    static var quantizedMutants: [OperatorMutant] {
        [
            OperatorMutant(Self.self, name: "mmrs-scales-swapped",
                           summary: "per-token and per-channel scales swapped") { call, inputs in
                call.quantizedFault(inputs, ReferenceNumerics(dequantization: .scalesSwapped))
            },
            OperatorMutant(Self.self, name: "mmrs-dequant-fp16",
                           summary: "the dequantization done in fp16") { call, inputs in
                call.quantizedFault(inputs, ReferenceNumerics(dequantization: .float16))
            },
            OperatorMutant(Self.self, name: "mmrs-int16-accumulation",
                           summary: "int8 products accumulated in an int16 that wraps") { call, inputs in
                call.quantizedFault(inputs, .golden, wrapping16: true)
            },
            OperatorMutant(Self.self, name: "mmrs-packed-scale-raw",
                           summary: "the int64 x2_scale read as a plain number, not npu_trans_quant_param's layout") {
                call, inputs in
                call.quantizedFault(inputs, ReferenceNumerics(dequantization: .rawPackedScale))
            },
        ]
    }

    /// The golden reduce-scatter of partials dequantized under `numerics` on a quantized call;
    /// the golden otherwise.
    func quantizedFault(_ inputs: WorldTensors, _ numerics: ReferenceNumerics, wrapping16: Bool = false)
        -> WorldTensors {
        guard isQuantized else { return referenceOutputs(inputs: inputs, numerics: .golden) }
        let partials = (0..<worldSize).map {
            quantizedPartial(rank: $0, inputs: inputs, numerics: numerics, wrapping16: wrapping16)
        }
        return outputs(of: sum(partials))
    }
}
