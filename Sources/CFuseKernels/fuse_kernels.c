// The pipelined engine's register tiles and transposes, one version per instruction set, and the
// run-time choice between them (see include/fuse_kernels.h for the contract every version keeps).

#include "fuse_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#define FUSE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

// MARK: - Generic: scalar fmaf (correctly rounded everywhere; a library call without FMA hardware)

static inline void generic_tile(int width, ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                ptrdiff_t ldb, int continuing) {
    float acc[8][48];
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < width; j++) {
            acc[i][j] = continuing ? c[i * ldc + j] : 0.0f;
        }
    }
    for (ptrdiff_t k = 0; k < depth; k++) {
        const float *row = b + k * ldb;
        for (int i = 0; i < 8; i++) {
            const float ai = a[k * 8 + i];
            for (int j = 0; j < width; j++) {
                acc[i][j] = fmaf(ai, row[j], acc[i][j]);
            }
        }
    }
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < width; j++) {
            c[i * ldc + j] = acc[i][j];
        }
    }
}

static void generic_wide(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc, ptrdiff_t ldb,
                         int continuing) {
    generic_tile(48, depth, a, b, c, ldc, ldb, continuing);
}

static void generic_narrow(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc, ptrdiff_t ldb,
                           int continuing) {
    generic_tile(16, depth, a, b, c, ldc, ldb, continuing);
}

static void generic_thin(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc, ptrdiff_t ldb,
                         int continuing) {
    generic_tile(4, depth, a, b, c, ldc, ldb, continuing);
}

static void generic_transpose(const float *r0, const float *r1, const float *r2, const float *r3, const float *r4,
                              const float *r5, const float *r6, const float *r7, float *target,
                              ptrdiff_t target_stride) {
    const float *rows[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
    for (int c = 0; c < 8; c++) {
        for (int r = 0; r < 8; r++) {
            target[c * target_stride + r] = rows[r][c];
        }
    }
}

static void generic_strip_f32(const float *a, ptrdiff_t lda, int rows, const float *panel, ptrdiff_t depth,
                              ptrdiff_t chunk_length, float *t) {
    for (int r = 0; r < rows; r++) {
        for (int l = 0; l < 16; l++) {
            float total = 0.0f;
            for (ptrdiff_t start = 0; start < depth; start += chunk_length) {
                const ptrdiff_t end = start + chunk_length < depth ? start + chunk_length : depth;
                float partial = 0.0f;
                for (ptrdiff_t k = start; k < end; k++) partial = fmaf(a[r * lda + k], panel[k * 16 + l], partial);
                total = start == 0 ? partial : total + partial;
            }
            t[r * 16 + l] = total;
        }
    }
}

static void generic_strip_f64(const double *a, ptrdiff_t lda, int rows, const double *panel, ptrdiff_t depth,
                              double *t) {
    for (int r = 0; r < rows; r++) {
        for (int l = 0; l < 8; l++) {
            double total = 0.0;
            for (ptrdiff_t k = 0; k < depth; k++) total = fma(a[r * lda + k], panel[k * 8 + l], total);
            t[r * 8 + l] = total;
        }
    }
}

static void generic_int8_rows(const int8_t *left, ptrdiff_t rows, const int8_t *columns, ptrdiff_t depth,
                              ptrdiff_t n, int32_t *acc) {
    for (ptrdiff_t r = 0; r < rows; r++) {
        for (ptrdiff_t j = 0; j < n; j++) {
            int32_t sum = 0;
            for (ptrdiff_t p = 0; p < depth; p++) sum += (int32_t)left[r * depth + p] * columns[j * depth + p];
            acc[r * n + j] = sum;
        }
    }
}

// MARK: - Counter-based random streams (the input generator's)

#define RNG_GAMMA 0x9E3779B97F4A7C15ULL
#define RNG_M1 0xBF58476D1CE4E5B9ULL
#define RNG_M2 0x94D049BB133111EBULL

static inline uint64_t rng_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * RNG_M1;
    z = (z ^ (z >> 27)) * RNG_M2;
    return z ^ (z >> 31);
}

static inline uint64_t rng_word(uint64_t key, uint64_t index) { return rng_mix64(key + (index + 1) * RNG_GAMMA); }

static void generic_rng_uniform(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count, float *out) {
    for (ptrdiff_t i = 0; i < count; i++) {
        float u = (float)(uint32_t)(rng_word(key, first + (uint64_t)i * step) >> 40) * 0x1p-24f;
        out[i] = 2.0f * u - 1.0f;
    }
}

static void generic_rng_words(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count, uint64_t *out) {
    for (ptrdiff_t i = 0; i < count; i++) out[i] = rng_word(key, first + (uint64_t)i * step);
}

static void generic_rng_normal(uint64_t key, uint64_t first_element, ptrdiff_t count, float *out) {
    for (ptrdiff_t i = 0; i < count; i++) {
        uint64_t argument = key + ((first_element + (uint64_t)i) * 12 + 1) * RNG_GAMMA;
        uint64_t sum = 0;
        for (int j = 0; j < 12; j++) {
            sum += rng_mix64(argument) >> 40;
            argument += RNG_GAMMA;
        }
        double scaled = (double)sum * 0x1p-24;
        out[i] = (float)(scaled - 6.0);
    }
}



// MARK: - Rounding fp32 values to bf16 and fp16 in place (the input generator's)

static inline uint32_t round_bits(float value) {
    uint32_t bits;
    __builtin_memcpy(&bits, &value, 4);
    return bits;
}

static inline float round_float(uint32_t bits) {
    float value;
    __builtin_memcpy(&value, &bits, 4);
    return value;
}

/// bf16, ties to even, as FuseCheckCore's `BFloat16(Float)`: the top 16 bits after adding 0x7FFF
/// plus the lowest kept bit; a NaN keeps its top bits with the quiet bit set.
static inline float round_bf16_one(float value) {
    uint32_t bits = round_bits(value);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return round_float((bits & 0xFFFF0000u) | 0x00400000u);
    return round_float((bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u);
}

/// fp16, ties to even, as FuseCheckCore's `Float.roundedToFloat16`: subnormal results through
/// fp32's own rounding of |x| * 2^24 + 2^23, normal ones on the bit pattern, overflow to
/// infinity from 65520, and a NaN as the library's conversion there and back gives it (quiet, the
/// top 9 bits of its payload kept).
static inline float round_f16_one(float value) {
    uint32_t bits = round_bits(value);
    uint32_t sign = bits & 0x80000000u;
    float magnitude = round_float(bits & 0x7FFFFFFFu);
    if (magnitude < 0x1p-14f) {
        float shifted = magnitude * 0x1p24f + 0x1p23f;  // the product is exact: an FMA gives the same
        float integer = shifted - 0x1p23f;
        return round_float(round_bits(integer * 0x1p-24f) | sign);
    }
    if (magnitude < 65520.0f) return round_float((bits + 0x0FFFu + ((bits >> 13) & 1u)) & ~0x1FFFu);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return round_float(sign | 0x7FC00000u | (bits & 0x003FE000u));
    return round_float(sign | 0x7F800000u);
}

static void generic_round_bf16(float *values, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i++) values[i] = round_bf16_one(values[i]);
}

