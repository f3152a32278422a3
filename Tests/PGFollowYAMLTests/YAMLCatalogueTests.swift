import PGFollowCore
import Testing

@testable import PGFollowYAML

/// Bad or unusual application files: an exact outcome for each.
@Suite struct YAMLCatalogueTests {
  private func plan(_ text: String, _ path: String, _ value: String) throws -> YAMLEditPlan {
    try planYAMLEdits(
      Array(text.utf8), edits: [YAMLEdit(path: try YAMLPath(parsing: path), value: value)],
      file: "app.yaml")
  }

  @Test func deepNestingIsEditedInPlace() throws {
    let depth = 200
    var text = ""
    for level in 0..<depth { text += String(repeating: "  ", count: level) + "k:\n" }
    text += String(repeating: "  ", count: depth) + "address: db01\n"
    let path = Array(repeating: "k", count: depth).joined(separator: ".") + ".address"
    let result = try plan(text, path, "db02")
    #expect(String(decoding: result.updated, as: UTF8.self) == text.replacing("db01", with: "db02"))
  }

  @Test func veryLongLinesAndLargeFilesKeepEveryOtherByte() throws {
    let long = String(repeating: "é", count: 100_000)
    var text = "comment: \"\(long)\"\naddress: db01  # after a long line\n"
    for index in 0..<60_000 { text += "key\(index): value \(index)  # filler\n" }
    #expect(text.utf8.count > 2_000_000)
    let result = try plan(text, "address", "db02")
    #expect(result.updated == Array(text.replacing("address: db01", with: "address: db02").utf8))
  }

  @Test func targetCarryingAnAnchorKeepsItAndItsAliasesFollow() throws {
    let text = "primary: &p db01\nreplica: *p\n"
    let result = try plan(text, "primary", "db02")
    #expect(String(decoding: result.updated, as: UTF8.self) == "primary: &p db02\nreplica: *p\n")
  }

  @Test func tabsInIndentationAreAnErrorWithThePlace() {
    #expect(throws: YAMLError.self) { try plan("a:\n\tb: 1\n", "a", "x") }
    do {
      _ = try plan("a:\n\tb: 1\n", "a", "x")
    } catch let error as YAMLError {
      #expect(error.mark?.line == 2)
    } catch {
      Issue.record("unexpected \(error)")
    }
  }

  @Test func utf16IsRefused() {
    let bytes: [UInt8] = [0xFF, 0xFE, 0x61, 0x00]
    #expect(throws: YAMLError.self) {
      try planYAMLEdits(bytes, edits: [], file: "app.yaml")
    }
  }

  @Test func aTargetThatIsAMappingOrSequenceIsNamed() {
    do {
      _ = try plan("a: {b: 1}\n", "a", "x")
      Issue.record("expected an error")
    } catch {
      #expect("\(error)" == "app.yaml:1:4: a is a mapping, not a scalar")
    }
  }
}
