import Foundation

/// A file read in bounded pieces.
///
/// What a backend writes is untrusted: a sparse `output.npy` of 20 GB costs nothing to create,
/// and reading it whole (`Data(contentsOf:)`) takes the harness down. Every read here says how
/// many bytes it wants at most, so a file costs the harness only the bytes it needs from it.
final class BoundedFile {
    private let descriptor: Int32

    /// Opens `path` for reading; nil if it cannot be opened.
    init?(path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The file's size, if it is a regular file.
    var size: Int? {
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(status.st_size)
    }

    /// Up to `count` bytes from the current position: fewer only at the end of the file; nil on a
    /// read error.
    func read(upToCount count: Int) -> [UInt8]? {
        // A regular file is not asked for more than it has left, so that a header claiming gigabytes
        // of data in a short file costs no gigabyte buffer.
        var wanted = count
        if let size, case let position = lseek(descriptor, 0, SEEK_CUR), position >= 0 {
            wanted = min(count, max(size - Int(position), 0))
        }
        guard wanted > 0 else { return [] }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialized in
            initialized = 0
            while initialized < wanted {
                let got = Glibc.read(descriptor, buffer.baseAddress! + initialized, wanted - initialized)
                if got < 0 && errno == EINTR { continue }
                if got < 0 { failed = true }
                if got <= 0 { break }
                initialized += got
            }
        }
        return failed ? nil : bytes
    }

    /// The whole file if it holds at most `limit` bytes; `.tooLarge` after reading only `limit + 1`
    /// bytes otherwise; nil if it cannot be read.
    static func contents(atPath path: String, limit: Int) -> Contents? {
        guard let file = BoundedFile(path: path), let bytes = file.read(upToCount: limit + 1) else { return nil }
        return bytes.count > limit ? .tooLarge : .complete(bytes)
    }

    /// A file read up to a limit.
    enum Contents: Equatable {
        /// All of the file.
        case complete([UInt8])
        /// The file is longer than the limit.
        case tooLarge
    }
}
