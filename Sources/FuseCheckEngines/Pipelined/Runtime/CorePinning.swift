import Foundation
import Synchronization

/// Whether the pipelined engine's compute stages run pinned to the first allowed CPUs while they
/// hold a core (`ComputeCores`). On by default: unpinned, the scheduler often queued both stages
/// on one CPU. Off for hosts where other processes own those CPUs (a CI runner sharing a machine,
/// a job confined by a launcher to a few cores it does not own alone): `FUSECHECK_PIN=off` (or
/// `0`, `no`, `false`), `fusecheck bench --no-pin`, or `CorePinning.isEnabled = false` before the
/// first call. Results never depend on it, only the timing.
public enum CorePinning {
    /// The environment variable that turns pinning off.
    public static let environmentVariable = "FUSECHECK_PIN"

    private static let enabled = Atomic<Bool>(defaultSetting(ProcessInfo.processInfo.environment))

    /// The setting an environment gives: on unless the variable says off.
    public static func defaultSetting(_ environment: [String: String]) -> Bool {
        guard let value = environment[environmentVariable]?.lowercased() else { return true }
        return !["off", "0", "no", "false"].contains(value)
    }

    /// Whether engines created from now on pin their compute stages.
    public static var isEnabled: Bool {
        get { enabled.load(ordering: .relaxed) }
        set { enabled.store(newValue, ordering: .relaxed) }
    }
}
