#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// A run stopped by SIGINT or SIGTERM: the first signal asks the harness to stop sending cases,
/// kill the backends it started, remove their scratch folders and write the report of the cases
/// done; a second one ends the process at once.
///
/// The handler only does what is async-signal-safe: it stores the signal number in an atomic and
/// writes one byte to a self-pipe. Whatever waits on a backend polls the pipe's read end
/// (`wakeDescriptor`), so a wait of up to the per-case timeout ends at once; loops over cases
/// ask `isRequested` before each case. The pipe is never drained: it stays readable, so every
/// waiter sees the request.
public enum Interruption {
    /// The signal that asked for the stop, 0 while none has.
    private static let received = Atomic<Int32>(0)
    /// The self-pipe: read end polled by waiters, write end written by the handler.
    private static let pipeEnds = Atomic<Int64>(-1)

    /// Installs the handlers for SIGINT and SIGTERM (once; later calls do nothing).
    public static func install() {
        guard pipeEnds.load(ordering: .acquiring) < 0 else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        _ = received.load(ordering: .relaxed)  // initialize the global before any handler runs
        pipeEnds.store(Int64(fds[0]) << 32 | Int64(fds[1]), ordering: .releasing)
        // A parent may have started the harness with these signals blocked (Foundation's Process
        // passes its mask on): unblock them, or the handlers would never run.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in [SIGINT, SIGTERM] {
            sigaddset(&unblock, number)
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in Interruption.handle(number) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0  // no SA_RESTART: a blocking call returns EINTR
            sigaction(number, &action, nil)
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    private static func handle(_ number: Int32) {
        let (first, _) = received.compareExchange(expected: 0, desired: number, ordering: .sequentiallyConsistent)
        guard first else { _exit(128 + number) }
        let ends = pipeEnds.load(ordering: .acquiring)
        if ends >= 0 {
            var byte: UInt8 = 1
            _ = write(Int32(truncatingIfNeeded: ends), &byte, 1)
        }
    }

    /// Whether a stop was asked for.
    public static var isRequested: Bool { received.load(ordering: .relaxed) != 0 }

    /// The signal that asked for the stop, if any.
    public static var signal: Int32? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// The name of the signal that asked for the stop (`SIGINT`, `SIGTERM`), if any.
    public static var signalName: String? {
        signal.map { $0 == SIGINT ? "SIGINT" : $0 == SIGTERM ? "SIGTERM" : "signal \($0)" }
    }

    /// The exit status for a run stopped by `signal`: 128 plus its number (130 for SIGINT, 143
    /// for SIGTERM).
    public static var exitStatus: Int32? { signal.map { 128 + $0 } }

    /// The descriptor that becomes readable once a stop is asked for; nil before `install()`.
    package static var wakeDescriptor: Int32? {
        let ends = pipeEnds.load(ordering: .acquiring)
        return ends < 0 ? nil : Int32(truncatingIfNeeded: ends >> 32)
    }
}