static void generic_round_f16(float *values, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i++) values[i] = round_f16_one(values[i]);
}

#if FUSE_X86

// MARK: - AVX-512: 8 x 48 tiles in 24 zmm accumulators (as OpenBLAS's SKYLAKEX kernels do)

#define FUSE_AVX512 __attribute__((target("avx,avx2,fma,avx512f")))

#define Z_ROW_DECL(i) __m512 c##i##0, c##i##1, c##i##2;
#define Z_ROW_LOAD(i)                                                                                             \
    c##i##0 = continuing ? _mm512_loadu_ps(c + (i) * ldc) : _mm512_setzero_ps();                                   \
    c##i##1 = continuing ? _mm512_loadu_ps(c + (i) * ldc + 16) : _mm512_setzero_ps();                              \
    c##i##2 = continuing ? _mm512_loadu_ps(c + (i) * ldc + 32) : _mm512_setzero_ps();
#define Z_ROW_FMA(i)                                                                                              \
    {                                                                                                             \
        const __m512 ai = _mm512_set1_ps(a[i]);                                                                   \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                                               \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                                               \
        c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                                               \
    }
#define Z_ROW_STORE(i)                                                                                            \
    _mm512_storeu_ps(c + (i) * ldc, c##i##0);                                                                     \
    _mm512_storeu_ps(c + (i) * ldc + 16, c##i##1);                                                                \
    _mm512_storeu_ps(c + (i) * ldc + 32, c##i##2);

FUSE_AVX512 static void avx512_wide(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                    ptrdiff_t ldb, int continuing) {
    Z_ROW_DECL(0) Z_ROW_DECL(1) Z_ROW_DECL(2) Z_ROW_DECL(3) Z_ROW_DECL(4) Z_ROW_DECL(5) Z_ROW_DECL(6) Z_ROW_DECL(7)
    Z_ROW_LOAD(0) Z_ROW_LOAD(1) Z_ROW_LOAD(2) Z_ROW_LOAD(3) Z_ROW_LOAD(4) Z_ROW_LOAD(5) Z_ROW_LOAD(6) Z_ROW_LOAD(7)
    for (ptrdiff_t k = 0; k < depth; k++) {
        const __m512 b0 = _mm512_loadu_ps(b);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        const __m512 b2 = _mm512_loadu_ps(b + 32);
        Z_ROW_FMA(0) Z_ROW_FMA(1) Z_ROW_FMA(2) Z_ROW_FMA(3) Z_ROW_FMA(4) Z_ROW_FMA(5) Z_ROW_FMA(6) Z_ROW_FMA(7)
        a += 8;
        b += ldb;
    }
    Z_ROW_STORE(0) Z_ROW_STORE(1) Z_ROW_STORE(2) Z_ROW_STORE(3)
    Z_ROW_STORE(4) Z_ROW_STORE(5) Z_ROW_STORE(6) Z_ROW_STORE(7)
}

#define N_ROW_DECL(i) __m512 c##i = continuing ? _mm512_loadu_ps(c + (i) * ldc) : _mm512_setzero_ps();
#define N_ROW_FMA(i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, c##i);
#define N_ROW_STORE(i) _mm512_storeu_ps(c + (i) * ldc, c##i);

FUSE_AVX512 static void avx512_narrow(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                      ptrdiff_t ldb, int continuing) {
    N_ROW_DECL(0) N_ROW_DECL(1) N_ROW_DECL(2) N_ROW_DECL(3) N_ROW_DECL(4) N_ROW_DECL(5) N_ROW_DECL(6) N_ROW_DECL(7)
    for (ptrdiff_t k = 0; k < depth; k++) {
        const __m512 b0 = _mm512_loadu_ps(b);
        N_ROW_FMA(0) N_ROW_FMA(1) N_ROW_FMA(2) N_ROW_FMA(3) N_ROW_FMA(4) N_ROW_FMA(5) N_ROW_FMA(6) N_ROW_FMA(7)
        a += 8;
        b += ldb;
    }
    N_ROW_STORE(0) N_ROW_STORE(1) N_ROW_STORE(2) N_ROW_STORE(3)
    N_ROW_STORE(4) N_ROW_STORE(5) N_ROW_STORE(6) N_ROW_STORE(7)
}

// MARK: - AVX2 + FMA: 4 x 16 blocks in 8 ymm accumulators (16 registers cannot hold an 8 x 48 tile)

#define FUSE_AVX2 __attribute__((target("avx,avx2,fma")))

#define Y_ROW_DECL(i)                                                                                             \
    __m256 c##i##0 = continuing ? _mm256_loadu_ps(c + (i) * ldc) : _mm256_setzero_ps();                            \
    __m256 c##i##1 = continuing ? _mm256_loadu_ps(c + (i) * ldc + 8) : _mm256_setzero_ps();
#define Y_ROW_FMA(i)                                                                                              \
    {                                                                                                             \
        const __m256 ai = _mm256_broadcast_ss(a + (i));                                                           \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                                               \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                                               \
    }
#define Y_ROW_STORE(i)                                                                                            \
    _mm256_storeu_ps(c + (i) * ldc, c##i##0);                                                                     \
    _mm256_storeu_ps(c + (i) * ldc + 8, c##i##1);

/// Rows 0..<4 of a packed micro-panel (`a` already offset to the first row, k stride 8) times 16
/// columns of a right panel.
FUSE_AVX2 static inline void avx2_block4x16(ptrdiff_t depth, const float *a, const float *b, float *c,
                                            ptrdiff_t ldc, ptrdiff_t ldb, int continuing) {
    Y_ROW_DECL(0) Y_ROW_DECL(1) Y_ROW_DECL(2) Y_ROW_DECL(3)
    for (ptrdiff_t k = 0; k < depth; k++) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        Y_ROW_FMA(0) Y_ROW_FMA(1) Y_ROW_FMA(2) Y_ROW_FMA(3)
        a += 8;
        b += ldb;
    }
    Y_ROW_STORE(0) Y_ROW_STORE(1) Y_ROW_STORE(2) Y_ROW_STORE(3)
}

FUSE_AVX2 static void avx2_wide(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                ptrdiff_t ldb, int continuing) {
    for (int column = 0; column < 48; column += 16) {
        avx2_block4x16(depth, a, b + column, c + column, ldc, ldb, continuing);
        avx2_block4x16(depth, a + 4, b + column, c + 4 * ldc + column, ldc, ldb, continuing);
    }
}

FUSE_AVX2 static void avx2_narrow(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                  ptrdiff_t ldb, int continuing) {
    avx2_block4x16(depth, a, b, c, ldc, ldb, continuing);
    avx2_block4x16(depth, a + 4, b, c + 4 * ldc, ldc, ldb, continuing);
}

#define X_ROW_DECL(i) __m128 c##i = continuing ? _mm_loadu_ps(c + (i) * ldc) : _mm_setzero_ps();
#define X_ROW_FMA(i) c##i = _mm_fmadd_ps(_mm_broadcast_ss(a + (i)), b0, c##i);
#define X_ROW_STORE(i) _mm_storeu_ps(c + (i) * ldc, c##i);

/// The 8 x 4 tile, for both AVX paths.
FUSE_AVX2 static void avx2_thin(ptrdiff_t depth, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                ptrdiff_t ldb, int continuing) {
    X_ROW_DECL(0) X_ROW_DECL(1) X_ROW_DECL(2) X_ROW_DECL(3) X_ROW_DECL(4) X_ROW_DECL(5) X_ROW_DECL(6) X_ROW_DECL(7)
    for (ptrdiff_t k = 0; k < depth; k++) {
        const __m128 b0 = _mm_loadu_ps(b);
        X_ROW_FMA(0) X_ROW_FMA(1) X_ROW_FMA(2) X_ROW_FMA(3) X_ROW_FMA(4) X_ROW_FMA(5) X_ROW_FMA(6) X_ROW_FMA(7)
        a += 8;
        b += ldb;
    }
    X_ROW_STORE(0) X_ROW_STORE(1) X_ROW_STORE(2) X_ROW_STORE(3)
    X_ROW_STORE(4) X_ROW_STORE(5) X_ROW_STORE(6) X_ROW_STORE(7)
}

/// The 8 x 8 transpose in ymm registers: unpack pairs of rows, shuffle pairs of pairs, then swap
/// 128-bit halves.
FUSE_AVX2 static void avx_transpose(const float *r0, const float *r1, const float *r2, const float *r3,
                                    const float *r4, const float *r5, const float *r6, const float *r7,
                                    float *target, ptrdiff_t target_stride) {
    const __m256 v0 = _mm256_loadu_ps(r0), v1 = _mm256_loadu_ps(r1), v2 = _mm256_loadu_ps(r2);
    const __m256 v3 = _mm256_loadu_ps(r3), v4 = _mm256_loadu_ps(r4), v5 = _mm256_loadu_ps(r5);
    const __m256 v6 = _mm256_loadu_ps(r6), v7 = _mm256_loadu_ps(r7);
    const __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    const __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    const __m256 t4 = _mm256_unpacklo_ps(v4, v5), t5 = _mm256_unpackhi_ps(v4, v5);
    const __m256 t6 = _mm256_unpacklo_ps(v6, v7), t7 = _mm256_unpackhi_ps(v6, v7);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(target, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(target + target_stride, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(target + 2 * target_stride, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(target + 3 * target_stride, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(target + 4 * target_stride, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(target + 5 * target_stride, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(target + 6 * target_stride, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(target + 7 * target_stride, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// MARK: - The reference's strips

#define S512_ROW(r)                                                                                              \
    {                                                                                                            \
        const __m512 ar = _mm512_set1_ps(a[(r) * lda + k]);                                                      \
        p##r = _mm512_fmadd_ps(ar, b, p##r);                                                                     \
    }

FUSE_AVX512 static void avx512_strip_f32(const float *a, ptrdiff_t lda, int rows, const float *panel,
                                         ptrdiff_t depth, ptrdiff_t chunk_length, float *t) {
    if (rows != 4) {
        for (int r = 0; r < rows; r++) {
            __m512 total = _mm512_setzero_ps();
            for (ptrdiff_t start = 0; start < depth; start += chunk_length) {
                const ptrdiff_t end = start + chunk_length < depth ? start + chunk_length : depth;
                __m512 p = _mm512_setzero_ps();
                for (ptrdiff_t k = start; k < end; k++) {
                    p = _mm512_fmadd_ps(_mm512_set1_ps(a[r * lda + k]), _mm512_loadu_ps(panel + k * 16), p);
                }
                total = start == 0 ? p : _mm512_add_ps(total, p);
            }
            _mm512_storeu_ps(t + r * 16, total);
        }
        return;
    }
    __m512 t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps(), t2 = _mm512_setzero_ps(), t3 = _mm512_setzero_ps();
    for (ptrdiff_t start = 0; start < depth; start += chunk_length) {
        const ptrdiff_t end = start + chunk_length < depth ? start + chunk_length : depth;
        __m512 p0 = _mm512_setzero_ps(), p1 = _mm512_setzero_ps(), p2 = _mm512_setzero_ps(), p3 = _mm512_setzero_ps();
        for (ptrdiff_t k = start; k < end; k++) {
            const __m512 b = _mm512_loadu_ps(panel + k * 16);
            S512_ROW(0) S512_ROW(1) S512_ROW(2) S512_ROW(3)
        }
        if (start == 0) {
            t0 = p0; t1 = p1; t2 = p2; t3 = p3;
        } else {
            t0 = _mm512_add_ps(t0, p0); t1 = _mm512_add_ps(t1, p1);
            t2 = _mm512_add_ps(t2, p2); t3 = _mm512_add_ps(t3, p3);
        }
    }
    _mm512_storeu_ps(t, t0); _mm512_storeu_ps(t + 16, t1); _mm512_storeu_ps(t + 32, t2); _mm512_storeu_ps(t + 48, t3);
}

FUSE_AVX512 static void avx512_strip_f64(const double *a, ptrdiff_t lda, int rows, const double *panel,
                                         ptrdiff_t depth, double *t) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
        __m512d t0 = _mm512_setzero_pd(), t1 = _mm512_setzero_pd(), t2 = _mm512_setzero_pd(), t3 = _mm512_setzero_pd();
        const double *a0 = a + r * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        for (ptrdiff_t k = 0; k < depth; k++) {
            const __m512d b = _mm512_loadu_pd(panel + k * 8);
            t0 = _mm512_fmadd_pd(_mm512_set1_pd(a0[k]), b, t0);
            t1 = _mm512_fmadd_pd(_mm512_set1_pd(a1[k]), b, t1);
            t2 = _mm512_fmadd_pd(_mm512_set1_pd(a2[k]), b, t2);
            t3 = _mm512_fmadd_pd(_mm512_set1_pd(a3[k]), b, t3);
        }
        _mm512_storeu_pd(t + r * 8, t0); _mm512_storeu_pd(t + r * 8 + 8, t1);
        _mm512_storeu_pd(t + r * 8 + 16, t2); _mm512_storeu_pd(t + r * 8 + 24, t3);
    }
    for (; r < rows; r++) {
        __m512d t0 = _mm512_setzero_pd();
        for (ptrdiff_t k = 0; k < depth; k++) {
            t0 = _mm512_fmadd_pd(_mm512_set1_pd(a[r * lda + k]), _mm512_loadu_pd(panel + k * 8), t0);
        }
        _mm512_storeu_pd(t + r * 8, t0);
    }
}

FUSE_AVX2 static void avx2_strip_f32(const float *a, ptrdiff_t lda, int rows, const float *panel,
                                     ptrdiff_t depth, ptrdiff_t chunk_length, float *t) {
    for (int r = 0; r < rows; r++) {
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        for (ptrdiff_t start = 0; start < depth; start += chunk_length) {
            const ptrdiff_t end = start + chunk_length < depth ? start + chunk_length : depth;
            __m256 plo = _mm256_setzero_ps(), phi = _mm256_setzero_ps();
            for (ptrdiff_t k = start; k < end; k++) {
                const __m256 ar = _mm256_broadcast_ss(a + r * lda + k);
                plo = _mm256_fmadd_ps(ar, _mm256_loadu_ps(panel + k * 16), plo);
                phi = _mm256_fmadd_ps(ar, _mm256_loadu_ps(panel + k * 16 + 8), phi);
            }
            if (start == 0) {
                lo = plo; hi = phi;
            } else {
                lo = _mm256_add_ps(lo, plo); hi = _mm256_add_ps(hi, phi);
            }
        }
        _mm256_storeu_ps(t + r * 16, lo);
        _mm256_storeu_ps(t + r * 16 + 8, hi);
    }
}

FUSE_AVX2 static void avx2_strip_f64(const double *a, ptrdiff_t lda, int rows, const double *panel,
                                     ptrdiff_t depth, double *t) {
    for (int r = 0; r < rows; r++) {
        __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
        for (ptrdiff_t k = 0; k < depth; k++) {
            const __m256d ar = _mm256_broadcast_sd(a + r * lda + k);
            lo = _mm256_fmadd_pd(ar, _mm256_loadu_pd(panel + k * 8), lo);
            hi = _mm256_fmadd_pd(ar, _mm256_loadu_pd(panel + k * 8 + 4), hi);
        }
        _mm256_storeu_pd(t + r * 8, lo);
        _mm256_storeu_pd(t + r * 8 + 4, hi);
    }
}

// MARK: - The quantized path's int8 rows

/// 16 int8 of a row and of each of four columns widened to int16, multiplied and pairwise added
/// (vpmaddwd: a pair of products is at most 2^15), accumulated in 8 int32 lanes per column.
FUSE_AVX2 static void avx2_int8_rows(const int8_t *left, ptrdiff_t rows, const int8_t *columns, ptrdiff_t depth,
                                     ptrdiff_t n, int32_t *acc) {
    const ptrdiff_t full = depth / 16 * 16;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const int8_t *a = left + r * depth;
        ptrdiff_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const int8_t *b0 = columns + j * depth, *b1 = b0 + depth, *b2 = b1 + depth, *b3 = b2 + depth;
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            __m256i s2 = _mm256_setzero_si256(), s3 = _mm256_setzero_si256();
            for (ptrdiff_t p = 0; p < full; p += 16) {
                const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + p)));
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(x, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b0 + p)))));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(x, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b1 + p)))));
                s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(x, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b2 + p)))));
                s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(x, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b3 + p)))));
            }
            int32_t lanes[4][8];
            _mm256_storeu_si256((__m256i *)lanes[0], s0);
            _mm256_storeu_si256((__m256i *)lanes[1], s1);
            _mm256_storeu_si256((__m256i *)lanes[2], s2);
            _mm256_storeu_si256((__m256i *)lanes[3], s3);
            const int8_t *b[4] = {b0, b1, b2, b3};
            for (int c = 0; c < 4; c++) {
                int32_t sum = 0;
                for (int l = 0; l < 8; l++) sum += lanes[c][l];
                for (ptrdiff_t p = full; p < depth; p++) sum += (int32_t)a[p] * b[c][p];
                acc[r * n + j + c] = sum;
            }
        }
        for (; j < n; j++) {
            const int8_t *b0 = columns + j * depth;
            int32_t sum = 0;
            for (ptrdiff_t p = 0; p < depth; p++) sum += (int32_t)a[p] * b0[p];
            acc[r * n + j] = sum;
        }
    }
}

