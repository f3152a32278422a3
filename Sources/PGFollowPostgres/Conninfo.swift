internal import CLibPQ
import PGFollowCore

/// Checks and describes libpq connection strings without ever repeating their secrets.
package enum Conninfo {
  /// What is wrong with a conninfo or URI, or nil when libpq accepts it. Quoted fragments of
  /// libpq's message are masked, since they may be pieces of a password.
  package static func problem(_ conninfo: String) -> String? {
    var message: UnsafeMutablePointer<CChar>?
    guard let options = PQconninfoParse(conninfo, &message) else {
      let text = message.map { String(cString: $0) } ?? "cannot parse"
      if let message { PQfreemem(message) }
      return misspelledKeyword(text) ?? maskQuoted(oneLine(text))
    }
    PQconninfoFree(options)
    return portProblem(parse(conninfo)["port"])
  }

  /// libpq takes any text as a port and fails only at the connection; say so at once.
  private static func portProblem(_ port: String?) -> String? {
    guard let port else { return nil }
    let bad = port.split(separator: ",", omittingEmptySubsequences: false).first { part in
      !part.isEmpty && !(Int(part).map { (1...65535).contains($0) } ?? false)
    }
    // Not even the port is shown: an unquoted password with a space in it can end up there.
    return bad.map { _ in "port=…: not a port number (1-65535)" }
  }

  /// `host=… port=… dbname=… user=…` from a conninfo, with nothing secret.
  package static func summary(_ conninfo: String) -> String {
    let values = parse(conninfo)
    let shown = ["host", "hostaddr", "port", "dbname", "user"].compactMap { key in
      values[key].map { "\(key)=\($0)" }
    }
    return shown.isEmpty ? "(libpq defaults)" : shown.joined(separator: " ")
  }

  /// The database a conninfo names, if it names one.
  package static func database(_ conninfo: String) -> String? { parse(conninfo)["dbname"] }

  /// The options a conninfo sets explicitly.
  static func parse(_ conninfo: String) -> [String: String] {
    guard let options = PQconninfoParse(conninfo, nil) else { return [:] }
    defer { PQconninfoFree(options) }
    var result: [String: String] = [:]
    var option = options
    while let keyword = option.pointee.keyword {
      if let value = option.pointee.val {
        result[String(cString: keyword)] = String(cString: value)
      }
      option += 1
    }
    return result
  }

  /// libpq's message with every quoted part that could be a secret replaced by "…": a part
  /// is shown only when it is a connection keyword (such as `user`) or punctuation (such as
  /// `=`), so `missing "=" after "user"` reads as libpq wrote it, and no value ever shows.
  static func maskQuoted(_ text: String) -> String {
    // Per Unicode scalar: a quote followed by a combining mark is one Character, and the
    // secret after it would show.
    var result = ""
    var quoted: String.UnicodeScalarView?
    for scalar in text.unicodeScalars {
      if scalar == "\"" {
        if let part = quoted {
          result += isHarmless(String(part)) ? String(part) : "…"
          quoted = nil
        } else {
          quoted = String.UnicodeScalarView()
        }
        result.unicodeScalars.append(scalar)
      } else if quoted != nil {
        quoted?.append(scalar)
      } else {
        result.unicodeScalars.append(scalar)
      }
    }
    if quoted != nil { result += "…" }
    return result
  }

  /// `invalid connection option "passwrod"`: a key within two edits of a keyword is most likely
  /// a typo of it, so the keyword is named. The key itself stays masked like any other: it may
  /// be part of an unquoted value with a space in it.
  private static func misspelledKeyword(_ text: String) -> String? {
    let prefix = "invalid connection option \""
    guard text.hasPrefix(prefix) else { return nil }
    let key = String(text.dropFirst(prefix.count).prefix { $0 != "\"" })
    guard let keyword = keywords.first(where: { editDistance(key, $0) <= 2 }) else { return nil }
    return "invalid connection option \"…\" (a misspelled \"\(keyword)\"?)"
  }

  private static func isHarmless(_ part: String) -> Bool {
    part.unicodeScalars.allSatisfy { $0.properties.generalCategory.isPunctuationOrSymbol }
      || keywords.contains(part)
  }

  /// The keywords libpq knows (host, port, user, password, sslmode, …).
  package static let keywords: Set<String> = {
    guard let defaults = PQconndefaults() else { return [] }
    defer { PQconninfoFree(defaults) }
    var names: Set<String> = []
    var option = defaults
    while let keyword = option.pointee.keyword {
      names.insert(String(cString: keyword))
      option += 1
    }
    return names
  }()
}

extension Unicode.GeneralCategory {
  fileprivate var isPunctuationOrSymbol: Bool {
    switch self {
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
      .initialPunctuation, .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol,
      .modifierSymbol, .otherSymbol:
      true
    default: false
    }
  }
}
