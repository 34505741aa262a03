#ifndef FUSE_KERNELS_H
#define FUSE_KERNELS_H

/// The pipelined engine's CPU-specific code: register tiles and the 8 x 8 transpose of operand
/// packing, compiled once per instruction set with `__attribute__((target(...)))` and chosen at
/// run time from the CPU's features (cpuid and the OS's saved register state, xgetbv), so that
/// one binary built on any x86-64 machine runs at full speed on AVX-512 machines and correctly
/// on older ones. No target-wide flags (`-march`, `-target-cpu`) are needed, which a package
/// resolved by version may not use.
///
/// Every path computes the same bits: each accumulator starts at +0 (or at the value already in
/// `c` when `continuing` is nonzero) and receives one fused multiply-add per k, k ascending:
///     c[i][j] = fma(a[k * 8 + i], b[k * ldb + j], c[i][j])    k = 0, 1, ..., depth - 1
/// Only explicit FMA intrinsics or `fmaf` are used, never `a * b + c` (which a compiler may or may
/// not contract), so the result does not depend on the compiler's contraction setting.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A register tile: `c` (8 rows x the tile's width, row stride `ldc`) receives the products of a
/// packed left micro-panel `a` (`depth` x 8, k-major) and a packed right panel `b` (`depth` rows
/// of the tile's width, row stride `ldb`).
typedef void (*fuse_tile_fn)(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                             ptrdiff_t ldb, int continuing);

/// `target[c * target_stride + r] = r<r>[c]` for r, c in 0..<8.
typedef void (*fuse_transpose_fn)(const float *r0, const float *r1, const float *r2, const float *r3,
                                  const float *r4, const float *r5, const float *r6, const float *r7,
                                  float *target, ptrdiff_t target_stride);

/// The reference engine's blocked kernel, fp32: for each row r < `rows` (1 or 4) and lane
/// l < 16, one FMA chain per k in ascending order over chunks of `chunk_length` k, each chunk from +0:
///     p = fma(a[r * lda + k], panel[k * 16 + l], p)
/// and the chunks' partials added in order in fp32: t = p (first chunk), t = t + p (the next).
/// t[r * 16 + l] receives the result (depth 0: +0).
typedef void (*fuse_strip_f32_fn)(const float *a, ptrdiff_t lda, int rows, const float *panel, ptrdiff_t depth,
                                  ptrdiff_t chunk_length, float *t);

/// The same in fp64 with 8 lanes and one chain per element (no chunks): t[r * 8 + l].
typedef void (*fuse_strip_f64_fn)(const double *a, ptrdiff_t lda, int rows, const double *panel, ptrdiff_t depth,
                                  double *t);

/// The quantized path's int8 matmul: acc[r * n + j] = sum over p of left[r * depth + p] *
/// columns[j * depth + p] for r < rows, j < n, exactly in int32 (|sum| <= 65535 * 2^14 < 2^31,
/// so the order of the integer additions does not matter).
typedef void (*fuse_int8_rows_fn)(const int8_t *left, ptrdiff_t rows, const int8_t *columns, ptrdiff_t depth,
                                  ptrdiff_t n, int32_t *acc);

/// The input generator's counter-based random words (`CounterRNG`): word i of stream `key` is
///     mix64(key + (i + 1) * 0x9E3779B97F4A7C15)      (SplitMix64's output function)
/// with integer arithmetic only, and u(w) = (w >> 40) * 2^-24, a Float in [0, 1) with 24 bits.
///
/// `uniform`: out[i] = 2 * u(word(first + i * step)) - 1, exact in fp32 (an integer in
/// [-2^23, 2^23) times 2^-23).
typedef void (*fuse_rng_uniform_fn)(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count, float *out);

/// `words`: out[i] = word(first + i * step), the raw 64-bit words.
typedef void (*fuse_rng_words_fn)(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count, uint64_t *out);

