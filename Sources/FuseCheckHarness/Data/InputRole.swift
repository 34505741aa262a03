/// What an input tensor is to the operator, which decides how each data mode fills it.
public enum InputRole: Sendable, Hashable {
    /// The gathered/exchanged left operand (x1, x): rows along `rowAxis`, experts along
    /// `expertAxis` when there are any; the contraction runs along the last axis.
    case left(expertAxis: Int?, rowAxis: Int)
    /// The right operand as stored (x2, weight): the contraction runs along `contractionAxis`,
    /// output columns along `columnAxis`.
    case right(contractionAxis: Int, columnAxis: Int)
    /// A bias.
    case bias
    /// A quantization scale (quantized.md Q2): per token (x1_scale, one per row) or per channel
    /// (x2_scale, one per output column). In `exact` data its entries are powers of two 2^e with
    /// |e| <= `exactSpread`, so that every dequantized product stays exact in T.
    case scale(perToken: Bool, exactSpread: Int)
}
