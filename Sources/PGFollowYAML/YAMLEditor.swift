package import PGFollowCore

/// One scalar whose value an edit changes.
package struct YAMLChange: Sendable, Equatable {
  package var path: YAMLPath
  package var oldValue: String
  package var newValue: String
  package var mark: YAMLMark
}

/// A byte range of the original replaced by new bytes.
struct Splice: Sendable {
  var range: Range<Int>
  var replacement: [UInt8]
}

/// The result of planning edits: the new bytes, verified, and what changed.
package struct YAMLEditPlan: Sendable {
  package let original: [UInt8]
  package let updated: [UInt8]
  package let changes: [YAMLChange]
  let splices: [Splice]

  package var changesFile: Bool { !changes.isEmpty }
}

/// Plans edits on the first document of a YAML text, changing only the bytes of the targeted
/// scalars. The result is parsed again and checked to differ in exactly those values.
package func planYAMLEdits(_ bytes: [UInt8], edits: [YAMLEdit], file: String) throws(YAMLError)
  -> YAMLEditPlan
{
  let events = try parseYAMLEvents(bytes, file: file)
  try checkAliases(events, file: file)
  guard let document = parseYAMLDocuments(events).first else {
    throw YAMLError(file: file, mark: nil, message: "the file holds no YAML document")
  }
  let targets = try resolveTargets(edits, in: document, file: file)
  let pending = targets.filter { $0.scalar.value != $0.edit.value }
  if pending.isEmpty {
    return YAMLEditPlan(original: bytes, updated: bytes, changes: [], splices: [])
  }
  let splices = try makeSplices(pending, bytes: bytes, file: file)
  let updated = applySplices(splices, to: bytes)
  try verify(updated, against: events, targets: targets, file: file)
  let changes = pending.map {
    YAMLChange(
      path: $0.edit.path, oldValue: $0.scalar.value, newValue: $0.edit.value,
      mark: $0.scalar.info.start)
  }
  return YAMLEditPlan(original: bytes, updated: updated, changes: changes, splices: splices)
}

private struct Target {
  var edit: YAMLEdit
  var scalar: YAMLScalar
}

private func resolveTargets(_ edits: [YAMLEdit], in document: YAMLNode, file: String)
  throws(YAMLError) -> [Target]
{
  var byEvent: [Int: Target] = [:]
  var targets: [Target] = []
  for edit in edits {
    let scalar = try document.scalar(at: edit.path, file: file)
    if scalar.style == .literal || scalar.style == .folded {
      throw YAMLError(
        file: file, mark: scalar.info.start,
        message: "\(edit.path) is a block scalar (| or >); make it a plain or quoted scalar")
    }
    if let other = byEvent[scalar.info.eventIndex] {
      if other.edit.value == edit.value { continue }
      throw YAMLError(
        file: file, mark: scalar.info.start,
        message: "\(other.edit.path) and \(edit.path) name the same value but set it differently")
    }
    let target = Target(edit: edit, scalar: scalar)
    byEvent[scalar.info.eventIndex] = target
    targets.append(target)
  }
  return targets
}

private func makeSplices(_ targets: [Target], bytes: [UInt8], file: String) throws(YAMLError)
  -> [Splice]
{
  let needsTokens = targets.contains {
    $0.scalar.info.anchor != nil || $0.scalar.info.tag != nil || isEmptyPlain($0.scalar)
  }
  let tokens = needsTokens ? scanYAMLTokens(bytes) : []
  var places: [(range: Range<Int>, separated: Bool)] = []
  for target in targets {
    places.append(try place(of: target, tokens: tokens, file: file))
  }
  let offsets = byteOffsets(
    ofCharacters: places.flatMap { [$0.range.lowerBound, $0.range.upperBound] }, in: bytes)
  var splices: [Splice] = []
  for (target, place) in zip(targets, places) {
    guard let start = offsets[place.range.lowerBound], let end = offsets[place.range.upperBound]
    else {
      throw YAMLError(
        file: file, mark: target.scalar.info.start,
        message: "the scalar lies past the end of the file")
    }
    let text = YAMLScalarWriter.render(target.edit.value, replacing: target.scalar)
    splices.append(
      Splice(range: start..<end, replacement: Array(((place.separated ? " " : "") + text).utf8)))
  }
  return
    splices
    .sorted { $0.range.lowerBound < $1.range.lowerBound }
}

