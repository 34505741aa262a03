import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckEngines

/// The pipelined epilogue's row-wise path (no activation and ReLU: t written whole, then rounded
/// by the kernel path's vectorized rounding) against the element-by-element formula of the
/// general path, `matmulOutput` then `roundOnce(act(Double(t)))`, bit for bit: with and without
/// bias, fp16 and bf16, on accumulators holding NaNs with payloads, infinities, signed zeros,
/// values that overflow fp16, fp16 subnormals and rounding ties.
@Suite("Pipelined epilogue")
struct PipelinedEpilogueTests {
    static let columns = 70
    static let rows = 11

    /// Accumulator values; rows 3 and 8 hold NaNs with payloads.
    static func accumulator(row: Int, column: Int) -> Float {
        let specials: [Float] = [.infinity, -.infinity, 0, -0.0, 65520, -65519, 0x1p-20, -0x1p-25, 1 + 0x1p-11,
                                 1 + 0x1p-8, 0x1.8p-24, 3.0e38]
        if (row == 3 || row == 8) && column % 9 == 4 {
            return Float(bitPattern: 0x7FC0_0000 | UInt32(column * 77 + row))
        }
        if (row + column) % 5 == 0 { return specials[(row * 7 + column) % specials.count] }
        return Float(Int64((row * 1_237 + column * 9_973) % 20_011) - 10_005) / 1_024
    }

    @Test("no activation and ReLU: the same bits as the element formula",
          arguments: [DType.float16, .bfloat16], [ActivationType.none, .relu])
    func rowPath(dtype: DType, activation: ActivationType) {
        let widths = RightPanels.widths(columns: Self.columns)
        var firstColumns: [Int] = []
        var next = 0
        for width in widths {
            firstColumns.append(next)
            next += width
        }
        let padded = next
        let microPanels = (Self.rows + MicroKernel.rows - 1) / MicroKernel.rows
        var storage = [Float](repeating: .nan, count: microPanels * MicroKernel.rows * padded)
        for row in 0..<Self.rows {
            let (microPanel, lane) = row.quotientAndRemainder(dividingBy: MicroKernel.rows)
            for (panel, width) in widths.enumerated() {
                for j in 0..<width where firstColumns[panel] + j < Self.columns {
                    let offset = AccumulatorTiles.offset(microPanel: microPanel, firstColumn: firstColumns[panel],
                                                         paddedColumns: padded)
                    storage[offset + lane * width + j] = Self.accumulator(row: row, column: firstColumns[panel] + j)
                }
            }
        }
        let bias: [Float] = (0..<Self.columns).map { column in
            column == 11 ? .infinity : Float(column % 7) * 0.375 - 1
        }
        for withBias in [false, true] {
            var y1 = [Float](repeating: 0, count: Self.rows * Self.columns)
            var y3 = [Float](repeating: 0, count: Self.rows * Self.columns)
            storage.withUnsafeBufferPointer { base in
                let tiles = AccumulatorTiles(base: base.baseAddress!, paddedColumns: padded, widths: widths,
                                             firstColumns: firstColumns)
                bias.withUnsafeBufferPointer { biasPointer in
                    y1.withUnsafeMutableBufferPointer { out in
                        y3.withUnsafeMutableBufferPointer { pre in
                            PipelinedEpilogue.write(
                                accumulators: tiles, columns: Self.columns,
                                outputOffsets: (0..<Self.rows).map { $0 * Self.columns },
                                bias: withBias ? biasPointer.baseAddress : nil, dtype: dtype, activation: activation,
                                y1: out.baseAddress!, y3: activation == .none ? nil : pre.baseAddress)
                        }
                    }
                }
            }
            var mismatches = 0
            for row in 0..<Self.rows {
                for column in 0..<Self.columns {
                    let (rounded, t) = OutputRounding.matmulOutput(
                        acc: Self.accumulator(row: row, column: column), bias: withBias ? bias[column] : nil,
                        dtype: dtype, epilogue: .ideal)
                    let expected = roundOnce(activation.apply(Double(t)), to: dtype)
                    if y1[row * Self.columns + column].bitPattern != expected.bitPattern { mismatches += 1 }
                    if activation != .none && y3[row * Self.columns + column].bitPattern != rounded.bitPattern {
                        mismatches += 1
                    }
                }
            }
            #expect(mismatches == 0, "\(dtype) \(activation) bias \(withBias)")
        }
    }

    @Test("a NaN through ReLU's row path (max, then the vectorized rounding) has the bits of the Double path",
          arguments: [DType.float16, .bfloat16])
    func nanThroughDouble(dtype: DType) {
        // Every 61st payload, both signs, quiet and signalling.
        let nans = [UInt32(0), 0x8000_0000].flatMap { sign in
            stride(from: UInt32(1), to: 1 << 23, by: 61).map { Float(bitPattern: sign | 0x7F80_0000 | $0) }
        }
        var row = nans.map { max($0, 0) }
        row.withUnsafeMutableBufferPointer { RandomStreams.round($0, to: dtype) }
        var mismatches = 0
        for (t, rounded) in zip(nans, row) {
            let general = roundOnce(ActivationType.relu.apply(Double(t)), to: dtype)
            if rounded.bitPattern != general.bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
