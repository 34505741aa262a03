import CLinux

/// Process-wide settings for a harness process that runs thousands of calls.
enum ProcessTuning {
    /// Asks glibc's malloc to keep blocks of up to 32 MiB in the heap, and to keep up to 256 MiB
    /// of freed memory at the heap's top, instead of mapping each large block afresh and
    /// unmapping it when freed. Returns whether glibc took both settings.
    ///
    /// The engines' outputs (a gathered x1, a y2) are arrays of megabytes allocated per call. By
    /// default a block that size is a fresh `mmap`, so every call faulted its pages in again: up
    /// to 4,000 page faults and 10 ms of CPU per AllGatherMatmul benchmark call, about a
    /// fifth of the call, depending on what the process had freed before. Reused heap memory is
    /// already mapped, as memory from a framework's caching allocator is for a real kernel.
    @discardableResult
    static func keepFreedMemory() -> Bool {
        fusecheck_set_malloc_thresholds(32 << 20, 256 << 20) != 0
    }
}
