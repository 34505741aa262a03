#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A child process running `/bin/sh -c COMMAND` in a process group of its own, with its standard
/// input, output and error on pipes, read with deadlines (poll(2)) so that a silent child never
/// blocks the harness.
///
/// Every system call of the subprocess backend is made here. The child gets default signal
/// dispositions and an empty signal mask (the harness ignores SIGPIPE, and ignored signals
/// would otherwise be inherited across exec). Killing the child kills its whole process group,
/// so a shell wrapper's or `mpirun`'s children go with it.
final class ChildProcess {
    /// The child's pid, which is also its process group id.
    let pid: pid_t
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var stderrFD: Int32
    /// Bytes read from stdout that do not yet form a full line.
    private var stdoutBuffer: [UInt8] = []
    /// Whether stdout has reached end of file.
    private(set) var stdoutClosed = false
    /// The wait status once the child has been reaped.
    private(set) var exitStatus: Int32?

    /// Ignores SIGPIPE in the harness once, so that writing to a dead child is an EPIPE error
    /// instead of the harness's death.
    private static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Starts `/bin/sh -c command` with `environment` (`KEY=VALUE` strings).
    init(command: String, environment: [String]) throws(ChildProcessError) {
        _ = Self.ignoreBrokenPipes
        (pid, stdinFD, stdoutFD, stderrFD) = try Self.spawnLock.withLock { _ throws(ChildProcessError) in
            try Self.spawn(command: command, environment: environment)
        }
        for fd in [stdinFD, stdoutFD, stderrFD] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
    }

    /// Held while pipes are made and a child is spawned, so that no other child started here
    /// inherits a pipe end before it is marked close-on-exec.
    private static let spawnLock = Mutex(())

    /// Spawns the child; returns its pid and the harness's ends of its stdin, stdout and stderr.
    private static func spawn(command: String, environment: [String]) throws(ChildProcessError)
        -> (pid_t, Int32, Int32, Int32) {
        let stdinPipe = try Self.makePipe()
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stdoutPipe = try Self.makePipe()
        } catch {
            close(stdinPipe.read); close(stdinPipe.write)
            throw error
        }
        do {
            stderrPipe = try Self.makePipe()
        } catch {
            close(stdinPipe.read); close(stdinPipe.write); close(stdoutPipe.read); close(stdoutPipe.write)
            throw error
        }
        let childEnds = [stdinPipe.read, stdoutPipe.write, stderrPipe.write]
        defer { childEnds.forEach { close($0) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // The pipes are close-on-exec; dup2 onto 0, 1, 2 clears that flag on the copies.
        posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
                                                     | POSIX_SPAWN_SETPGROUP))

