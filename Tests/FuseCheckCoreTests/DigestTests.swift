import Testing
@testable import FuseCheckCore

@Suite("Digest: XXH3-128 from libxxhash")
struct DigestTests {
    @Test("the empty input hashes to the published XXH3-128 vector")
    func emptyInput() {
        #expect(Digest(bytes: []).hex == "99aa06d3014798d86001c324468d497f")
    }
}
