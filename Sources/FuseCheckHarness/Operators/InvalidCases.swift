import FuseCheckCore
import FuseCheckOps

/// The constraint-violation cases: each one a valid base case with one parameter changed so that
/// exactly one constraint of the catalogue breaks (checked by a test against `violations()`).
extension AllGatherMatmulCases {
    public func invalidCases() -> [(Case, String)] {
        let base = "ws=2:m=2:k=256:n=4"
        let table: [(String, String)] = [
            ("agmm:a3:fp32:\(base)", "AGMM-X1-DTYPE"),
            ("agmm:a3:fp16:\(base):x2.dtype=bf16", "AGMM-X2-DTYPE"),
            ("agmm:a3:bf16:\(base):out.dtype=fp16", "AGMM-OUTPUT-DTYPE"),
            ("agmm:a3:fp16:\(base):bias=1:bias.dtype=bf16", "AGMM-BIAS-DTYPE"),
            ("agmm:a3:fp16:\(base):x1.shape=2x256x1", "AGMM-X1-2D"),
            ("agmm:a3:bf16:\(base):x2.shape=256x4x1", "AGMM-X2-2D"),
            ("agmm:a3:fp16:\(base):x1T=1", "AGMM-X1-NOT-TRANSPOSED"),
            ("agmm:a3:bf16:\(base):x2.shape=512x4", "AGMM-K-MATCH"),
            ("agmm:a3:fp16:ws=2:m=2:k=0:n=4", "AGMM-K-ZERO"),
            ("agmm:a3:bf16:ws=2:m=2:k=255:n=4", "AGMM-K-RANGE"),
            ("agmm:a2:fp16:ws=16:m=2:k=256:n=4", "AGMM-WORLD-SIZE"),
            ("agmm:a3:fp16:\(base):gidx=1", "AGMM-GATHER-INDEX"),
            ("agmm:a3:bf16:\(base):turn=1", "AGMM-COMM-TURN"),
            ("agmm:a3:fp16:\(base):bias=1:bias.shape=5", "AGMM-BIAS-SHAPE"),
            ("agmm:a3:bf16:\(base):hcom=0", "AGMM-GROUP-EMPTY"),
            ("agmm:a3:fp16:\(base):hcom=128", "AGMM-GROUP-LENGTH"),
            ("agmm:a3:fp16:\(base):gather=0:mode=aiv", "AGMM-AIV-GATHER-OUTPUT"),
        ] + commModeInvalidCases(operatorID.rawValue, base: base, prefix: "AGMM")
        return table.map { (try! Case(id: $0.0 + ":data=uniform:seed=1"), $0.1) }
    }
}