        let arguments = ["/bin/sh", "-c", command]
        var childPID: pid_t = 0
        let result = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&childPID, "/bin/sh", &actions, &attributes, argv, envp)
            }
        }
        guard result == 0 else {
            [stdinPipe.write, stdoutPipe.read, stderrPipe.read].forEach { close($0) }
            throw ChildProcessError("cannot start /bin/sh -c \(command): \(String(cString: strerror(result)))")
        }
        return (childPID, stdinPipe.write, stdoutPipe.read, stderrPipe.read)
    }

    deinit { terminate() }

    private static func makePipe() throws(ChildProcessError) -> (read: Int32, write: Int32) {
        // pipe2(O_CLOEXEC) is not visible without _GNU_SOURCE; `spawnLock` closes the window
        // between pipe and fcntl for children started by this type.
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw ChildProcessError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    // MARK: - Talking

    /// Writes `bytes` to the child's stdin before `deadline`. False if the child closed its
    /// stdin (it died) or the deadline passed.
    func send(_ bytes: [UInt8], before deadline: ContinuousClock.Instant) -> Bool {
        guard stdinFD >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                write(stdinFD, buffer.baseAddress, buffer.count)
            }
            if written > 0 {
                offset += written
                continue
            }
            guard written < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return false }
            var pollFD = pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)
            let milliseconds = Self.milliseconds(until: deadline)
            guard milliseconds > 0 else { return false }
            _ = poll(&pollFD, 1, milliseconds)
        }
        return true
    }

    /// The result of waiting for a line.
    enum LineResult: Equatable {
        /// A full line, without its newline.
        case line([UInt8])
        /// stdout reached end of file; the bytes of an unterminated last line, if any.
        case endOfFile([UInt8])
        /// The deadline passed.
        case timedOut
        /// More than `limit` bytes without a newline.
        case overlong
    }

    /// Waits for the next line on stdout until `deadline`, meanwhile handing everything the
    /// child writes to stderr to `stderr` (so that a chatty child never blocks on a full pipe).
    func readLine(before deadline: ContinuousClock.Instant, limit: Int, stderr: (ArraySlice<UInt8>) -> Void) -> LineResult {
        while true {
            if let newline = stdoutBuffer.firstIndex(of: 0x0A) {
                let line = Array(stdoutBuffer[..<newline])
                stdoutBuffer.removeSubrange(...newline)
                return .line(line)
            }
            if stdoutBuffer.count > limit { return .overlong }
            if stdoutClosed {
                drainStderr(stderr)
                let rest = stdoutBuffer
                stdoutBuffer = []
                return .endOfFile(rest)
            }
            let milliseconds = Self.milliseconds(until: deadline)
            guard milliseconds > 0 else { return .timedOut }
            var pollFDs = [pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)]
            if stderrFD >= 0 { pollFDs.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&pollFDs, nfds_t(pollFDs.count), milliseconds)
            if ready < 0 && errno != EINTR { return .timedOut }
            if pollFDs.count > 1 && pollFDs[1].revents != 0 { drainStderr(stderr) }
            if pollFDs[0].revents != 0 { readAvailableStdout() }
        }
    }

    /// Whether bytes are waiting on stdout right now (output the harness did not ask for).
    func hasPendingOutput() -> Bool {
        if !stdoutBuffer.isEmpty { return true }
        guard !stdoutClosed else { return false }
        var pollFD = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
        guard poll(&pollFD, 1, 0) > 0 else { return false }
        readAvailableStdout()
        return !stdoutBuffer.isEmpty
    }

    /// Everything waiting on stdout right now, without waiting for a newline.
    func takePendingOutput() -> [UInt8] {
        _ = hasPendingOutput()
        let bytes = stdoutBuffer
        stdoutBuffer = []
        return bytes
    }

    /// Hands whatever is waiting on stderr to `sink`, without blocking.
    func drainStderr(_ sink: (ArraySlice<UInt8>) -> Void) {
        guard stderrFD >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(stderrFD, $0.baseAddress, $0.count) }
            if count > 0 {
                sink(chunk[..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                if count == 0 { close(stderrFD); stderrFD = -1 }  // end of file
                return
            }
        }
    }

    private func readAvailableStdout() {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if count > 0 {
                stdoutBuffer.append(contentsOf: chunk[..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                if count == 0 { stdoutClosed = true }
                return
            }
        }
    }

    // MARK: - Ending

    /// Closes the child's stdin (end of requests), gives it `grace` to exit on its own, then
    /// kills its process group and reaps it.
    func shutDown(grace: Duration) {
        closeStdin()
        let deadline = ContinuousClock.now + grace
        while !stdoutClosed && ContinuousClock.now < deadline {
            if case .timedOut = readLine(before: deadline, limit: Int.max, stderr: { _ in }) { break }
            stdoutBuffer = []
        }
        _ = reap(waitingUpTo: stdoutClosed ? grace : .zero)
        terminate()
    }

    /// Waits up to `timeout` for the child to exit by itself; true if it has been reaped.
    func reap(waitingUpTo timeout: Duration) -> Bool {
        if exitStatus != nil { return true }
        let deadline = ContinuousClock.now + timeout
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { exitStatus = status; return true }
            if result < 0 && errno != EINTR { exitStatus = -1; return true }  // not our child any more
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
    }

    /// Kills the child's whole process group with SIGKILL, reaps the child and closes every pipe.
    /// Safe to call more than once.
    func terminate() {
        if exitStatus == nil || !allClosed {
            // The group id stays reserved while the unreaped child (or any member) exists.
            _ = kill(-pid, SIGKILL)
        }
        if exitStatus == nil {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            exitStatus = status
        }
        closeStdin()
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1; stdoutClosed = true }
        if stderrFD >= 0 { close(stderrFD); stderrFD = -1 }
    }

    private var allClosed: Bool { stdinFD < 0 && stdoutFD < 0 && stderrFD < 0 }

    private func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// "exited with status 3", "killed by signal 9 (SIGKILL)", or "is still running".
    var exitDescription: String {
        guard let status = exitStatus else { return "is still running" }
        if status == -1 { return "has exited" }
        let signalNumber = status & 0x7F
        if signalNumber == 0 { return "exited with status \((status >> 8) & 0xFF)" }
        let name = strsignal(signalNumber).map { String(cString: $0) } ?? "signal \(signalNumber)"
        return "was killed by signal \(signalNumber) (\(name))"
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: total)
    }
}

/// The child process could not be started.
struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Calls `body` with a NULL-terminated C array of C strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers + [nil])
}