/// `normal`: Irwin-Hall over 12 words, out[i] = (float)((double)S * 2^-24 - 6) with
/// S = sum over j < 12 of word(12 * (first_element + i) + j) >> 40, an exact integer below 2^28;
/// the product and the difference are exact in double, so the only rounding is the final one to
/// float (to nearest, ties to even), the same as Swift's `Float(Double)`.
typedef void (*fuse_rng_normal_fn)(uint64_t key, uint64_t first_element, ptrdiff_t count, float *out);

/// Every value rounded in place to bf16 or fp16 (ties to even) and widened back: the same bits as
/// FuseCheckCore's `DType.round(Float)`, NaN payloads included.
typedef void (*fuse_round_fn)(float *values, ptrdiff_t count);

/// `dst[i] = src[i]` for i < count (the buffers do not overlap), with stores that bypass the caches
/// where the path has them (AVX-512 and AVX2: aligned non-temporal stores, then a store fence;
/// generic: memcpy). For a copy whose destination nobody reads soon: it neither reads the
/// destination's lines first nor evicts the reader's working set to hold them.
typedef void (*fuse_copy_fn)(float *dst, const float *src, ptrdiff_t count);

/// A right panel's k-block packed from a row-major operand: for k < count,
///     dst[k * width + c] = src[k * ld + c]   for c < valid,   0 for valid <= c < width
/// (valid <= width <= 64).
typedef void (*fuse_pack_rows_fn)(const float *src, ptrdiff_t ld, ptrdiff_t valid, ptrdiff_t width, ptrdiff_t count,
                                  float *dst);

/// The code paths, best first.
typedef enum {
    FUSE_KERNELS_AVX512 = 0,
    FUSE_KERNELS_AVX2 = 1,
    FUSE_KERNELS_GENERIC = 2,
} fuse_kernel_path;

/// One path's functions: the 8 x 48, 8 x 16 and 8 x 4 register tiles, the transpose, the
/// reference's strips, the int8 rows, the input generator's random streams and roundings, and
/// the transport's streaming copy.
typedef struct {
    fuse_tile_fn wide;
    fuse_tile_fn narrow;
    fuse_tile_fn thin;
    fuse_transpose_fn transpose8x8;
    fuse_strip_f32_fn strip_f32;
    fuse_strip_f64_fn strip_f64;
    fuse_int8_rows_fn int8_rows;
    fuse_rng_uniform_fn rng_uniform;
    fuse_rng_normal_fn rng_normal;
    fuse_rng_words_fn rng_words;
    fuse_round_fn round_bf16;
    fuse_round_fn round_f16;
    fuse_copy_fn stream_copy;
    fuse_pack_rows_fn pack_rows;
    const char *name;
} fuse_kernels;

/// `dst[i] = (int8_t)src[i]` for i < count; every `src[i]` must be an integer in [-128, 127]
/// (an int8 tensor's elements), which the conversion keeps exactly. Plain C, vectorized by the
/// compiler for the baseline instruction set: the same on every path.
void fuse_convert_int8(const float *src, ptrdiff_t count, int8_t *dst);

/// The quantized path's right operand, stored (depth, columns) row-major, packed as int8
/// columns x depth: `dst[j * depth + p] = (int8_t)src[p * columns + j]` (the same precondition
/// on the values), through 64 x 64 blocks converted row by row and then transposed.
void fuse_pack_int8_columns(const float *src, ptrdiff_t depth, ptrdiff_t columns, int8_t *dst);

/// Whether this CPU (and its OS) can run `path`.
int fuse_kernels_supported(fuse_kernel_path path);

/// The functions of `path`; the caller must have checked `fuse_kernels_supported(path)`.
const fuse_kernels *fuse_kernels_get(fuse_kernel_path path);

/// Every int8 rows kernel, for tests (the AVX-512 path picks the best its CPU runs): 0 generic,
/// 1 AVX2, 2 AVX-512BW, 3 AVX-512 VNNI; NULL where this CPU cannot run it.
fuse_int8_rows_fn fuse_int8_rows_variant(int variant);

#ifdef __cplusplus
}
#endif

#endif