/// A value written as nothing at all, like `host:` at the end of a line.
private func isEmptyPlain(_ scalar: YAMLScalar) -> Bool {
  scalar.style == .plain && scalar.value.isEmpty
}

/// The characters to replace: the scalar's own token (not its anchor or tag); for an empty value,
/// the place right after the `:`, `-`, anchor or tag it follows. `separated` when the new text
/// needs a space before it, where nothing or an adjacent anchor or tag precedes it.
private func place(of target: Target, tokens: [YAMLTokenSpan], file: String)
  throws(YAMLError) -> (range: Range<Int>, separated: Bool)
{
  let info = target.scalar.info
  guard isEmptyPlain(target.scalar) else {
    guard let token = tokens.first(where: { $0.kind == .scalar && $0.end == info.end.index })
    else { return (info.start.index..<info.end.index, false) }
    let adjacent = tokens.contains { [.anchor, .tag].contains($0.kind) && $0.end == token.start }
    return (token.start..<info.end.index, adjacent)
  }
  // The value's own anchor or tag, else the indicator that introduces it.
  let decorated = info.start.index < info.end.index
  let followable: [YAMLTokenSpan.Kind] =
    decorated ? [.anchor, .tag] : [.value, .blockEntry, .documentStart]
  let before = tokens.last { $0.start < $0.end && $0.end <= info.end.index }
  guard let before, followable.contains(before.kind), before.start >= info.start.index || !decorated
  else {
    throw YAMLError(
      file: file, mark: info.start,
      message: "\(target.edit.path) has no written value to replace; write it as `key: value`")
  }
  return (before.end..<before.end, true)
}

/// Maps libyaml character indices to UTF-8 byte offsets; a leading byte-order mark is not counted.
func byteOffsets(ofCharacters indices: [Int], in bytes: [UInt8]) -> [Int: Int] {
  var wanted = Set(indices).sorted()[...]
  var result: [Int: Int] = [:]
  var offset = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
  var character = 0
  while let next = wanted.first {
    if character == next {
      result[next] = offset
      wanted.removeFirst()
      continue
    }
    guard offset < bytes.count else { break }
    offset += 1
    while offset < bytes.count, bytes[offset] & 0xC0 == 0x80 { offset += 1 }
    character += 1
  }
  return result
}

func applySplices(_ splices: [Splice], to bytes: [UInt8]) -> [UInt8] {
  var result = bytes
  for splice in splices.reversed() {
    result.replaceSubrange(splice.range, with: splice.replacement)
  }
  return result
}

private func verify(
  _ updated: [UInt8], against original: [YAMLEvent], targets: [Target], file: String
) throws(YAMLError) {
  let reparsed: [YAMLEvent]
  do {
    reparsed = try parseYAMLEvents(updated, file: file)
  } catch {
    throw YAMLError(
      file: file, mark: nil,
      message: "the edited text would not parse (\(error.message)); the file is left as it is")
  }
  let wanted = Dictionary(uniqueKeysWithValues: targets.map { ($0.scalar.info.eventIndex, $0) })
  let intact =
    reparsed.count == original.count
    && zip(original, reparsed).enumerated().allSatisfy { index, pair in
      if let target = wanted[index] {
        return pair.1.kind == .scalar && pair.1.value == target.edit.value
          && pair.1.anchor == pair.0.anchor && pair.1.tag == pair.0.tag
      }
      return pair.0.sameContent(as: pair.1)
    }
  if !intact {
    throw YAMLError(
      file: file, mark: nil,
      message: "the edit would change more than the targeted values; the file is left as it is")
  }
}

/// The current values at `paths` in the first document (for reporting).
package func readYAMLValues(_ bytes: [UInt8], paths: [YAMLPath], file: String) throws(YAMLError)
  -> [String]
{
  let events = try parseYAMLEvents(bytes, file: file)
  try checkAliases(events, file: file)
  guard let document = parseYAMLDocuments(events).first else {
    throw YAMLError(file: file, mark: nil, message: "the file holds no YAML document")
  }
  var values: [String] = []
  for path in paths { values.append(try document.scalar(at: path, file: file).value) }
  return values
}
