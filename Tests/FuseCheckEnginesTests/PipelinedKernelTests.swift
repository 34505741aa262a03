import Testing
import FuseCheckCore
@testable import FuseCheckEngines

/// The blocked matmul against the reference matmul, bit for bit, on sizes that exercise every
/// edge: single rows and columns, partial register tiles, k not a multiple of the k-block, and
/// right operands stored transposed.
@Suite("Pipelined matmul kernel")
struct PipelinedKernelTests {
    struct Size: CustomTestStringConvertible, Sendable {
        let rows: Int
        let depth: Int
        let columns: Int
        var testDescription: String { "\(rows)x\(depth)x\(columns)" }
    }

    static let sizes: [Size] = [
        Size(rows: 1, depth: 1, columns: 1), Size(rows: 1, depth: 256, columns: 1),
        Size(rows: 8, depth: 128, columns: 48), Size(rows: 7, depth: 129, columns: 5),
        Size(rows: 9, depth: 257, columns: 49), Size(rows: 17, depth: 300, columns: 67),
        Size(rows: 3, depth: 1023, columns: 17), Size(rows: 16, depth: 130, columns: 100),
        Size(rows: 25, depth: 64, columns: 115),
    ]

    /// `BlockedMatmul` accumulators, cut back to rows x columns.
    static func blocked(_ left: Tensor, _ right: StoredOperand, order: AccumulationOrder) -> [Float] {
        let (rows, depth) = (left.shape[0], left.shape[1])
        let columns = right.logicalShape[1]
        let workspace = MatmulWorkspace()
        return left.values.withUnsafeBufferPointer { a in
            right.tensor.values.withUnsafeBufferPointer { b in
                let panels = RightPanels(storage: b, offset: 0, depth: depth, columns: columns,
                                         transposed: right.isTransposed)
                let accumulators = BlockedMatmul.accumulate(
                    left: a.baseAddress!, rowOffsets: (0..<rows).map { $0 * depth }, right: panels, order: order,
                    workspace: workspace)
                return (0..<rows).flatMap { row in
                    (0..<columns).map { accumulators.element(row: row, column: $0) }
                }
            }
        }
    }

    static func operands(_ size: Size, transposed: Bool, special: Bool = false,
                         seed: UInt64) -> (Tensor, StoredOperand) {
        var data = PipelinedTestData(seed: seed)
        let left = data.tensor(TensorSpec(.bfloat16, [size.rows, size.depth]), special: special)
        let right = data.tensor(TensorSpec(.bfloat16, transposed ? [size.columns, size.depth]
                                                                 : [size.depth, size.columns]), special: special)
        return (left, StoredOperand(right, isTransposed: transposed))
    }

    @Test("sequential accumulation equals the reference bit for bit", arguments: sizes, [false, true])
    func sequentialMatchesReference(size: Size, transposed: Bool) {
        let (left, right) = Self.operands(size, transposed: transposed, seed: UInt64(size.rows * 7919 + size.depth))
        let expected = ReferenceMatmul.accumulate(left: left, right: right)
        let actual = Self.blocked(left, right, order: .sequential)
        let mismatch = expected.indices.first { expected[$0].bitPattern != actual[$0].bitPattern }
        #expect(mismatch == nil, "\(size.testDescription) T=\(transposed): first mismatch at \(mismatch ?? -1)")
    }

    @Test("NaN, infinities, signed zeros and subnormals take the reference's path", arguments: [false, true])
    func specialValues(transposed: Bool) {
        let size = Size(rows: 11, depth: 300, columns: 70)
        let (left, right) = Self.operands(size, transposed: transposed, special: true, seed: 99)
        let expected = ReferenceMatmul.accumulate(left: left, right: right)
        let actual = Self.blocked(left, right, order: .sequential)
        let mismatch = expected.indices.first { !sameBits(expected[$0], actual[$0], .float32) }
        #expect(mismatch == nil, "first mismatch at \(mismatch ?? -1)")
        #expect(expected.contains { $0.isNaN } && expected.contains { $0.isInfinite })
        #expect(expected.contains { $0.isFinite })
    }

    @Test("all-negative-zero products give +0 from the +0 start, as in the reference")
    func negativeZeroProducts() {
        let left = Tensor(dtype: .float16, shape: [3, 260], values: Array(repeating: -0.0, count: 780))
        let right = Tensor(dtype: .float16, shape: [260, 5], values: Array(repeating: 1, count: 1300))
        for order in [AccumulationOrder.sequential, .splitK(parts: 4)] {
            let actual = Self.blocked(left, StoredOperand(right, isTransposed: false), order: order)
            #expect(actual.allSatisfy { $0.bitPattern == Float(0).bitPattern }, "\(order)")
        }
    }

