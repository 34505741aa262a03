/// A span of Float storage written by several stage threads, each into regions no other thread
/// writes, and read only after the region was published on a `ChunkBoard` (or after every
/// thread has finished). Those two rules are the whole of its thread safety.
struct SharedFloats: @unchecked Sendable {
    /// The first element.
    let base: UnsafeMutablePointer<Float>
    /// Number of elements.
    let count: Int
}
