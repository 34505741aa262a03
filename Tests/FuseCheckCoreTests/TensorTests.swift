import Foundation
import FuseCheckCore
import Testing

/// Values 0, 1, 2, ... (exact in every dtype up to 256), so an element names its own flat index.
private func iota(_ dtype: DType, _ shape: [Int]) -> Tensor {
    Tensor(dtype: dtype, shape: shape, values: (0..<shape.reduce(1, *)).map(Float.init))
}

@Suite("Tensor")
struct TensorTests {
    static let shapes: [[Int]] = [[], [1], [5], [2, 3], [3, 1, 4], [2, 3, 4], [1, 1, 1], [2, 1, 3, 2]]

    @Test("multiIndex inverts flatIndex, and both follow the row-major strides", arguments: shapes)
    func indexRoundTrip(shape: [Int]) {
        let tensor = Tensor(zeros: .float32, shape: shape)
        #expect(tensor.strides == rowMajorStrides(shape))
        for flat in 0..<tensor.count {
            let index = tensor.multiIndex(flat)
            #expect(index.count == shape.count)
            #expect(zip(index, shape).allSatisfy { 0 <= $0 && $0 < $1 }, "\(index) in \(shape)")
            #expect(tensor.flatIndex(index) == flat, "\(index) in \(shape)")
            #expect(zip(index, tensor.strides).map(*).reduce(0, +) == flat, "\(index) in \(shape)")
        }
    }

    @Test("row-major: the last index moves fastest")
    func rowMajorOrder() {
        let tensor = Tensor(zeros: .float32, shape: [2, 3, 4])
        #expect(tensor.strides == [12, 4, 1])
        #expect(tensor.multiIndex(0) == [0, 0, 0])
        #expect(tensor.multiIndex(1) == [0, 0, 1])
        #expect(tensor.multiIndex(4) == [0, 1, 0])
        #expect(tensor.multiIndex(12) == [1, 0, 0])
        #expect(tensor.multiIndex(23) == [1, 2, 3])
        #expect(tensor.flatIndex([1, 2, 3]) == 23)
        #expect(rowMajorStrides([]) == [])
        #expect(rowMajorStrides([7]) == [1])
        #expect(rowMajorStrides([4, 0, 3]) == [0, 3, 1])
    }

    @Test("the variadic subscript reads and writes the element at a multi-index")
    func subscripts() {
        var tensor = iota(.bfloat16, [2, 3])
        #expect(tensor[0, 0] == 0)
        #expect(tensor[0, 2] == 2)
        #expect(tensor[1, 0] == 3)
        #expect(tensor[1, 2] == 5)
        tensor[1, 1] = -8
        #expect(tensor.values == [0, 1, 2, 3, -8, 5])
        var scalar = Tensor(dtype: .float16, shape: [], values: [3])
        #expect(scalar[] == 3)
        scalar[] = 0.5
        #expect(scalar.values == [0.5])
    }

    @Test("transposing a matrix swaps rows and columns", arguments: [[1, 1], [1, 4], [4, 1], [2, 3], [5, 7]])
    func transposeMatrix(shape: [Int]) {
        let tensor = iota(.float16, shape)
        let transposed = tensor.transposingLastTwoAxes()
        #expect(transposed.shape == [shape[1], shape[0]])
        #expect(transposed.dtype == .float16)
        for row in 0..<shape[0] {
            for column in 0..<shape[1] {
                #expect(transposed[column, row] == tensor[row, column], "[\(row), \(column)] of \(shape)")
            }
        }
        #expect(transposed.transposingLastTwoAxes() == tensor)
    }

