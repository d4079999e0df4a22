import XCTest
@testable import IsaerftRuns

final class IsaerftRunsModuleTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(IsaerftRuns.self as Any.Type?) }
}
