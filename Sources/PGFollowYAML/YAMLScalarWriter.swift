/// Writes a string as a YAML scalar that reads back as exactly that string and cannot change the
/// structure around it. It keeps the style it replaces when that is safe.
package enum YAMLScalarWriter {
  package static func render(_ value: String, replacing old: YAMLScalar) -> String {
    switch old.style {
    case .plain
    where isPlainSafe(value) && ResolvedKind(old.value) == ResolvedKind(value)
      && old.info.tag == nil:
      return value
    case .plain, .singleQuoted:
      return isSingleQuoteSafe(value) ? singleQuoted(value) : doubleQuoted(value)
    default:
      return doubleQuoted(value)
    }
  }

  /// Works on Unicode scalars: a quote followed by a combining mark is one Character.
  package static func singleQuoted(_ value: String) -> String {
    var out = "'"
    for scalar in value.unicodeScalars {
      out.unicodeScalars.append(scalar)
      if scalar == "'" { out.unicodeScalars.append(scalar) }
    }
    return out + "'"
  }

  package static func doubleQuoted(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\0": out += "\\0"
      default:
        if isPrintable(scalar) {
          out.unicodeScalars.append(scalar)
        } else {
          out += escapeCode(scalar)
        }
      }
    }
    return out + "\""
  }

  /// A plain scalar needs no quotes in block or flow context and holds no indicator.
  static func isPlainSafe(_ value: String) -> Bool {
    guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else {
      return false
    }
    if "-?:,[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) { return false }
    if first == " " || last == " " || last == ":" { return false }
    // Compared as bytes, as libyaml reads them, not as Characters.
    let bytes = value.utf8
    if bytes.starts(with: "...".utf8) { return false }
    if bytes.contains(": ".utf8) || bytes.contains(" #".utf8) { return false }
    // In a flow collection libyaml refuses `:` before `?` (the other indicators are refused below).
    if bytes.contains(":?".utf8) { return false }
    return value.unicodeScalars.allSatisfy { scalar in
      isPrintable(scalar) && !",[]{}\t".unicodeScalars.contains(scalar)
    }
  }

  static func isSingleQuoteSafe(_ value: String) -> Bool {
    value.unicodeScalars.allSatisfy(isPrintable)
  }

  /// Printable in the YAML 1.1 sense, minus the byte-order mark and line separators.
  static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x20...0x7E: true
    case 0x85, 0x2028, 0x2029, 0xFEFF: false
    case 0xA0...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
    default: false
    }
  }

  private static func escapeCode(_ scalar: Unicode.Scalar) -> String {
    let hex = String(scalar.value, radix: 16, uppercase: true)
    switch scalar.value {
    case 0..<0x100: return "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
    case 0..<0x10000: return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    default: return "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
    }
  }
}

/// What a plain scalar would resolve to under YAML 1.1 or 1.2 resolvers, coarsely: a plain value
/// is only kept plain when it resolves to the same kind as the one it replaces.
enum ResolvedKind: Equatable {
  case null, bool, number, string

  init(_ plain: String) {
    let lower = plain.lowercased()
    if ["", "~", "null"].contains(lower) {
      self = .null
    } else if ["true", "false", "yes", "no", "on", "off", "y", "n"].contains(lower) {
      self = .bool
    } else if Self.looksNumeric(lower) {
      self = .number
    } else {
      self = .string
    }
  }

  /// Broad on purpose (sexagesimal, hex, octal, dates, `.inf`): a false positive only adds quotes.
  private static func looksNumeric(_ text: String) -> Bool {
    var body = Substring(text)
    if body.first == "+" || body.first == "-" { body = body.dropFirst() }
    if [".inf", ".nan"].contains(body) { return true }
    guard let first = body.first, first.isASCII, first.isNumber || first == "." else {
      return false
    }
    return body.allSatisfy { "0123456789abcdefxob_.:+-".contains($0) }
  }
}
