import FuseCheckCore
import FuseCheckOps

/// One probe call: designed inputs in which every output column is an independent dot product.
///
/// Every row of the left operand (x1, x) on every rank is the same vector `left` of K = 256
/// entries (1 except for a few designed positions), so whatever a collective gathers, every
/// output row is the same; column j of the right operand holds the designed terms of probe j
/// (zero elsewhere), and the bias of column j its designed bias:
///
/// ```
/// output[., j] = sum over k of left[k] * column_j[k]  (+ bias_j)
/// ```
///
/// MatmulReduceScatter sums every rank's partial: column j's terms sit on rank 0 only unless it
/// gives terms for other ranks (the reduction probes); its bias is rank 0's. BatchMatMulReduceScatterAlltoAll
/// sums the partials of a TP group (ep = 2, tp = 4, yShardType 1 so that y keeps the whole width):
/// TP rank t holds `terms[t]`, and every rank the bias, which the operator adds once after the sum.
struct ProbeBatch {
    /// One probe: the right operand's non-zero entries (k -> value) per rank, and the bias.
    struct Column {
        /// `terms[r]` for rank r of MatmulReduceScatter; the others use `terms[0]` on every rank.
        var terms: [[Int: Float]]
        var bias: Float = 0

        init(_ terms: [Int: Float], bias: Float = 0) {
            self.terms = [terms]
            self.bias = bias
        }

        init(ranks: [[Int: Float]]) { terms = ranks }
    }

    /// The contraction length (the smallest k AllGatherMatmul and MatmulReduceScatter accept).
    static let depth = 256
    /// World sizes: AllGatherMatmul 2 ranks, MatmulReduceScatter 4 (so that orders differ),
    /// AlltoAllAllGatherBatchMatMul ep = tp = 2, BatchMatMulReduceScatterAlltoAll ep = 2 and tp = 4
    /// (4 partials per sum, as MatmulReduceScatter).
    static let reduceScatterWorld = 4
    static let combineEP = 2

    var op: OperatorID
    var dtype: DType
    var activation: ActivationType = .none
    /// The shared left row (length `depth`).
    var left: [Float]
    var columns: [Column]

    init(op: OperatorID, dtype: DType, activation: ActivationType = .none, left: [Int: Float] = [:],
         columns: [Column]) {
        self.op = op
        self.dtype = dtype
        self.activation = activation
        var row = [Float](repeating: 1, count: Self.depth)
        for (k, value) in left { row[k] = value }
        self.left = row
        self.columns = columns
    }

    /// The case: its id names the operator, shape and `data=exact` (the inputs are designed).
    var testCase: Case {
        let n = columns.count
        switch op {
        case MatmulReduceScatterCall.operatorID:
            let ws = Self.reduceScatterWorld
            return MatmulReduceScatterCases.make(.a2, dtype, ws: ws, m: ws, k: Self.depth, n: n, bias: true,
                                                 data: .exact, seed: 1)
        case BatchMatMulReduceScatterAlltoAllCall.operatorID:
            let tp = Self.reduceScatterWorld
            return BatchMatMulReduceScatterAlltoAllCases.make(
                dtype, ep: Self.combineEP, tp: tp, experts: Self.combineEP, capacity: tp,
                contraction: Self.depth * tp, outputWidth: n, shard: .scatterC, bias: 2, data: .exact, seed: 1)
        case AlltoAllAllGatherBatchMatMulCall.operatorID:
            return AlltoAllAllGatherBatchMatMulCases.make(dtype, ep: 2, tp: 2, experts: 2, capacity: 2,
                                                          hidden: Self.depth, outputWidth: 2 * n, shard: .gatherC,
                                                          act: activation, bias: 2, data: .exact, seed: 1)
        default:
            return AllGatherMatmulCases.make(.a2, dtype, ws: 2, m: 1, k: Self.depth, n: n, bias: true,
                                             data: .exact, seed: 1)
        }
    }

    /// The right operand holding each column's `terms[index]` (its `terms[0]` when `index` is
    /// nil), (k, n) row-major, and the columns' biases (zeros unless `withBias`).
    private func right(terms index: Int?, withBias: Bool) -> (values: [Float], bias: [Float]) {
        let n = columns.count
        var values = [Float](repeating: 0, count: Self.depth * n)
        var bias = [Float](repeating: 0, count: n)
        for (j, column) in columns.enumerated() {
            let terms = index.map { $0 < column.terms.count ? column.terms[$0] : [:] } ?? column.terms[0]
            for (k, value) in terms { values[k * n + j] = value }
            if withBias { bias[j] = column.bias }
        }
        return (values, bias)
    }