// MARK: - int8 rows with AVX-512BW: 4 rows x 4 columns per pass

#define FUSE_AVX512BW __attribute__((target("avx,avx2,fma,avx512f,avx512bw")))

/// 32 int8 of each of 4 rows and 4 columns widened to int16 (vpmovsxbw), multiplied and pairwise
/// added (vpmaddwd) into 16 accumulators of 16 int32 lanes: each loaded row and column is used
/// four times. The AVX2 kernel streamed every column once per row. Integer sums are exact, so the
/// grouping of the additions cannot change a bit.
FUSE_AVX512BW static void avx512bw_int8_block(const int8_t *a, ptrdiff_t depth, const int8_t *b, int32_t *acc,
                                              ptrdiff_t n) {
    const ptrdiff_t full = depth / 32 * 32;
    __m512i s[4][4];
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 4; c++) s[i][c] = _mm512_setzero_si512();
    for (ptrdiff_t p = 0; p < full; p += 32) {
        __m512i x[4], y[4];
        for (int i = 0; i < 4; i++) {
            x[i] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i * depth + p)));
        }
        for (int c = 0; c < 4; c++) {
            y[c] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + c * depth + p)));
        }
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) s[i][c] = _mm512_add_epi32(s[i][c], _mm512_madd_epi16(x[i], y[c]));
    }
    for (int i = 0; i < 4; i++) {
        for (int c = 0; c < 4; c++) {
            int32_t sum = _mm512_reduce_add_epi32(s[i][c]);
            for (ptrdiff_t p = full; p < depth; p++) sum += (int32_t)a[i * depth + p] * b[c * depth + p];
            acc[i * n + c] = sum;
        }
    }
}

