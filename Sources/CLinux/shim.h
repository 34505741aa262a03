// glibc and Linux calls that Swift's Glibc module does not import (GNU extensions, or headers
// outside that module), and a compiler builtin Swift has no spelling for, as small inline
// wrappers. Nothing to link: all of it is in libc.
#ifndef FUSECHECK_CLINUX_SHIM_H
#define FUSECHECK_CLINUX_SHIM_H

#include <fcntl.h>
#include <malloc.h>
#include <sys/syscall.h>
#include <unistd.h>

/// A CPU affinity mask for up to 1024 CPUs (the kernel's cpumask as sched_setaffinity takes it).
typedef struct {
    unsigned long bits[16];
} fusecheck_cpu_mask;

/// The calling thread's allowed CPUs; returns 0 on success, -1 on failure (mask left empty).
static inline int fusecheck_get_affinity(fusecheck_cpu_mask *mask) {
    for (int i = 0; i < 16; i++) mask->bits[i] = 0;
    return syscall(SYS_sched_getaffinity, 0, sizeof mask->bits, mask->bits) < 0 ? -1 : 0;
}

/// Restricts the calling thread to `mask`; returns 0 on success, -1 when refused.
static inline int fusecheck_set_affinity(const fusecheck_cpu_mask *mask) {
    return syscall(SYS_sched_setaffinity, 0, sizeof mask->bits, mask->bits) < 0 ? -1 : 0;
}

/// The calling thread's kernel thread id (gettid).
static inline int fusecheck_thread_id(void) {
    return (int)syscall(SYS_gettid);
}

/// Thread `tid`'s allowed CPUs; returns 0 on success, -1 on failure (mask left empty).
static inline int fusecheck_get_thread_affinity(int tid, fusecheck_cpu_mask *mask) {
    for (int i = 0; i < 16; i++) mask->bits[i] = 0;
    return syscall(SYS_sched_getaffinity, tid, sizeof mask->bits, mask->bits) < 0 ? -1 : 0;
}

/// Restricts thread `tid` of this process to `mask` (the kernel moves it to an allowed CPU, even
/// while it sleeps); returns 0 on success, -1 when refused.
static inline int fusecheck_set_thread_affinity(int tid, const fusecheck_cpu_mask *mask) {
    return syscall(SYS_sched_setaffinity, tid, sizeof mask->bits, mask->bits) < 0 ? -1 : 0;
}

/// Whether CPU `cpu` (0..1023) is in `mask`.
static inline int fusecheck_mask_has(const fusecheck_cpu_mask *mask, int cpu) {
    return cpu >= 0 && cpu < 1024 && ((mask->bits[cpu / 64] >> (cpu % 64)) & 1UL);
}

/// The mask holding `cpu` (0..1023) alone.
static inline fusecheck_cpu_mask fusecheck_mask_of(int cpu) {
    fusecheck_cpu_mask mask = {{0}};
    if (cpu >= 0 && cpu < 1024) mask.bits[cpu / 64] = 1UL << (cpu % 64);
    return mask;
}

/// mallopt(M_MMAP_THRESHOLD, threshold) and mallopt(M_TRIM_THRESHOLD, trim); 1 when both took.
static inline int fusecheck_set_malloc_thresholds(int threshold, int trim) {
    return mallopt(M_MMAP_THRESHOLD, threshold) && mallopt(M_TRIM_THRESHOLD, trim);
}

/// Asks the hardware to bring the cache line holding `address` into L2 (prefetcht1 on x86), without
/// waiting for it. A hint: it never faults, and does nothing on an invalid address.
static inline void fusecheck_prefetch_l2(const void *address) {
    __builtin_prefetch(address, 0, 2);
}

/// Asks for a pipe buffer of `size` bytes (fcntl F_SETPIPE_SZ, 1031 on Linux, a GNU extension);
/// returns the size granted, or -1 when refused (an unprivileged user asking past
/// /proc/sys/fs/pipe-max-size).
static inline int fusecheck_set_pipe_size(int fd, int size) {
    return fcntl(fd, 1031, size);
}

/// A file descriptor that becomes readable when process `pid` (a child of the caller) exits,
/// without reaping it (pidfd_open(2), Linux 5.3); -1 where the kernel lacks it.
static inline int fusecheck_pidfd_open(int pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    return -1;
#endif
}

#endif
