import CLinux
import Testing

/// The malloc settings `fusecheck` makes at start (`ProcessTuning.keepFreedMemory`, in the
/// command-line target: process-wide policy is the program's, not the libraries').
@Suite("Process tuning")
struct ProcessTuningTests {
    @Test("glibc takes both malloc settings")
    func keepFreedMemory() {
        #expect(fusecheck_set_malloc_thresholds(32 << 20, 256 << 20) != 0)
    }
}