FUSE_AVX512BW static void avx512bw_int8_rows(const int8_t *left, ptrdiff_t rows, const int8_t *columns,
                                             ptrdiff_t depth, ptrdiff_t n, int32_t *acc) {
    const ptrdiff_t blockRows = rows / 4 * 4, blockColumns = n / 4 * 4;
    // Panels of 64 columns (64 x depth bytes: 128 KiB at depth 2048) stay in L2 while every
    // block of 4 rows passes over them; a block of rows over all n columns streamed them from L3.
    for (ptrdiff_t j0 = 0; j0 < blockColumns; j0 += 64) {
        const ptrdiff_t j1 = j0 + 64 < blockColumns ? j0 + 64 : blockColumns;
        for (ptrdiff_t r = 0; r < blockRows; r += 4) {
            for (ptrdiff_t j = j0; j < j1; j += 4) {
                avx512bw_int8_block(left + r * depth, depth, columns + j * depth, acc + r * n + j, n);
            }
        }
    }
    for (ptrdiff_t r = 0; r < blockRows; r += 4) {
        for (ptrdiff_t i = r; i < r + 4; i++) {
            for (ptrdiff_t j = blockColumns; j < n; j++) {
                int32_t sum = 0;
                for (ptrdiff_t p = 0; p < depth; p++) sum += (int32_t)left[i * depth + p] * columns[j * depth + p];
                acc[i * n + j] = sum;
            }
        }
    }
    if (blockRows < rows) {
        avx2_int8_rows(left + blockRows * depth, rows - blockRows, columns, depth, n, acc + blockRows * n);
    }
}