extension AlltoAllAllGatherBatchMatMulCases {
    public func invalidCases() -> [(Case, String)] {
        let base = "ep=2:tp=2:E=4:C=2:H=4:M=4:shard=0:act=1"
        let table: [(String, String)] = [
            ("aagbmm:a2:fp16:\(base)", "AAGBMM-PLATFORM"),
            ("aagbmm:a3:fp32:\(base)", "AAGBMM-X-DTYPE"),
            ("aagbmm:a3:fp16:\(base):weight.dtype=bf16", "AAGBMM-WEIGHT-DTYPE"),
            ("aagbmm:a3:bf16:\(base):out.dtype=fp16", "AAGBMM-OUTPUT-DTYPE"),
            ("aagbmm:a3:fp16:\(base):bias=2:bias.dtype=fp32", "AAGBMM-BIAS-DTYPE"),
            ("aagbmm:a3:bf16:\(base):bias=2:bias.shape=2x3", "AAGBMM-BIAS-SHAPE"),
            ("aagbmm:a3:fp16:ep=3:tp=2:E=6:C=2:H=4:M=4:shard=0:act=1", "AAGBMM-EP-SIZE"),
            ("aagbmm:a3:bf16:ep=2:tp=3:E=4:C=2:H=6:M=6:shard=0:act=2", "AAGBMM-TP-SIZE"),
            ("aagbmm:a3:fp16:ep=2:tp=2:E=4:C=2:H=4:M=4:shard=2:act=1", "AAGBMM-SHARD-TYPE"),
            ("aagbmm:a3:bf16:ep=2:tp=2:E=4:C=2:H=4:M=4:shard=1:act=5", "AAGBMM-ACT-TYPE"),
            ("aagbmm:a3:fp16:\(base):x.shape=4x2x2x1", "AAGBMM-X-3D"),
            ("aagbmm:a3:bf16:\(base):weight.shape=2x4", "AAGBMM-WEIGHT-3D"),
            ("aagbmm:a3:fp16:\(base):x.shape=6x2x2", "AAGBMM-EXPERT-MATCH"),
            ("aagbmm:a3:bf16:\(base):x.shape=4x2x3", "AAGBMM-H-MATCH"),
            ("aagbmm:a3:fp16:ep=32:tp=2:E=544:C=1:H=2:M=2:shard=0:act=3", "AAGBMM-E-RANGE"),
            ("aagbmm:a3:bf16:ep=2:tp=2:E=66:C=1:H=2:M=2:shard=0:act=4", "AAGBMM-LOCAL-EXPERTS-RANGE"),
            ("aagbmm:a3:fp16:ep=2:tp=2:E=2:C=2:H=65536:M=2:shard=1:act=0", "AAGBMM-H-RANGE"),
            ("aagbmm:a3:bf16:ep=2:tp=2:E=2:C=2:H=2:M=131072:shard=1:act=1", "AAGBMM-LOCAL-M-RANGE"),
            ("aagbmm:a3:fp16:ep=2:tp=2:E=4:C=0:H=4:M=4:shard=0:act=1", "AAGBMM-C-POSITIVE"),
            ("aagbmm:a3:bf16:\(base):groupEp=0", "AAGBMM-GROUP-EP-EMPTY"),
            ("aagbmm:a3:fp16:\(base):groupEp=128", "AAGBMM-GROUP-EP-LENGTH"),
            ("aagbmm:a3:bf16:\(base):groupTp=0", "AAGBMM-GROUP-TP-EMPTY"),
            ("aagbmm:a3:fp16:\(base):groupTp=128", "AAGBMM-GROUP-TP-LENGTH"),
            ("aagbmm:a3:bf16:\(base):sameGroups=1", "AAGBMM-GROUP-DISTINCT"),
            ("aagbmm:a3:fp16:ep=2:tp=2:E=4:C=2:H=4:M=4:shard=1:act=0:y3=1", "AAGBMM-Y3-WITHOUT-ACT"),
        ]
        return table.map { (try! Case(id: $0.0 + ":data=uniform:seed=1"), $0.1) }
    }
}

extension OperatorCaseRecord {
    /// One case per comm_mode and quantization constraint (quantized.md Q1, Q4) of a two-operand
    /// matmul operator whose valid base case (ws 2, sizes, no bias) is `base`.
    func commModeInvalidCases(_ op: String, base: String, prefix: String) -> [(String, String)] {
        let quantized = "\(base):mode=aiv:q=int8:x1s=1"
        return [
            ("\(op):a3:fp16:\(base):mode=hccl", "\(prefix)-COMM-MODE"),
            ("\(op):a3:bf16:\(base):mode=ai_cpu:x2s=fp32", "\(prefix)-AICPU-SCALE"),
            ("\(op):a3:fp16:ws=16:m=16:k=256:n=4:mode=aiv", "\(prefix)-AIV-WORLD-SIZE"),
            ("\(op):a2:bf16:ws=2:m=0:k=256:n=4:mode=aiv", "\(prefix)-AIV-EMPTY"),
            ("\(op):a3:fp32:\(base):mode=aiv", "\(prefix)-AIV-X1-DTYPE"),
            ("\(op):a3:fp16:\(base):bias=1:mode=aiv", "\(prefix)-AIV-BIAS"),
            ("\(op):a3:fp16:\(base):mode=aiv:x2s=fp32", "\(prefix)-QUANT-INT8"),
            ("\(op):a3:fp16:\(quantized)", "\(prefix)-QUANT-X2-SCALE"),
            ("\(op):a3:fp16:\(quantized):x2s=fp16", "\(prefix)-QUANT-X2-SCALE-DTYPE"),
            ("\(op):a3:bf16:\(quantized):x2s=fp32:x2s.shape=4", "\(prefix)-QUANT-X2-SCALE-SHAPE"),
            ("\(op):a3:fp16:\(quantized):x2s=int64:x1s.dtype=fp16", "\(prefix)-QUANT-X1-SCALE-DTYPE"),
            ("\(op):a2:bf16:\(quantized):x2s=fp32:x1s.shape=1x4", "\(prefix)-QUANT-X1-SCALE-SHAPE"),
            ("\(op):a3:fp32:\(quantized):x2s=fp32", "\(prefix)-QUANT-OUTPUT-DTYPE"),
            ("\(op):a3:bf16:\(quantized):x2s=int64", "\(prefix)-QUANT-INT64-OUTPUT"),
        ]
    }
}
