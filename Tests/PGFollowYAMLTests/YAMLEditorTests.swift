import PGFollowCore
import Testing

@testable import PGFollowYAML

private func edit(_ text: String, _ edits: [(String, String)]) throws -> String {
  let plan = try planYAMLEdits(
    Array(text.utf8),
    edits: try edits.map { YAMLEdit(path: try YAMLPath(parsing: $0.0), value: $0.1) },
    file: "app.yaml")
  return String(decoding: plan.updated, as: UTF8.self)
}

private func editError(_ text: String, _ path: String, _ value: String = "x") -> YAMLError? {
  do {
    _ = try edit(text, [(path, value)])
    return nil
  } catch let error as YAMLError {
    return error
  } catch {
    return nil
  }
}

@Suite struct YAMLEditorTests {
  @Test func keepsCommentsOrderAndOtherBytes() throws {
    let original = """
      # Application settings — edited by hand
      app_name: "shop"   # quoted on purpose

      db_master:
        - address: db01:5432   # the primary
          pool: 10
      db_slave:
        - {address: db01:5432, pool: 5}
      zzz: last
      """
    let expected = """
      # Application settings — edited by hand
      app_name: "shop"   # quoted on purpose

      db_master:
        - address: db02:5432   # the primary
          pool: 10
      db_slave:
        - {address: db03:5432, pool: 5}
      zzz: last
      """
    let result = try edit(
      original, [("db_master[0].address", "db02:5432"), ("db_slave[0].address", "db03:5432")])
    #expect(result == expected)
  }

  @Test func keepsQuotingStyle() throws {
    let original = "a: 'db01:5432'\nb: \"db01:5432\"\nc: db01:5432\n"
    let result = try edit(
      original, [("a", "it's db02"), ("b", "db02 \"x\""), ("c", "db02:5432")])
    #expect(result == "a: 'it''s db02'\nb: \"db02 \\\"x\\\"\"\nc: db02:5432\n")
  }

  @Test func anchorsAndAliasesStay() throws {
    let original = "master: &db db01:5432 # anchor\nslave: *db\nother: !!str &o db01\n"
    let result = try edit(original, [("master", "db02:5432"), ("other", "db02")])
    #expect(result == "master: &db db02:5432 # anchor\nslave: *db\nother: !!str &o 'db02'\n")
  }

  @Test func crlfAndByteOrderMarkAndMultibyte() throws {
    let original = "\u{FEFF}# 設定\r\nname: データベース\r\naddress: db01:5432\r\n"
    let result = try edit(original, [("address", "db02:5432")])
    #expect(result == "\u{FEFF}# 設定\r\nname: データベース\r\naddress: db02:5432\r\n")
  }

  @Test func multibyteBeforeTargetOnSameLine() throws {
    let original = "x: {名前: 値, address: db01}\n"
    let result = try edit(original, [("x.address", "ホスト")])
    #expect(result == "x: {名前: 値, address: ホスト}\n")
  }

  @Test func onlyFirstDocumentIsEdited() throws {
    let original = "---\naddress: db01\n...\n---\naddress: db01\n"
    let result = try edit(original, [("address", "db02")])
    #expect(result == "---\naddress: db02\n...\n---\naddress: db01\n")
  }

  @Test func valuesCannotInjectStructure() throws {
    let original = "address: db01\n"
    let hostile = "x\nevil: true # \"'"
    let result = try edit(original, [("address", hostile)])
    #expect(result == "address: \"x\\nevil: true # \\\"'\"\n")
    let events = try parseYAMLEvents(Array(result.utf8), file: "t")
    #expect(events.filter { $0.kind == .scalar }.map(\.value) == ["address", hostile])
  }

  @Test func plainValueThatWouldChangeTypeIsQuoted() throws {
    #expect(try edit("host: db01\n", [("host", "true")]) == "host: 'true'\n")
    #expect(try edit("host: db01\n", [("host", "10:30")]) == "host: '10:30'\n")
    #expect(try edit("port: 5432\n", [("port", "5433")]) == "port: 5433\n")
    #expect(try edit("host: db01\n", [("host", "")]) == "host: ''\n")
  }

  @Test func plainValueWithColonBeforeQuestionMarkIsQuotedInFlow() throws {
    #expect(try edit("a: {d: e}\n", [("a.d", "x :?")]) == "a: {d: 'x :?'}\n")
  }

  @Test func unchangedValuesWriteNothing() throws {
    let original = "a: db01 # c\n"
    let plan = try planYAMLEdits(
      Array(original.utf8), edits: [YAMLEdit(path: try YAMLPath(parsing: "a"), value: "db01")],
      file: "f")
    #expect(!plan.changesFile)
    #expect(plan.updated == Array(original.utf8))
  }

