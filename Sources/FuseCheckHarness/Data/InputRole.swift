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
}
