import CFuseKernels
import FuseCheckCore

/// The input generator's bulk work, vectorized per instruction set (`CFuseKernels`, `KernelPath`):
/// raw words, the uniform and normal streams, and the rounding to fp16 and bf16. Word i of stream
/// `key` is `mix64(key + (i + 1) * 0x9E3779B97F4A7C15)` (`CounterRNG` in the harness), so every
/// path, and the harness's scalar definitions, give the same bits. The generator spent most of its
/// time in the mixers, one 64-bit word at a time (baseline x86-64 has no vector 64-bit multiply).
public enum RandomStreams {
    /// `values[i] = 2 * u(word(first + i * step)) - 1`, u(w) = (w >> 40) * 2^-24: uniform in
    /// [-1, 1), exact in fp32.
    public static func uniform(key: UInt64, first: UInt64, step: UInt64,
                               into values: UnsafeMutableBufferPointer<Float>, path: KernelPath = .active) {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        let fill = path == .active ? Kernels.rngUniform : path.functions.rng_uniform!
        fill(key, first, step, values.count, base)
    }

    /// `words[i] = word(first + i * step)`, the raw words.
    public static func words(key: UInt64, first: UInt64, step: UInt64, into words: UnsafeMutableBufferPointer<UInt64>,
                             path: KernelPath = .active) {
        guard let base = words.baseAddress, !words.isEmpty else { return }
        let fill = path == .active ? Kernels.rngWords : path.functions.rng_words!
        fill(key, first, step, words.count, base)
    }

    /// `values[i]` = Irwin–Hall over words 12 (firstElement + i) to 12 (firstElement + i) + 11:
    /// `Float(Double(S) * 2^-24 - 6)`, S the sum of the words' top 24 bits (exact; one rounding).
    public static func normal(key: UInt64, firstElement: UInt64, into values: UnsafeMutableBufferPointer<Float>,
                              path: KernelPath = .active) {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        let fill = path == .active ? Kernels.rngNormal : path.functions.rng_normal!
        fill(key, firstElement, values.count, base)
    }

    /// Every value rounded in place to `dtype`, the same bits as `dtype.round(_:)` (fp16 and bf16
    /// vectorized per kernel path; other types through `DType.round`).
    public static func round(_ values: UnsafeMutableBufferPointer<Float>, to dtype: DType,
                             path: KernelPath = .active) {
        guard let base = values.baseAddress, !values.isEmpty else { return }
        switch dtype {
        case .bfloat16:
            let round = path == .active ? Kernels.roundBFloat16 : path.functions.round_bf16!
            round(base, values.count)
        case .float16:
            let round = path == .active ? Kernels.roundFloat16 : path.functions.round_f16!
            round(base, values.count)
        default:
            dtype.round(values)
        }
    }
}
