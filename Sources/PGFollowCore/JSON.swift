/// A JSON value and its text: the one JSON writer of the package, for the state file and
/// `status --json`. Object members keep their order; numbers are integers, or seconds written
/// to the millisecond, which JSON and YAML both read back exactly.
package indirect enum JSON: Sendable {
  case null
  case bool(Bool)
  case integer(Int64)
  case seconds(Double)
  case string(String)
  case array([JSON])
  case object([(String, JSON)])

  /// A string, or null.
  package static func string(_ text: String?) -> JSON { text.map(JSON.string) ?? .null }

  /// On one line: `{"a": 1, "b": [true, null]}`.
  package var text: String {
    switch self {
    case .null: "null"
    case .bool(let value): value ? "true" : "false"
    case .integer(let value): String(value)
    case .seconds(let value): Self.milliseconds(value)
    case .string(let value): Self.quoted(value)
    case .array(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
    case .object(let members):
      "{" + members.map { Self.quoted($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
    }
  }

  /// An object with a member a line (nested values on their member's line), ending in a newline.
  package var lines: String {
    guard case .object(let members) = self, !members.isEmpty else { return text + "\n" }
    let body = members.map { "  " + Self.quoted($0.0) + ": " + $0.1.text }
    return "{\n" + body.joined(separator: ",\n") + "\n}\n"
  }

  private static func milliseconds(_ value: Double) -> String {
    let milliseconds = Int64((abs(value) * 1000).rounded())
    let digits = String(milliseconds % 1000)
    let sign = value < 0 ? "-" : ""
    return
      "\(sign)\(milliseconds / 1000).\(String(repeating: "0", count: 3 - digits.count))\(digits)"
  }

  private static let shortEscapes: [Unicode.Scalar: String] = [
    "\"": "\\\"", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
  ]

  /// The string literal; line and paragraph separators are escaped too, for JavaScript's sake.
  private static func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      if let short = shortEscapes[scalar] {
        out += short
      } else if scalar.value < 0x20 || [0x7F, 0x2028, 0x2029].contains(scalar.value) {
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
