import FuseCheckCore
import Testing
@testable import FuseCheckEngines

@Suite("The reference matmul's blocked kernel gives the naive kernel's bits")
struct ReferenceKernelTests {
    /// Shapes around the blocked kernel's edges: 16-column strips (8 in fp64), 4-row groups,
    /// empty and single-element dimensions, batches.
    static let shapes: [(batches: Int, rows: Int, depth: Int, columns: Int)] = [
        (1, 1, 1, 1), (1, 0, 3, 5), (1, 3, 0, 5), (1, 3, 4, 0), (1, 4, 7, 16), (1, 5, 9, 17),
        (1, 7, 33, 8), (2, 9, 20, 31), (3, 4, 16, 33), (1, 13, 5, 47), (2, 1, 64, 3),
    ]

    static let accumulations: [ReferenceNumerics.Accumulation] = [.fp32, .fp64, .splitK(3), .splitK(1), .narrow(.float16)]

    @Test("every accumulation, both storage orders, special values included",
          arguments: accumulations)
    func sameBits(accumulation: ReferenceNumerics.Accumulation) {
        var data = PipelinedTestData(seed: 42)
        for (position, shape) in Self.shapes.enumerated() {
            for transposed in [false, true] {
                for dtype in [DType.float16, .bfloat16] {
                    let left = data.tensor(TensorSpec(dtype, [shape.batches, shape.rows, shape.depth]),
                                           special: true)
                    let physical = transposed ? [shape.batches, shape.columns, shape.depth]
                                              : [shape.batches, shape.depth, shape.columns]
                    let right = StoredOperand(data.tensor(TensorSpec(dtype, physical), special: true),
                                              isTransposed: transposed)
                    let naive = ReferenceMatmul.accumulate(left: left, right: right, accumulation: accumulation,
                                                           kernel: .naive)
                    let blocked = ReferenceMatmul.accumulate(left: left, right: right, accumulation: accumulation,
                                                             kernel: .blocked)
                    let first = naive.indices.first { index in naive[index].bitPattern != blocked[index].bitPattern }
                    #expect(naive.count == blocked.count && first == nil,
                            "shape \(position) \(shape) transposed=\(transposed) \(dtype): first difference at \(String(describing: first))")
                }
            }
        }
    }

    @Test("the kernel can be bound for a scope, and the default is the build's")
    func binding() {
        #expect(ReferenceMatmul.kernel == ReferenceMatmul.defaultKernel)
        ReferenceMatmul.$kernel.withValue(.naive) { #expect(ReferenceMatmul.kernel == .naive) }
        ReferenceMatmul.$kernel.withValue(.blocked) { #expect(ReferenceMatmul.kernel == .blocked) }
    }
}
