import Foundation

/// The process's peak resident set size (Linux `VmHWM`), which can be reset so that each
/// benchmark row reports its own peak.
enum PeakMemory {
    /// Resets the peak to the current resident size (`echo 5 > /proc/self/clear_refs`, Linux 4.0+).
    static func reset() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// The peak resident size in MiB since the last reset, or nil where /proc is unavailable.
    static func mebibytes() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kibibytes = Double(fields[1]) { return kibibytes / 1024 }
        }
        return nil
    }
}