    @Test("transposing a batch swaps the last two axes of each matrix and keeps the batch order",
          arguments: [[2, 3, 4], [3, 1, 2], [2, 2, 3, 5], [1, 4, 4]])
    func transposeBatched(shape: [Int]) {
        let tensor = iota(.bfloat16, shape)
        let transposed = tensor.transposingLastTwoAxes()
        var expectedShape = shape
        expectedShape.swapAt(shape.count - 2, shape.count - 1)
        #expect(transposed.shape == expectedShape)
        for flat in 0..<tensor.count {
            var index = tensor.multiIndex(flat)
            let value = tensor.values[flat]
            index.swapAt(shape.count - 2, shape.count - 1)
            #expect(transposed.values[transposed.flatIndex(index)] == value, "\(index) of \(shape)")
        }
        #expect(transposed.transposingLastTwoAxes() == tensor)
    }

    @Test("transposing a tensor with no elements gives the swapped shape and no elements",
          arguments: [[0, 3], [3, 0], [0, 2, 3], [2, 0, 3], [2, 3, 0]])
    func transposeEmpty(shape: [Int]) {
        let transposed = Tensor(zeros: .float32, shape: shape).transposingLastTwoAxes()
        var expectedShape = shape
        expectedShape.swapAt(shape.count - 2, shape.count - 1)
        #expect(transposed.shape == expectedShape)
        #expect(transposed.count == 0)
    }

    @Test("init(rounding:) rounds each value to the dtype, nearest even")
    func roundingInit() {
        let values: [Float] = [1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-11, -0.0, 70_000]
        let bf16 = Tensor(rounding: values, to: .bfloat16, shape: [5])
        #expect(bf16.bitPatterns == [0x3F80, 0x3F82, 0x3F80, 0x8000, 0x4789])
        let fp16 = Tensor(rounding: values, to: .float16, shape: [5])
        #expect(fp16.bitPatterns == [0x3C04, 0x3C0C, 0x3C00, 0x8000, 0x7C00])
        #expect(fp16.values[4] == .infinity)
        let fp32 = Tensor(rounding: values, to: .float32, shape: [5])
        #expect(fp32.values.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test("zeros, empty, spec and count")
    func basics() {
        let zeros = Tensor(zeros: .float16, shape: [2, 0, 3])
        #expect(zeros.count == 0 && zeros.values.isEmpty)
        let matrix = Tensor(zeros: .bfloat16, shape: [3, 2])
        #expect(matrix.count == 6 && matrix.values.allSatisfy { $0 == 0 && $0.sign == .plus })
        #expect(matrix.spec == TensorSpec(.bfloat16, [3, 2]))
        let empty = Tensor.empty(.float32)
        #expect(empty.shape == [0] && empty.count == 0 && empty.dtype == .float32)
        #expect(Tensor(dtype: .float32, shape: [], values: [7]).count == 1)
    }

    @Test("equality compares dtype, shape and values")
    func equality() {
        let tensor = iota(.float16, [2, 3])
        #expect(tensor == iota(.float16, [2, 3]))
        #expect(tensor != iota(.bfloat16, [2, 3]))
        #expect(tensor != iota(.float16, [3, 2]))
        var changed = tensor
        changed[0, 1] = 7
        #expect(tensor != changed)
    }

    @Test("an out-of-bounds index stops the process")
    func outOfBoundsIndex() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor(zeros: .float32, shape: [2, 3]).flatIndex([0, 3])
        }
    }

    @Test("a value count that does not match the shape stops the process")
    func wrongValueCount() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor(dtype: .float32, shape: [2, 3], values: [1, 2, 3])
        }
    }
}

@Suite("TensorSpec")
struct TensorSpecTests {
    @Test("describes itself as dtype[shape]")
    func description() {
        #expect(TensorSpec(.bfloat16, [4, 256]).description == "bf16[4, 256]")
        #expect(TensorSpec(.float16, []).description == "fp16[]")
        #expect(TensorSpec(.float32, [0]).description == "fp32[0]")
        #expect(shapeDescription([1, 2, 3]) == "[1, 2, 3]")
    }

    @Test("element count and rank")
    func counts() {
        #expect(TensorSpec(.float16, [2, 3, 4]).elementCount == 24)
        #expect(TensorSpec(.float16, [2, 3, 4]).rank == 3)
        #expect(TensorSpec(.float16, []).elementCount == 1)
        #expect(TensorSpec(.float16, [5, 0]).elementCount == 0)
    }