// MARK: - int8 rows with AVX-512 VNNI: 64 products per instruction

#define FUSE_AVX512VNNI __attribute__((target("avx,avx2,fma,avx512f,avx512bw,avx512vnni")))

/// vpdpbusd multiplies unsigned by signed bytes, four products per int32 lane. With u = a + 128
/// (the sign bit flipped), sum(a * b) = sum(u * b) - 128 * sum(b): `column_sums` holds sum(b) over
/// the first `full` k of each column. The lanes wrap modulo 2^32 (vpdpbusd does not saturate), and
/// so does the correction, so the result is the exact sum, which lies within int32.
FUSE_AVX512VNNI static void avx512vnni_int8_block(const int8_t *a, ptrdiff_t depth, const int8_t *b,
                                                  const int32_t *column_sums, int32_t *acc, ptrdiff_t n) {
    const ptrdiff_t full = depth / 64 * 64;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i s[4][4];
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 4; c++) s[i][c] = _mm512_setzero_si512();
    for (ptrdiff_t p = 0; p < full; p += 64) {
        __m512i x[4], y[4];
        for (int i = 0; i < 4; i++) x[i] = _mm512_xor_si512(_mm512_loadu_si512(a + i * depth + p), flip);
        for (int c = 0; c < 4; c++) y[c] = _mm512_loadu_si512(b + c * depth + p);
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++) s[i][c] = _mm512_dpbusd_epi32(s[i][c], x[i], y[c]);
    }
    for (int i = 0; i < 4; i++) {
        for (int c = 0; c < 4; c++) {
            uint32_t sum = (uint32_t)_mm512_reduce_add_epi32(s[i][c]) - 128u * (uint32_t)column_sums[c];
            for (ptrdiff_t p = full; p < depth; p++) sum += (uint32_t)((int32_t)a[i * depth + p] * b[c * depth + p]);
            acc[i * n + c] = (int32_t)sum;
        }
    }
}

FUSE_AVX512VNNI static void avx512vnni_int8_rows(const int8_t *left, ptrdiff_t rows, const int8_t *columns,
                                                 ptrdiff_t depth, ptrdiff_t n, int32_t *acc) {
    const ptrdiff_t blockRows = rows / 4 * 4, blockColumns = n / 4 * 4, full = depth / 64 * 64;
    int32_t sums[64];
    // Panels of 64 columns stay in L2 while every block of 4 rows passes over them.
    for (ptrdiff_t j0 = 0; j0 < blockColumns; j0 += 64) {
        const ptrdiff_t j1 = j0 + 64 < blockColumns ? j0 + 64 : blockColumns;
        for (ptrdiff_t j = j0; j < j1; j++) {
            int32_t sum = 0;
            for (ptrdiff_t p = 0; p < full; p++) sum += columns[j * depth + p];
            sums[j - j0] = sum;
        }
        for (ptrdiff_t r = 0; r < blockRows; r += 4) {
            for (ptrdiff_t j = j0; j < j1; j += 4) {
                avx512vnni_int8_block(left + r * depth, depth, columns + j * depth, sums + (j - j0), acc + r * n + j,
                                      n);
            }
        }
    }
    for (ptrdiff_t i = 0; i < blockRows; i++) {
        for (ptrdiff_t j = blockColumns; j < n; j++) {
            int32_t sum = 0;
            for (ptrdiff_t p = 0; p < depth; p++) sum += (int32_t)left[i * depth + p] * columns[j * depth + p];
            acc[i * n + j] = sum;
        }
    }
    if (blockRows < rows) {
        avx2_int8_rows(left + blockRows * depth, rows - blockRows, columns, depth, n, acc + blockRows * n);
    }
}

static int cpu_has_avx512bw(void);
static int cpu_has_avx512vnni(void);

/// The AVX-512 path's int8 rows: the VNNI kernel where the CPU has AVX-512 VNNI (Cascade Lake,
/// Ice Lake, Zen 4 and later), else the AVX-512BW one (every AVX-512 CPU since Skylake-SP), else
/// the AVX2 one. All give the exact int32 sums.
static void avx512_int8_rows(const int8_t *left, ptrdiff_t rows, const int8_t *columns, ptrdiff_t depth,
                             ptrdiff_t n, int32_t *acc) {
    // 0: AVX2, 1: AVX-512BW, 2: VNNI; -1: not asked yet (read and written atomically: any thread
    // may ask first).
    static int level = -1;
    int known = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (known < 0) {
        known = cpu_has_avx512vnni() ? 2 : (cpu_has_avx512bw() ? 1 : 0);
        __atomic_store_n(&level, known, __ATOMIC_RELAXED);
    }
    if (known == 2) {
        avx512vnni_int8_rows(left, rows, columns, depth, n, acc);
    } else if (known == 1) {
        avx512bw_int8_rows(left, rows, columns, depth, n, acc);
    } else {
        avx2_int8_rows(left, rows, columns, depth, n, acc);
    }
}

