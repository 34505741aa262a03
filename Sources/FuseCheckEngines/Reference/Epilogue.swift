/// Which numerics the reference engine applies after accumulation.
public enum Epilogue: String, Sendable, Codable, CaseIterable {
    /// The golden (spec §3): fp32 bias add, activation in Double on the fp32 value, one
    /// round-to-nearest-even to the output type.
    case ideal
    /// The vendor kernel's numerics (spec §2): the BMM result rounded to the input type first,
    /// an fp16 bias add for fp16, activations in fp16 (GELU, FastGELU, ReLU) or fp32, and casts
    /// that round half away from zero. A valid variant, not the golden.
    case vendor
}
