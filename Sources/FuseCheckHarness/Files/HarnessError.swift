/// A harness-level failure (a file that cannot be read or written, a malformed corpus): reported
/// with exit code 2, never as a verdict on an implementation.
public struct HarnessError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the file and line where there is one.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