// MARK: - Rounding to bf16 and fp16, vectorized (the same bits as the scalar functions)

FUSE_AVX512 static void avx512_round_bf16(float *values, ptrdiff_t count) {
    ptrdiff_t i = 0;
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u), quiet = _mm512_set1_epi32(0x00400000);
    const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
    for (; i + 16 <= count; i += 16) {
        __m512i bits = _mm512_loadu_si512(values + i);
        __m512i lowest = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
        __m512i rounded = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(bits, bias), lowest), high);
        __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(bits, abs_mask), inf);
        __m512i quieted = _mm512_or_si512(_mm512_and_si512(bits, high), quiet);
        _mm512_storeu_si512(values + i, _mm512_mask_blend_epi32(nan, rounded, quieted));
    }
    generic_round_bf16(values + i, count - i);
}

FUSE_AVX512 static void avx512_round_f16(float *values, ptrdiff_t count) {
    ptrdiff_t i = 0;
    const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), sign_mask = _mm512_set1_epi32((int)0x80000000u);
    const __m512i inf = _mm512_set1_epi32(0x7F800000), one = _mm512_set1_epi32(1);
    const __m512i bias = _mm512_set1_epi32(0x0FFF), keep = _mm512_set1_epi32((int)~0x1FFFu);
    const __m512i nan_payload = _mm512_set1_epi32(0x003FE000), quiet_nan = _mm512_set1_epi32(0x7FC00000);
    for (; i + 16 <= count; i += 16) {
        __m512i bits = _mm512_loadu_si512(values + i);
        __m512i sign = _mm512_and_si512(bits, sign_mask);
        __m512i magnitude_bits = _mm512_and_si512(bits, abs_mask);
        __m512 magnitude = _mm512_castsi512_ps(magnitude_bits);
        // Subnormal results: (|x| * 2^24 + 2^23) - 2^23, each step rounded (no FMA), times 2^-24.
        __m512 shifted = _mm512_add_ps(_mm512_mul_ps(magnitude, _mm512_set1_ps(0x1p24f)), _mm512_set1_ps(0x1p23f));
        __m512 integer = _mm512_sub_ps(shifted, _mm512_set1_ps(0x1p23f));
        __m512i subnormal = _mm512_or_si512(_mm512_castps_si512(_mm512_mul_ps(integer, _mm512_set1_ps(0x1p-24f))),
                                            sign);
        __m512i lowest = _mm512_and_si512(_mm512_srli_epi32(bits, 13), one);
        __m512i normal = _mm512_and_si512(_mm512_add_epi32(_mm512_add_epi32(bits, bias), lowest), keep);
        __m512i nan_value = _mm512_or_si512(_mm512_or_si512(sign, quiet_nan), _mm512_and_si512(bits, nan_payload));
        __m512i infinity = _mm512_or_si512(sign, inf);
        __mmask16 is_subnormal = _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(0x1p-14f), _CMP_LT_OQ);
        __mmask16 is_normal = _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(65520.0f), _CMP_LT_OQ);
        __mmask16 is_nan = _mm512_cmpgt_epi32_mask(magnitude_bits, inf);
        __m512i result = _mm512_mask_blend_epi32(is_nan, infinity, nan_value);
        result = _mm512_mask_blend_epi32(is_normal, result, normal);
        result = _mm512_mask_blend_epi32(is_subnormal, result, subnormal);
        _mm512_storeu_si512(values + i, result);
    }
    generic_round_f16(values + i, count - i);
}

// MARK: - Random streams, vectorized

// A 64-bit product modulo 2^64 from 32-bit halves (AVX-512F and AVX2 have no 64-bit multiply
// without AVX-512DQ): a * m = a_lo * m_lo + ((a_hi * m_lo + a_lo * m_hi) << 32).
FUSE_AVX512 static inline __m512i z_mul64(__m512i a, uint64_t m) {
    const __m512i lo = _mm512_set1_epi64((long long)(m & 0xFFFFFFFFULL));
    const __m512i hi = _mm512_set1_epi64((long long)(m >> 32));
    __m512i cross = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(a, 32), lo), _mm512_mul_epu32(a, hi));
    return _mm512_add_epi64(_mm512_mul_epu32(a, lo), _mm512_slli_epi64(cross, 32));
}

FUSE_AVX512 static inline __m512i z_mix64(__m512i z) {
    z = z_mul64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), RNG_M1);
    z = z_mul64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), RNG_M2);
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/// Eight arguments key + (first + lane * step + 1) * gamma, as 64-bit lanes.
FUSE_AVX512 static inline __m512i z_arguments(uint64_t key, uint64_t first, uint64_t step) {
    uint64_t lanes[8];
    for (int l = 0; l < 8; l++) lanes[l] = key + (first + (uint64_t)l * step + 1) * RNG_GAMMA;
    return _mm512_loadu_si512(lanes);
}

FUSE_AVX512 static void avx512_rng_uniform(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count,
                                           float *out) {
    ptrdiff_t i = 0;
    const __m512i advance = _mm512_set1_epi64((long long)(8 * step * RNG_GAMMA));
    __m512i argument = z_arguments(key, first, step);
    for (; i + 8 <= count; i += 8) {
        __m256i bits = _mm512_cvtepi64_epi32(_mm512_srli_epi64(z_mix64(argument), 40));
        __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(bits), _mm256_set1_ps(0x1p-24f));
        _mm256_storeu_ps(out + i, _mm256_sub_ps(_mm256_add_ps(u, u), _mm256_set1_ps(1.0f)));
        argument = _mm512_add_epi64(argument, advance);
    }
    generic_rng_uniform(key, first + (uint64_t)i * step, step, count - i, out + i);
}

FUSE_AVX512 static void avx512_rng_words(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count,
                                         uint64_t *out) {
    ptrdiff_t i = 0;
    const __m512i advance = _mm512_set1_epi64((long long)(8 * step * RNG_GAMMA));
    __m512i argument = z_arguments(key, first, step);
    for (; i + 8 <= count; i += 8) {
        _mm512_storeu_si512(out + i, z_mix64(argument));
        argument = _mm512_add_epi64(argument, advance);
    }
    generic_rng_words(key, first + (uint64_t)i * step, step, count - i, out + i);
}