  @Test func multiLinePlainScalarBecomesOneLine() throws {
    let original = "a: first\n  second\nb: 1\n"
    #expect(try edit(original, [("a", "db02")]) == "a: db02\nb: 1\n")
  }

  @Test func errorsNameFileLineAndColumn() {
    #expect(
      editError("a:\n  b: 1\n", "a.c")?.description
        == "app.yaml:2:3: no key \"c\" in a")
    #expect(
      editError("a: &x {b: 1}\nc: *x\n", "c.b")?.description
        == "app.yaml:2:4: c is an alias (*x); a path cannot go through an alias")
    #expect(
      editError("a: 1\nb: *a1\n", "b")?.description.hasPrefix("app.yaml:2:4: found undefined alias")
        == true)
    #expect(
      editError("a: [1]\n", "a[3]")?.description
        == "app.yaml:1:4: index [3] is out of range: a has 1 item(s)")
    #expect(editError("a: |\n  x\n", "a")?.mark?.line == 1)
    #expect(editError("a: b\n\tc: d\n", "a") != nil)
    #expect(editError("", "a")?.description == "app.yaml: the file holds no YAML document")
    #expect(
      editError("a: 1\na: 2\n", "a")?.description
        == "app.yaml:2:1: duplicate key \"a\" in the document root (first at 1:1)")
  }

  @Test func invalidUTF8IsReportedWithPosition() {
    var bytes = Array("a: ok\nb: ".utf8)
    bytes += [0xFF, 0x0A]
    do {
      _ = try planYAMLEdits(bytes, edits: [], file: "f.yaml")
      Issue.record("expected an error")
    } catch {
      #expect(error.description.hasPrefix("f.yaml:2:4: cannot read the text"))
    }
  }

  @Test func diffShowsOnlyChangedLinesWithContext() throws {
    let original = (1...10).map { "k\($0): v\($0)" }.joined(separator: "\n") + "\n"
    let plan = try planYAMLEdits(
      Array(original.utf8), edits: [YAMLEdit(path: try YAMLPath(parsing: "k5"), value: "new")],
      file: "f")
    #expect(
      plan.unifiedDiff(oldLabel: "a", newLabel: "b") == """
        --- a
        +++ b
        @@ -2,7 +2,7 @@
         k2: v2
         k3: v3
         k4: v4
        -k5: v5
        +k5: new
         k6: v6
         k7: v7
         k8: v8

        """)
  }

  @Test func pathSyntax() throws {
    #expect(
      try YAMLPath(parsing: "db_master[0].address").components == [
        .key("db_master"), .index(0), .key("address"),
      ])
    #expect(try YAMLPath(parsing: "a[\"b.c\"]").components == [.key("a"), .key("b.c")])
    #expect(throws: YAMLPathSyntaxError.self) { try YAMLPath(parsing: "a..b") }
    #expect(throws: YAMLPathSyntaxError.self) { try YAMLPath(parsing: "a[x]") }
  }
}

/// Cases the YAML editor's fuzzer found (see Fuzz/regressions for the raw inputs).
@Suite struct YAMLEditorFuzzFindingTests {
  // An empty value is null, so a string goes in quoted.
  @Test func emptyValuesGetAValueAfterTheirIndicator() throws {
    #expect(try edit("a:\nb: x\n", [("a", "db2:5432")]) == "a: 'db2:5432'\nb: x\n")
    #expect(try edit("a:   # c\nb: x\n", [("a", "v")]) == "a: 'v'   # c\nb: x\n")
    #expect(try edit("- \n- x\n", [("[0]", "v")]) == "- 'v' \n- x\n")
    #expect(try edit("a: !!str\nb: x\n", [("a", "v")]) == "a: !!str 'v'\nb: x\n")
    #expect(try edit("a: &x\nb: *x\n", [("a", "v")]) == "a: &x 'v'\nb: *x\n")
    #expect(try edit("{a: , b: x}\n", [("a", "v")]) == "{a: 'v' , b: x}\n")
  }

  @Test func anEmptyValueWithoutAColonIsRefusedClearly() {
    let error = editError("? &k\n", "[\"\"]")
    #expect(error?.message == "[\"\"] has no written value to replace; write it as `key: value`")
  }

  @Test func aQuotedValueIsSeparatedFromAnAdjacentAnchor() throws {
    #expect(try edit("a: &x:b\n", [("a", "two\nlines")]) == "a: &x \"two\\nlines\"\n")
  }

  @Test func quotesAndIndicatorsBeforeCombiningMarksAreSeenAsBytes() throws {
    #expect(try edit("a: 'b'\n", [("a", "x'\u{304}y")]) == "a: 'x''\u{304}y'\n")
    #expect(try edit("a: b\n", [("a", "x: \u{304}y")]) == "a: 'x: \u{304}y'\n")
    #expect(try edit("a: b\n", [("a", "x #\u{304}y")]) == "a: 'x #\u{304}y'\n")
  }
}
