import Foundation
import PGFollowFuzzing
import Testing

/// Every seed and every input a fuzzer once failed on, checked against the fuzzing properties
/// on each test run (the fuzzers themselves run from scripts/fuzz).
@Suite struct FuzzRegressionTests {
  static let fuzzDirectory = URL(filePath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appending(path: "Fuzz")

  static func inputs(_ target: String) -> [URL] {
    ["corpus", "regressions"].flatMap { kind in
      let directory = fuzzDirectory.appending(path: "\(kind)/\(target)")
      let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
      return names.sorted().map { directory.appending(path: $0) }
    }
  }

  @Test func thereAreSeedsAndRegressions() {
    #expect(Self.inputs("yaml-editor").count >= 10)
    #expect(Self.inputs("config-reader").count >= 3)
  }

  @Test(arguments: inputs("yaml-editor"))
  func yamlEditorInput(_ file: URL) throws {
    let data = Array(try Data(contentsOf: file))
    #expect(throws: Never.self) { try checkYAMLEditProperty(data) }
  }

  @Test(arguments: inputs("config-reader"))
  func configReaderInput(_ file: URL) throws {
    let data = Array(try Data(contentsOf: file))
    #expect(throws: Never.self) { try checkConfigReaderProperty(data) }
  }

  /// The properties can fail: a violation is an error the test records, with what shows it.
  @Test func aViolationIsReportedWithItsEvidence() {
    let thrown = #expect(throws: PropertyViolation.self) {
      try ensure(1 + 1 == 3, "arithmetic")
    }
    #expect(thrown?.description == "property violated: arithmetic")
  }
}
