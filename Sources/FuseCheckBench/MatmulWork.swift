import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness
import FuseCheckOps

/// The matmuls of one call on every rank, with their left operands already gathered and every
/// operand already fp32: what OpenBLAS is given, so that it does only the multiply.
struct MatmulWork {
    /// One GEMM: `rows` x `depth` times `depth` x `columns`.
    typealias Product = MatmulProduct

    var products: [Product] = []
    /// Each product's output, allocated once: OpenBLAS is timed on the multiply alone (beta = 0
    /// overwrites it), not on allocating and zeroing its output.
    private var outputs: [[Float]] = []

    /// 2 * multiply-adds.
    var flops: Double { products.reduce(0) { $0 + 2 * Double($1.rows) * Double($1.columns) * Double($1.depth) } }

    init(call: any HarnessCall, inputs: WorldTensors) throws {
        products = call.matmulProducts(inputs: inputs)
        guard !products.isEmpty else {
            throw HarnessError("no matmul work in a call of \(type(of: call).operatorID)")
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