    @Test("Codable round trip")
    func codable() throws {
        let spec = TensorSpec(.bfloat16, [4, 256])
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(TensorSpec.self, from: data) == spec)
    }
}

@Suite("StoredOperand")
struct StoredOperandTests {
    @Test("a plain operand reads its tensor directly")
    func plainLayout() {
        let tensor = iota(.float16, [3, 4])
        let operand = StoredOperand(tensor, isTransposed: false)
        #expect(operand.logicalShape == [3, 4])
        for row in 0..<3 {
            for column in 0..<4 {
                #expect(operand.element(batch: 0, row: row, column: column) == tensor[row, column])
            }
        }
        #expect(operand.logical == tensor)
    }

    @Test("a transposed operand (k, n) stored as (n, k) reads element (r, c) from memory (c, r)")
    func transposedLayout() {
        // Logically 3 x 4 (k = 3, n = 4); in memory 4 x 3.
        let physical = iota(.bfloat16, [4, 3])
        let operand = StoredOperand(physical, isTransposed: true)
        #expect(operand.logicalShape == [3, 4])
        #expect(operand.tensor.shape == [4, 3])
        for row in 0..<3 {
            for column in 0..<4 {
                #expect(operand.element(batch: 0, row: row, column: column) == physical[column, row])
                #expect(operand.element(batch: 0, row: row, column: column) == Float(column * 3 + row))
            }
        }
        #expect(operand.logical == physical.transposingLastTwoAxes())
        #expect(operand.logical.shape == [3, 4])
    }

    @Test("batched operands read each batch's matrix, in both layouts", arguments: [false, true])
    func batched(isTransposed: Bool) {
        let physical = iota(.float32, [2, 3, 2, 5])  // six matrices of 2 x 5 in memory
        let operand = StoredOperand(physical, isTransposed: isTransposed)
        let logical = operand.logical
        #expect(logical.shape == operand.logicalShape)
        #expect(operand.logicalShape == (isTransposed ? [2, 3, 5, 2] : [2, 3, 2, 5]))
        let (rows, columns) = (operand.logicalShape[2], operand.logicalShape[3])
        for batch in 0..<6 {
            for row in 0..<rows {
                for column in 0..<columns {
                    let expected = logical.values[(batch * rows + row) * columns + column]
                    let (physicalRow, physicalColumn) = isTransposed ? (column, row) : (row, column)
                    #expect(operand.element(batch: batch, row: row, column: column) == expected)
                    #expect(expected == physical[batch / 3, batch % 3, physicalRow, physicalColumn])
                }
            }
        }
    }
}

@Suite("WorldTensors")
struct WorldTensorsTests {
    @Test("a new world has the ranks asked for and no tensors")
    func emptyWorld() {
        let world = WorldTensors(rankCount: 4)
        #expect(world.rankCount == 4)
        #expect(world.names.isEmpty)
        #expect((0..<4).allSatisfy { world[$0, "x1"] == nil })
    }

    @Test("the rank-and-name subscript reads, writes and removes one rank's tensor")
    func subscripts() {
        var world = WorldTensors(rankCount: 2)
        let x1 = iota(.float16, [2, 2])
        world[1, "x1"] = x1
        #expect(world[1, "x1"] == x1)
        #expect(world[0, "x1"] == nil)
        #expect(world.ranks[1]["x1"] == x1)
        world[1, "x1"] = nil
        #expect(world[1, "x1"] == nil)
        #expect(world == WorldTensors(rankCount: 2))
    }

    @Test("names are the sorted union over ranks")
    func names() {
        let tensor = Tensor.empty(.bfloat16)
        let world = WorldTensors(ranks: [
            ["x2": tensor, "output": tensor],
            ["x1": tensor, "gather_out": tensor],
            [:],
        ])
        #expect(world.rankCount == 3)
        #expect(world.names == ["gather_out", "output", "x1", "x2"])
        #expect(world[0, "x2"] == tensor && world[1, "x2"] == nil)
    }
}
