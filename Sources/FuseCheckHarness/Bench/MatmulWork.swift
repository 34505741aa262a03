import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// The matmuls of one call on every rank, with their left operands already gathered and every
/// operand already fp32: what OpenBLAS is given, so that it does only the multiply.
struct MatmulWork {
    /// One GEMM: `rows` x `depth` times `depth` x `columns`.
    struct Product {
        var left: [Float]
        var right: [Float]
        var rightOffset: Int
        var rows: Int
        var columns: Int
        var depth: Int
        var rightTransposed: Bool
    }

    var products: [Product] = []
    /// Each product's output, allocated once: OpenBLAS is timed on the multiply alone (beta = 0
    /// overwrites it), not on allocating and zeroing its output.
    private var outputs: [[Float]] = []

    /// 2 * multiply-adds.
    var flops: Double { products.reduce(0) { $0 + 2 * Double($1.rows) * Double($1.columns) * Double($1.depth) } }

    init(call: any FusedOperatorCall, inputs: WorldTensors) throws {
        if let call = call as? AllGatherMatmulCall {
            let gathered = SimulatedCollectives.allGatherRows((0..<call.worldSize).map { inputs[$0, "x1"]! })
            for rank in 0..<call.worldSize {
                products.append(Product(left: gathered.values, right: inputs[rank, "x2"]!.values, rightOffset: 0,
                                        rows: call.m * call.worldSize, columns: call.n, depth: call.k,
                                        rightTransposed: call.x2Transposed))
            }
        } else if let call = call as? AlltoAllAllGatherBatchMatMulCall, let shard = call.shard {
            let (ep, tp) = (call.ep, call.tp)
            for e in 0..<ep {
                var parts: [Tensor] = []
                for t in 0..<tp {
                    parts.append(SimulatedCollectives.allToAll((0..<ep).map { inputs[$0 * tp + t, "x"]! })[e])
                }
                let y2 = SimulatedCollectives.tensorParallelAllGather(parts, epSize: ep, shard: shard)
                let (rows, depth, columns) = (ep * call.capacity, call.hidden, call.localOutputWidth)
                for t in 0..<tp {
                    let weight = inputs[e * tp + t, "weight"]!.values
                    for expert in 0..<call.localExperts {
                        let left = Array(y2.values[(expert * rows * depth)..<((expert + 1) * rows * depth)])
                        products.append(Product(left: left, right: weight, rightOffset: expert * depth * columns,
                                                rows: rows, columns: columns, depth: depth,
                                                rightTransposed: call.weightTransposed))
                    }
                }
            }
        } else {
            throw HarnessError("no benchmark for operator \(type(of: call).operatorID)")
        }
    }

    /// Every product through `cblas_sgemm`, one after the other (each on OpenBLAS's threads).
    mutating func runOpenBLAS() {
        if outputs.count != products.count {
            outputs = products.map { [Float](repeating: 0, count: $0.rows * $0.columns) }
        }
        for (index, product) in products.enumerated() {
            product.left.withUnsafeBufferPointer { a in
                product.right.withUnsafeBufferPointer { b in
                    outputs[index].withUnsafeMutableBufferPointer { c in
                        OpenBLAS.multiply(a: a.baseAddress!, b: b.baseAddress! + product.rightOffset, c: c.baseAddress!,
                                          rows: product.rows, columns: product.columns, depth: product.depth,
                                          rightTransposed: product.rightTransposed)
                    }
                }
            }
        }
    }
}
