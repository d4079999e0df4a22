import XCTest
@testable import IsaerftAudit

final class IsaerftAuditModuleTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(IsaerftAudit.self as Any.Type?) }
}