FUSE_AVX512 static void avx512_rng_normal(uint64_t key, uint64_t first_element, ptrdiff_t count, float *out) {
    ptrdiff_t i = 0;
    const __m512i gamma = _mm512_set1_epi64((long long)RNG_GAMMA);
    const __m512i advance = _mm512_set1_epi64((long long)(8 * 12 * RNG_GAMMA));
    __m512i argument = z_arguments(key, first_element * 12, 12);
    for (; i + 8 <= count; i += 8) {
        __m512i sum = _mm512_setzero_si512();
        __m512i word = argument;
        for (int j = 0; j < 12; j++) {
            sum = _mm512_add_epi64(sum, _mm512_srli_epi64(z_mix64(word), 40));
            word = _mm512_add_epi64(word, gamma);
        }
        __m512d scaled = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_cvtepi64_epi32(sum)), _mm512_set1_pd(0x1p-24));
        _mm256_storeu_ps(out + i, _mm512_cvtpd_ps(_mm512_sub_pd(scaled, _mm512_set1_pd(6.0))));
        argument = _mm512_add_epi64(argument, advance);
    }
    generic_rng_normal(key, first_element + (uint64_t)i, count - i, out + i);
}

FUSE_AVX2 static inline __m256i y_mul64(__m256i a, uint64_t m) {
    const __m256i lo = _mm256_set1_epi64x((long long)(m & 0xFFFFFFFFULL));
    const __m256i hi = _mm256_set1_epi64x((long long)(m >> 32));
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), lo), _mm256_mul_epu32(a, hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, lo), _mm256_slli_epi64(cross, 32));
}

FUSE_AVX2 static inline __m256i y_mix64(__m256i z) {
    z = y_mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), RNG_M1);
    z = y_mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), RNG_M2);
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/// The low 32 bits of four 64-bit lanes, in order.
FUSE_AVX2 static inline __m128i y_low_halves(__m256i v) {
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7)));
}

/// Four arguments key + (first + lane * step + 1) * gamma, as 64-bit lanes.
FUSE_AVX2 static inline __m256i y_arguments(uint64_t key, uint64_t first, uint64_t step) {
    uint64_t lanes[4];
    for (int l = 0; l < 4; l++) lanes[l] = key + (first + (uint64_t)l * step + 1) * RNG_GAMMA;
    return _mm256_loadu_si256((const __m256i *)lanes);
}

FUSE_AVX2 static void avx2_rng_uniform(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count, float *out) {
    ptrdiff_t i = 0;
    const __m256i advance = _mm256_set1_epi64x((long long)(4 * step * RNG_GAMMA));
    __m256i argument = y_arguments(key, first, step);
    for (; i + 4 <= count; i += 4) {
        __m128i bits = y_low_halves(_mm256_srli_epi64(y_mix64(argument), 40));
        __m128 u = _mm_mul_ps(_mm_cvtepi32_ps(bits), _mm_set1_ps(0x1p-24f));
        _mm_storeu_ps(out + i, _mm_sub_ps(_mm_add_ps(u, u), _mm_set1_ps(1.0f)));
        argument = _mm256_add_epi64(argument, advance);
    }
    generic_rng_uniform(key, first + (uint64_t)i * step, step, count - i, out + i);
}

FUSE_AVX2 static void avx2_rng_words(uint64_t key, uint64_t first, uint64_t step, ptrdiff_t count,
                                     uint64_t *out) {
    ptrdiff_t i = 0;
    const __m256i advance = _mm256_set1_epi64x((long long)(4 * step * RNG_GAMMA));
    __m256i argument = y_arguments(key, first, step);
    for (; i + 4 <= count; i += 4) {
        _mm256_storeu_si256((__m256i *)(out + i), y_mix64(argument));
        argument = _mm256_add_epi64(argument, advance);
    }
    generic_rng_words(key, first + (uint64_t)i * step, step, count - i, out + i);
}

FUSE_AVX2 static void avx2_rng_normal(uint64_t key, uint64_t first_element, ptrdiff_t count, float *out) {
    ptrdiff_t i = 0;
    const __m256i gamma = _mm256_set1_epi64x((long long)RNG_GAMMA);
    const __m256i advance = _mm256_set1_epi64x((long long)(4 * 12 * RNG_GAMMA));
    __m256i argument = y_arguments(key, first_element * 12, 12);
    for (; i + 4 <= count; i += 4) {
        __m256i sum = _mm256_setzero_si256();
        __m256i word = argument;
        for (int j = 0; j < 12; j++) {
            sum = _mm256_add_epi64(sum, _mm256_srli_epi64(y_mix64(word), 40));
            word = _mm256_add_epi64(word, gamma);
        }
        __m256d scaled = _mm256_mul_pd(_mm256_cvtepi32_pd(y_low_halves(sum)), _mm256_set1_pd(0x1p-24));
        _mm_storeu_ps(out + i, _mm256_cvtpd_ps(_mm256_sub_pd(scaled, _mm256_set1_pd(6.0))));
        argument = _mm256_add_epi64(argument, advance);
    }
    generic_rng_normal(key, first_element + (uint64_t)i, count - i, out + i);
}

// MARK: - What the CPU and its OS support

/// The OS saves the ymm (mask 0x6) or zmm and opmask (mask 0xE6) state across context switches.
static int os_saves(unsigned int mask) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & mask) == mask;
}

static int cpu_has_avx2_fma(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    if (!(ecx & bit_AVX) || !(ecx & bit_FMA)) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(ebx & bit_AVX2)) return 0;
    return os_saves(0x6);
}

static int cpu_has_avx512f(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!cpu_has_avx2_fma()) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || !(ebx & bit_AVX512F)) return 0;
    return os_saves(0xE6);
}

static int cpu_has_avx512bw(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!cpu_has_avx512f()) return 0;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & bit_AVX512BW);
}

static int cpu_has_avx512vnni(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!cpu_has_avx512bw()) return 0;
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ecx & bit_AVX512VNNI);
}

#endif

// MARK: - The transport's streaming copy

static void generic_stream_copy(float *dst, const float *src, ptrdiff_t count) {
    if (count > 0) memcpy(dst, src, (size_t)count * sizeof(float));
}

// MARK: - Packing a right panel's k-block from a row-major operand

static void generic_pack_rows(const float *src, ptrdiff_t ld, ptrdiff_t valid, ptrdiff_t width, ptrdiff_t count,
                              float *dst) {
    for (ptrdiff_t k = 0; k < count; k++) {
        const float *row = src + k * ld;
        float *to = dst + k * width;
        for (ptrdiff_t c = 0; c < valid; c++) to[c] = row[c];
        for (ptrdiff_t c = valid; c < width; c++) to[c] = 0;
    }
}

