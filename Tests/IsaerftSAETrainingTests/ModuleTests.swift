import XCTest
@testable import IsaerftSAETraining

final class IsaerftSAETrainingModuleTests: XCTestCase {
    func testModuleLinks() { XCTAssertNotNil(IsaerftSAETraining.self as Any.Type?) }
}