    @Test("split-K is the reference's split-K variant: the same chunks, summed in the same order",
          arguments: [Size(rows: 9, depth: 257, columns: 49), Size(rows: 3, depth: 1023, columns: 17)])
    func splitKMatchesReferenceVariant(size: Size) {
        let (left, right) = Self.operands(size, transposed: false, seed: 5)
        let expected = ReferenceMatmul.accumulate(left: left, right: right, accumulation: .splitK(4))
        let actual = Self.blocked(left, right, order: .splitK(parts: 4))
        #expect(expected.indices.allSatisfy { expected[$0].bitPattern == actual[$0].bitPattern })
    }

    @Test("rows read in pieces (LeftRows) give the same bits as whole rows, sequential and split-K",
          arguments: [1, 7, 16, 128, 130, 300])
    func rowsInPieces(segmentLength: Int) {
        let size = Size(rows: 13, depth: 300, columns: 53)
        let (left, right) = Self.operands(size, transposed: segmentLength % 2 == 0, special: true, seed: 71)
        // Each row's pieces copied to buffers of their own, far from each other.
        let pieceCount = (size.depth + segmentLength - 1) / segmentLength
        let pieces: [[Float]] = (0..<pieceCount).map { piece in
            let first = piece * segmentLength
            let length = min(segmentLength, size.depth - first)
            return (0..<size.rows).flatMap { row in
                (0..<segmentLength).map { $0 < length ? left.values[row * size.depth + first + $0] : .nan }
            }
        }
        for order in [AccumulationOrder.sequential, .splitK(parts: 3)] {
            let expected = Self.blocked(left, right, order: order)
            let workspace = MatmulWorkspace()
            let actual: [Float] = withElementPointers(pieces) { bases in
                right.tensor.values.withUnsafeBufferPointer { b in
                    let panels = RightPanels(storage: b, offset: 0, depth: size.depth, columns: size.columns,
                                             transposed: right.isTransposed)
                    let segments = bases.map { base in (0..<size.rows).map { base + $0 * segmentLength } }
                    let accumulators = BlockedMatmul.accumulate(
                        left: LeftRows(segments: segments, segmentLength: segmentLength), right: panels,
                        order: order, workspace: workspace)
                    return (0..<size.rows).flatMap { row in
                        (0..<size.columns).map { accumulators.element(row: row, column: $0) }
                    }
                }
            }
            #expect(expected.indices.allSatisfy { expected[$0].bitPattern == actual[$0].bitPattern }, "\(order)")
        }
    }

    @Test("split-K differs from the sequential order on real-valued data, and only in the last bits")
    func splitKDiffers() {
        let (left, right) = Self.operands(Size(rows: 16, depth: 2048, columns: 48), transposed: false, seed: 11)
        let sequential = Self.blocked(left, right, order: .sequential)
        let split = Self.blocked(left, right, order: .splitK(parts: 4))
        let differing = sequential.indices.filter { sequential[$0] != split[$0] }
        #expect(differing.count > sequential.count / 10, "only \(differing.count) of \(sequential.count) differ")
        // Both are fp32 sums of the same 2048 exact products: |difference| <= 2 * 2048 * u * sum |a b|.
        let worst = differing.map { abs(sequential[$0] - split[$0]) }.max() ?? 0
        #expect(worst < 0.01, "largest difference \(worst)")
    }

    @Test("split ranges cover K once, in order", arguments: [1, 2, 3, 4, 7])
    func splitRanges(parts: Int) {
        for depth in [1, 2, 5, 128, 257, 1023] {
            let ranges = BlockedMatmul.splitRanges(depth, parts: parts)
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == depth)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(ranges.count <= parts && ranges.allSatisfy { !$0.isEmpty })
        }
    }

    @Test("the column panels cover every column once: 48s, then 16s, then 4s")
    func panelWidths() {
        for columns in 0...200 {
            let widths = RightPanels.widths(columns: columns)
            let covered = widths.reduce(0, +)
            #expect(covered >= columns && covered < columns + MicroKernel.thinColumns, "columns \(columns)")
            #expect(widths == widths.sorted(by: >), "columns \(columns): \(widths)")
        }
    }
}