#if FUSE_X86
/// Plain stores up to the first 64-byte boundary of `dst`, then whole lines through
/// `_mm512_stream_ps`, then the tail; the fence orders the streaming stores before whatever the
/// caller publishes next (an arrival flag).
FUSE_AVX512 static void avx512_stream_copy(float *dst, const float *src, ptrdiff_t count) {
    ptrdiff_t i = 0;
    while (i < count && ((uintptr_t)(dst + i) & 63) != 0) {
        dst[i] = src[i];
        i++;
    }
    for (; i + 16 <= count; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
    for (; i < count; i++) dst[i] = src[i];
    _mm_sfence();
}

/// Each row as up to four 16-lane pieces, masked loads for a ragged end (which read nothing past
/// `valid`) and zeros beyond it: a library memmove per 48-float row cost more in calls than in
/// bytes (15% of an AlltoAll combine's CPU time, its experts' weights used by few rows each).
FUSE_AVX512 static void avx512_pack_rows(const float *src, ptrdiff_t ld, ptrdiff_t valid, ptrdiff_t width,
                                         ptrdiff_t count, float *dst) {
    if (valid == 48 && width == 48) {
        for (ptrdiff_t k = 0; k < count; k++) {
            const float *row = src + k * ld;
            float *to = dst + k * 48;
            const __m512 v0 = _mm512_loadu_ps(row), v1 = _mm512_loadu_ps(row + 16), v2 = _mm512_loadu_ps(row + 32);
            _mm512_storeu_ps(to, v0);
            _mm512_storeu_ps(to + 16, v1);
            _mm512_storeu_ps(to + 32, v2);
        }
        return;
    }
    for (ptrdiff_t k = 0; k < count; k++) {
        const float *row = src + k * ld;
        float *to = dst + k * width;
        ptrdiff_t c = 0;
        for (; c + 16 <= width; c += 16) {
            const ptrdiff_t left = valid - c;
            const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            _mm512_storeu_ps(to + c, _mm512_maskz_loadu_ps(mask, row + c));
        }
        for (; c < width; c++) to[c] = c < valid ? row[c] : 0;
    }
}

/// The same with 32-byte streaming stores.
FUSE_AVX2 static void avx2_stream_copy(float *dst, const float *src, ptrdiff_t count) {
    ptrdiff_t i = 0;
    while (i < count && ((uintptr_t)(dst + i) & 31) != 0) {
        dst[i] = src[i];
        i++;
    }
    for (; i + 8 <= count; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
    for (; i < count; i++) dst[i] = src[i];
    _mm_sfence();
}
#endif

static const fuse_kernels generic_kernels = {generic_wide,        generic_narrow,      generic_thin,
                                             generic_transpose,   generic_strip_f32,   generic_strip_f64,
                                             generic_int8_rows,   generic_rng_uniform, generic_rng_normal,
                                             generic_rng_words,   generic_round_bf16,  generic_round_f16,
                                             generic_stream_copy, generic_pack_rows, "generic"};
#if FUSE_X86
static const fuse_kernels avx2_kernels = {avx2_wide,       avx2_narrow,    avx2_thin,      avx_transpose,
                                          avx2_strip_f32,  avx2_strip_f64, avx2_int8_rows, avx2_rng_uniform,
                                          avx2_rng_normal, avx2_rng_words, generic_round_bf16, generic_round_f16,
                                          avx2_stream_copy, generic_pack_rows, "avx2"};
static const fuse_kernels avx512_kernels = {avx512_wide,       avx512_narrow,    avx2_thin,      avx_transpose,
                                            avx512_strip_f32,  avx512_strip_f64, avx512_int8_rows, avx512_rng_uniform,
                                            avx512_rng_normal, avx512_rng_words, avx512_round_bf16, avx512_round_f16,
                                            avx512_stream_copy, avx512_pack_rows, "avx512"};
#endif

void fuse_convert_int8(const float *src, ptrdiff_t count, int8_t *dst) {
    for (ptrdiff_t i = 0; i < count; i++) dst[i] = (int8_t)(int32_t)src[i];
}

void fuse_pack_int8_columns(const float *src, ptrdiff_t depth, ptrdiff_t columns, int8_t *dst) {
    enum { BLOCK = 64 };
    int8_t tile[BLOCK][BLOCK];
    for (ptrdiff_t p0 = 0; p0 < depth; p0 += BLOCK) {
        const ptrdiff_t rows = depth - p0 < BLOCK ? depth - p0 : BLOCK;
        for (ptrdiff_t j0 = 0; j0 < columns; j0 += BLOCK) {
            const ptrdiff_t width = columns - j0 < BLOCK ? columns - j0 : BLOCK;
            for (ptrdiff_t p = 0; p < rows; p++) {
                const float *row = src + (p0 + p) * columns + j0;
                for (ptrdiff_t j = 0; j < width; j++) tile[p][j] = (int8_t)(int32_t)row[j];
            }
            for (ptrdiff_t j = 0; j < width; j++) {
                int8_t *column = dst + (j0 + j) * depth + p0;
                for (ptrdiff_t p = 0; p < rows; p++) column[p] = tile[p][j];
            }
        }
    }
}

int fuse_kernels_supported(fuse_kernel_path path) {
    switch (path) {
    case FUSE_KERNELS_GENERIC:
        return 1;
#if FUSE_X86
    case FUSE_KERNELS_AVX2:
        return cpu_has_avx2_fma();
    case FUSE_KERNELS_AVX512:
        return cpu_has_avx512f();
#endif
    default:
        return 0;
    }
}

const fuse_kernels *fuse_kernels_get(fuse_kernel_path path) {
    switch (path) {
#if FUSE_X86
    case FUSE_KERNELS_AVX512:
        return &avx512_kernels;
    case FUSE_KERNELS_AVX2:
        return &avx2_kernels;
#endif
    default:
        return &generic_kernels;
    }
}

fuse_int8_rows_fn fuse_int8_rows_variant(int variant) {
    switch (variant) {
    case 0:
        return generic_int8_rows;
#if FUSE_X86
    case 1:
        return cpu_has_avx2_fma() ? avx2_int8_rows : 0;
    case 2:
        return cpu_has_avx512bw() ? avx512bw_int8_rows : 0;
    case 3:
        return cpu_has_avx512vnni() ? avx512vnni_int8_rows : 0;
#endif
    default:
        return 0;
    }
}
