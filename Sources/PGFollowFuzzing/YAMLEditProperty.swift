import PGFollowCore
package import PGFollowYAML

/// The YAML editor's fuzzing property. The first two bytes of `data` choose the new value and
/// the targets; the rest is the document. Whenever the editor accepts an edit, a fresh parse of
/// its output yields the same events except the targeted scalars, which read back exactly, and
/// nothing outside a targeted scalar changed. A refusal must be one of the editor's clear errors,
/// never its last-resort check. Throws a description when the property does not hold.
package func checkYAMLEditProperty(_ data: [UInt8]) throws(PropertyViolation) {
  guard data.count >= 2 else { return }
  let document = Array(data.dropFirst(2))
  let events: [YAMLEvent]
  do {
    events = try parseYAMLEvents(document, file: "fuzz.yaml")
  } catch {
    try expectRefused(
      document, edits: [YAMLEdit(path: YAMLPath(components: [.key("a")]), value: "")])
    return
  }
  guard let root = parseYAMLDocuments(events).first else { return }
  let candidates = scalarPaths(in: root)
  guard !candidates.isEmpty else { return }
  let value = newValue(selector: data[0], document: document)
  var edits = [
    YAMLEdit(path: candidates[Int(data[1] & 0x7F) % candidates.count], value: value)
  ]
  if data[1] & 0x80 != 0 {
    let second = candidates[(Int(data[1] & 0x7F) / 3 + 1) % candidates.count]
    edits.append(YAMLEdit(path: second, value: String(value.reversed())))
  }
  let plan: YAMLEditPlan
  do {
    plan = try planYAMLEdits(document, edits: edits, file: "fuzz.yaml")
  } catch {
    try ensure(
      !isLastResortRefusal(error) || containsTab(document),
      "the editor's output failed its own check: \(error)")
    return
  }
  try checkAcceptedEdit(plan, edits: edits, events: events, root: root)
}

/// Paths from the document root to every scalar reachable without aliases.
func scalarPaths(in node: YAMLNode, at path: [YAMLPath.Component] = []) -> [YAMLPath] {
  switch node {
  case .scalar: return [YAMLPath(components: path)]
  case .alias: return []
  case .sequence(let items, _):
    return items.enumerated().flatMap { scalarPaths(in: $1, at: path + [.index($0)]) }
  case .mapping(let pairs, _):
    return pairs.flatMap { pair in
      pair.keyText.map { scalarPaths(in: pair.value, at: path + [.key($0)]) } ?? []
    }
  }
}

private let trickyValues = [
  "", "node2:5432", "true", "null", "~", "- x", "a: b", "#c", "a #c", "'q'", "\"dq\"",
  "two\nlines", "tab\there", "ünïcødé ✓", " lead", "trail ", "&anchor", "*alias", "{x}", "[y]",
  "%x", "@x", "`x", "!tag", "? k", "|", ">", "10:30", "0x1F", "1e3", ".inf", "\\", "x\u{85}y",
  "x\u{2028}y", "\u{FEFF}bom", "bell\u{7}", "nul\0", "...", "---", "x,y", "😀", "a'b\"c",
]

/// A value from the list, or (for selectors past its end) a piece of the document itself.
func newValue(selector: UInt8, document: [UInt8]) -> String {
  let index = Int(selector)
  if index < trickyValues.count { return trickyValues[index] }
  let start = min(document.count, index - trickyValues.count)
  return String(decoding: document[start..<min(document.count, start + 24)], as: UTF8.self)
}

private func isLastResortRefusal(_ error: YAMLError) -> Bool {
  error.message.hasPrefix("the edited text would not parse")
    || error.message.hasPrefix("the edit would change more than the targeted values")
}

/// Tabs are whitespace after a plain scalar but cannot start a line after a quoted one, so a
/// value that must be quoted may not fit; the editor then refuses, and that refusal is allowed.
private func containsTab(_ document: [UInt8]) -> Bool {
  document.contains(0x09)
}

