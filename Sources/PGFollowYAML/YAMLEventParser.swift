internal import CLibYAML

package enum YAMLScalarStyle: Sendable, Hashable {
  case plain, singleQuoted, doubleQuoted, literal, folded
}

/// One libyaml parse event, copied out of C memory.
package struct YAMLEvent: Sendable, Hashable {
  package enum Kind: Sendable, Hashable {
    case streamStart, streamEnd, documentStart, documentEnd
    case alias, scalar, sequenceStart, sequenceEnd, mappingStart, mappingEnd
  }

  package var kind: Kind
  /// The scalar's value, or the alias's anchor name.
  package var value: String?
  package var anchor: String?
  package var tag: String?
  package var style: YAMLScalarStyle?
  package var start: YAMLMark
  package var end: YAMLMark

  /// The same event apart from where it stands and how a scalar is quoted.
  func sameContent(as other: YAMLEvent) -> Bool {
    kind == other.kind && value == other.value && anchor == other.anchor && tag == other.tag
  }
}

/// Parses YAML text (UTF-8, optionally with a byte-order mark) into libyaml's events.
package func parseYAMLEvents(_ bytes: [UInt8], file: String) throws(YAMLError) -> [YAMLEvent] {
  try rejectNonUTF8ByteOrderMark(bytes, file: file)
  var events: [YAMLEvent] = []
  let result: YAMLError? = withLibYAMLParser(bytes) { parser in
    var event = yaml_event_t()
    while true {
      guard yaml_parser_parse(parser, &event) == 1 else {
        return parserError(parser.pointee, bytes: bytes, file: file)
      }
      defer { yaml_event_delete(&event) }
      events.append(YAMLEvent(event))
      if event.type == YAML_STREAM_END_EVENT { return nil }
    }
  }
  if let result { throw result }
  return events
}

/// Where one libyaml token stands, in characters; only the kinds the editor needs are told apart.
struct YAMLTokenSpan: Sendable {
  enum Kind: Sendable { case scalar, value, blockEntry, anchor, tag, documentStart, other }
  var kind: Kind
  var start: Int
  var end: Int
}

/// The tokens of a text, in order, as far as it scans.
func scanYAMLTokens(_ bytes: [UInt8]) -> [YAMLTokenSpan] {
  var spans: [YAMLTokenSpan] = []
  _ = withLibYAMLParser(bytes) { parser in
    var token = yaml_token_t()
    while yaml_parser_scan(parser, &token) == 1 {
      defer { yaml_token_delete(&token) }
      let kind: YAMLTokenSpan.Kind =
        switch token.type {
        case YAML_SCALAR_TOKEN: .scalar
        case YAML_VALUE_TOKEN: .value
        case YAML_BLOCK_ENTRY_TOKEN: .blockEntry
        case YAML_ANCHOR_TOKEN: .anchor
        case YAML_TAG_TOKEN: .tag
        case YAML_DOCUMENT_START_TOKEN: .documentStart
        default: .other
        }
      spans.append(
        YAMLTokenSpan(
          kind: kind, start: Int(token.start_mark.index), end: Int(token.end_mark.index)))
      if token.type == YAML_STREAM_END_TOKEN { break }
    }
    return 0
  }
  return spans
}

/// Runs `body` with a parser and input kept at stable heap addresses, then frees both.
private func withLibYAMLParser<R>(
  _ bytes: [UInt8], _ body: (UnsafeMutablePointer<yaml_parser_t>) -> R
) -> R {
  let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
  let input = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
  input.initialize(from: bytes, count: bytes.count)
  defer {
    yaml_parser_delete(parser)
    parser.deallocate()
    input.deallocate()
  }
  yaml_parser_initialize(parser)
  yaml_parser_set_input_string(parser, input, bytes.count)
  return body(parser)
}

private func rejectNonUTF8ByteOrderMark(_ bytes: [UInt8], file: String) throws(YAMLError) {
  if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
    throw YAMLError(
      file: file, mark: YAMLMark(index: 0, line: 1, column: 1),
      message: "the file is UTF-16; only UTF-8 is supported")
  }
}

private func parserError(_ parser: yaml_parser_t, bytes: [UInt8], file: String) -> YAMLError {
  let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
  if parser.error == YAML_READER_ERROR {
    let mark = markOfByte(Int(parser.problem_offset), in: bytes)
    return YAMLError(file: file, mark: mark, message: "cannot read the text: \(problem)")
  }
  var message = problem
  if let context = parser.context {
    let contextMark = YAMLMark(parser.context_mark)
    message += " (\(String(cString: context)) at \(contextMark.line):\(contextMark.column))"
  }
  return YAMLError(file: file, mark: YAMLMark(parser.problem_mark), message: message)
}

/// Line and column of a byte offset, for errors libyaml reports in bytes.
private func markOfByte(_ offset: Int, in bytes: [UInt8]) -> YAMLMark {
  var line = 1
  var column = 1
  var index = 0
  for byte in bytes.prefix(offset) {
    if byte == UInt8(ascii: "\n") {
      line += 1
      column = 1
    } else if byte & 0xC0 != 0x80 {
      column += 1
    }
    if byte & 0xC0 != 0x80 { index += 1 }
  }
  return YAMLMark(index: index, line: line, column: column)
}

extension YAMLMark {
  init(_ mark: yaml_mark_t) {
    self.init(index: Int(mark.index), line: Int(mark.line) + 1, column: Int(mark.column) + 1)
  }
}

extension YAMLEvent {
  init(_ event: yaml_event_t) {
    var kind = Kind.streamStart
    var value: String?
    var anchor: String?
    var tag: String?
    var style: YAMLScalarStyle?
    switch event.type {
    case YAML_STREAM_END_EVENT: kind = .streamEnd
    case YAML_DOCUMENT_START_EVENT: kind = .documentStart
    case YAML_DOCUMENT_END_EVENT: kind = .documentEnd
    case YAML_ALIAS_EVENT:
      kind = .alias
      value = cString(event.data.alias.anchor)
    case YAML_SCALAR_EVENT:
      let scalar = event.data.scalar
      kind = .scalar
      value = String(
        decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
      anchor = cString(scalar.anchor)
      tag = cString(scalar.tag)
      style = YAMLScalarStyle(scalar.style)
    case YAML_SEQUENCE_START_EVENT:
      kind = .sequenceStart
      anchor = cString(event.data.sequence_start.anchor)
      tag = cString(event.data.sequence_start.tag)
    case YAML_SEQUENCE_END_EVENT: kind = .sequenceEnd
    case YAML_MAPPING_START_EVENT:
      kind = .mappingStart
      anchor = cString(event.data.mapping_start.anchor)
      tag = cString(event.data.mapping_start.tag)
    case YAML_MAPPING_END_EVENT: kind = .mappingEnd
    default: kind = .streamStart
    }
    self.init(
      kind: kind, value: value, anchor: anchor, tag: tag, style: style,
      start: YAMLMark(event.start_mark), end: YAMLMark(event.end_mark))
  }
}

extension YAMLScalarStyle {
  init(_ style: yaml_scalar_style_t) {
    switch style {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: self = .singleQuoted
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: self = .doubleQuoted
    case YAML_LITERAL_SCALAR_STYLE: self = .literal
    case YAML_FOLDED_SCALAR_STYLE: self = .folded
    default: self = .plain
    }
  }
}

private func cString(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
  pointer.map { String(cString: $0) }
}
