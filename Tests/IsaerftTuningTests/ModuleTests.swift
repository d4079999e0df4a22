import XCTest
@testable import IsaerftTuning

final class IsaerftTuningModuleTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(IsaerftTuning.self as Any.Type?) }
}