private func expectRefused(_ document: [UInt8], edits: [YAMLEdit]) throws(PropertyViolation) {
  if let plan = try? planYAMLEdits(document, edits: edits, file: "fuzz.yaml") {
    try ensure(!plan.changesFile, "the editor changed a document that does not parse")
  }
}

private func checkAcceptedEdit(
  _ plan: YAMLEditPlan, edits: [YAMLEdit], events: [YAMLEvent], root: YAMLNode
) throws(PropertyViolation) {
  let reparsed: [YAMLEvent]
  do {
    reparsed = try parseYAMLEvents(plan.updated, file: "fuzz.yaml")
  } catch {
    throw violation("the edited document does not parse: \(error)", plan)
  }
  var targeted: [Int: String] = [:]
  for edit in edits {
    guard let scalar = try? root.scalar(at: edit.path, file: "fuzz.yaml") else {
      throw violation("the editor accepted \(edit.path), which does not name a scalar", plan)
    }
    targeted[scalar.info.eventIndex] = edit.value
  }
  try ensure(reparsed.count == events.count, "the number of events changed", plan)
  for (index, (old, new)) in zip(events, reparsed).enumerated() {
    let value = targeted[index] ?? old.value
    let same = old.kind == new.kind && new.value == value && old.anchor == new.anchor
    try ensure(same && old.tag == new.tag, "event \(index) differs: \(old) vs \(new)", plan)
  }
  let paths = edits.map(\.path)
  let values = try? readYAMLValues(plan.updated, paths: paths, file: "fuzz.yaml")
  try ensure(values == edits.map(\.value), "the new values do not read back", plan)
  let again = try? planYAMLEdits(plan.updated, edits: edits, file: "fuzz.yaml")
  try ensure(again?.changesFile == false, "editing the edited document changes it again", plan)
  try checkOnlyTargetsChanged(plan, targeted: Array(targeted.keys), old: events, new: reparsed)
}

/// Outside the targeted scalars (with their anchors and tags) the text is the same: removing
/// them from the old and the new text leaves equal texts. A value that was empty gains the
/// space that separates it from its `:`.
private func checkOnlyTargetsChanged(
  _ plan: YAMLEditPlan, targeted: [Int], old oldEvents: [YAMLEvent], new newEvents: [YAMLEvent]
) throws(PropertyViolation) {
  var oldRest = characters(plan.original)
  var newRest = characters(plan.updated)
  var removed: [String] = []
  for index in targeted.sorted(by: >) {
    let old = oldEvents[index]
    let new = newEvents[index]
    var newStart = new.start.index
    if old.start.index == old.end.index, new.start.index < new.end.index, newStart > 0,
      newRest[newStart - 1] == " "
    {
      newStart -= 1
    }
    oldRest.removeSubrange(old.start.index..<old.end.index)
    newRest.removeSubrange(newStart..<new.end.index)
    removed.append("\(old.start.index)..<\(old.end.index) and \(newStart)..<\(new.end.index)")
  }
  try ensure(
    oldRest == newRest,
    "text outside the targeted values changed (removed \(removed.joined(separator: ", ")))", plan)
}

/// The text as libyaml counts it: Unicode scalars, without a leading byte-order mark.
private func characters(_ bytes: [UInt8]) -> [Unicode.Scalar] {
  let scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
  return scalars.first == "\u{FEFF}" ? Array(scalars.dropFirst()) : scalars
}

/// A fuzzing property that does not hold, with what shows it.
package struct PropertyViolation: Error, CustomStringConvertible {
  package var description: String
}

package func ensure(
  _ condition: Bool, _ message: @autoclosure () -> String, _ plan: YAMLEditPlan? = nil
)
  throws(PropertyViolation)
{
  if !condition { throw violation(message(), plan) }
}

func violation(_ message: String, _ plan: YAMLEditPlan? = nil) -> PropertyViolation {
  var text = "property violated: " + message
  if let plan {
    text += "\n--- before\n" + String(decoding: plan.original, as: UTF8.self)
    text += "\n--- after\n" + String(decoding: plan.updated, as: UTF8.self)
  }
  return PropertyViolation(description: text)
}
