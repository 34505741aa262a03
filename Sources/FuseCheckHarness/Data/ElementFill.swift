import FuseCheckCore
import FuseCheckEngines

/// One tensor's elements being drawn into its buffer: element i's value comes from i alone (from
/// its words 4i to 4i + 2, or 12i to 12i + 11 for the normal mode), and one pass then rounds every
/// element to the dtype
/// (`RandomStreams.round`): the type is not switched on per element. Measured on the fuzzer's
/// stream, generation was 17% of its CPU with a rounding call and scalar words per element.
struct ElementFill {
    /// Exactly the tensor's elements.
    let buffer: UnsafeMutableBufferPointer<Float>
    let stream: CounterRNG
    let dtype: DType

    /// Element i's first word: four words per element.
    @inline(__always)
    static func index(_ i: Int) -> UInt64 { UInt64(i) &* 4 }

    /// Every element from its index, then rounded.
    @inline(__always)
    func fill(_ value: (Int) -> Float) {
        for i in buffer.indices { buffer[i] = value(i) }
        RandomStreams.round(buffer, to: dtype)
    }

    /// Element i from its words 4i, 4i + 1 and 4i + 2 (the first `wordCount` of them, the others
    /// 0), drawn in bulk per chunk of elements (`RandomStreams.words`, vectorized), then rounded.
    /// `value` sees the elements in order, once each.
    @inline(__always)
    func fillWords(_ wordCount: Int, _ value: (UInt64, UInt64, UInt64) -> Float) {
        let count = buffer.count
        let chunk = min(count, 2048)
        var words = [UInt64](repeating: 0, count: 3 * chunk)
        words.withUnsafeMutableBufferPointer { words in
            var start = 0
            while start < count {
                let n = min(chunk, count - start)
                for j in 0..<wordCount {
                    let part = UnsafeMutableBufferPointer(rebasing: words[(j * chunk)..<(j * chunk + n)])
                    RandomStreams.words(key: stream.key, first: Self.index(start) &+ UInt64(j), step: 4, into: part)
                }
                for i in 0..<n {
                    buffer[start + i] = value(words[i], words[chunk + i], words[2 * chunk + i])
                }
                start += n
            }
        }
        RandomStreams.round(buffer, to: dtype)
    }

    /// The uniform mode: 2 * unit(4i) - 1 (vectorized), rounded.
    func uniform() {
        RandomStreams.uniform(key: stream.key, first: 0, step: 4, into: buffer)
        RandomStreams.round(buffer, to: dtype)
    }

    /// The normal mode (`InputGenerator.normal(stream:element:)`, vectorized), rounded.
    func normal() {
        RandomStreams.normal(key: stream.key, firstElement: 0, into: buffer)
        RandomStreams.round(buffer, to: dtype)
    }
}