    /// Every rank's inputs for `call` (the call `testCase` makes).
    func inputs(rankCount: Int) -> WorldTensors {
        let n = columns.count
        var world = WorldTensors(rankCount: rankCount)
        for rank in 0..<rankCount {
            switch op {
            case MatmulReduceScatterCall.operatorID:
                let (values, bias) = right(terms: rank, withBias: rank == 0)
                // Only rank 0 carries inf or NaN: elsewhere inf * 0 would poison every column.
                let row = rank == 0 ? left : left.map { $0.isFinite ? $0 : 1 }
                world[rank, "x1"] = Tensor(dtype: dtype, shape: [Self.reduceScatterWorld, Self.depth],
                                           values: Array((0..<Self.reduceScatterWorld).map { _ in row }.joined()))
                world[rank, "x2"] = Tensor(dtype: dtype, shape: [Self.depth, n], values: values)
                world[rank, "bias"] = Tensor(dtype: dtype, shape: [n], values: bias)
            case BatchMatMulReduceScatterAlltoAllCall.operatorID:
                let (tp, t) = (Self.reduceScatterWorld, rank % Self.reduceScatterWorld)
                let (values, bias) = right(terms: t, withBias: true)
                // Only TP rank 0 carries inf or NaN, as for MatmulReduceScatter.
                let row = t == 0 ? left : left.map { $0.isFinite ? $0 : 1 }
                world[rank, "x"] = Tensor(dtype: dtype, shape: [1, Self.combineEP * tp, Self.depth],
                                          values: Array((0..<Self.combineEP * tp).map { _ in row }.joined()))
                world[rank, "weight"] = Tensor(dtype: dtype, shape: [1, Self.depth, n], values: values)
                world[rank, "bias"] = Tensor(dtype: BatchMatMulReduceScatterAlltoAllCall.biasDType(for: dtype),
                                             shape: [1, n], values: bias)
            case AlltoAllAllGatherBatchMatMulCall.operatorID:
                let (values, bias) = right(terms: nil, withBias: true)
                world[rank, "x"] = Tensor(dtype: dtype, shape: [2, 1, Self.depth], values: left + left)
                world[rank, "weight"] = Tensor(dtype: dtype, shape: [1, Self.depth, n], values: values)
                world[rank, "bias"] = Tensor(dtype: AlltoAllAllGatherBatchMatMulCall.biasDType(for: dtype),
                                             shape: [1, n], values: bias)
            default:
                let (values, bias) = right(terms: nil, withBias: true)
                world[rank, "x1"] = Tensor(dtype: dtype, shape: [1, Self.depth], values: left)
                world[rank, "x2"] = Tensor(dtype: dtype, shape: [Self.depth, n], values: values)
                world[rank, "bias"] = Tensor(dtype: dtype, shape: [n], values: bias)
            }
        }
        return world
    }

    /// Column j's value on every destination (one for AllGatherMatmul and the batched matmul,
    /// whose rank 0 row 0 is read; one per rank for MatmulReduceScatter and the combine), nil if an
    /// output is missing.
    func values(of outputs: WorldTensors, column j: Int) -> [Float]? {
        let n = columns.count
        switch op {
        case MatmulReduceScatterCall.operatorID:
            var result: [Float] = []
            for rank in 0..<Self.reduceScatterWorld {
                guard let output = outputs[rank, "output"], output.count >= n else { return nil }
                result.append(output.values[j])
            }
            return result
        case BatchMatMulReduceScatterAlltoAllCall.operatorID:
            var result: [Float] = []
            for rank in 0..<(Self.combineEP * Self.reduceScatterWorld) {
                guard let y = outputs[rank, "y"], y.count >= n else { return nil }
                result.append(y.values[j])
            }
            return result
        case AlltoAllAllGatherBatchMatMulCall.operatorID:
            guard let y1 = outputs[0, "y1"], y1.count >= n else { return nil }
            return [y1.values[j]]
        default:
            guard let output = outputs[0, "output"], output.count >= n else { return nil }
            return [output.values[j]]
        }
    }
}
