internal import CLibPQ

/// Checks and describes libpq connection strings without ever repeating their secrets.
package enum Conninfo {
  /// What is wrong with a conninfo or URI, or nil when libpq accepts it. Quoted fragments of
  /// libpq's message are masked, since they may be pieces of a password.
  package static func problem(_ conninfo: String) -> String? {
    var message: UnsafeMutablePointer<CChar>?
    guard let options = PQconninfoParse(conninfo, &message) else {
      let text = message.map { String(cString: $0) } ?? "cannot parse"
      if let message { PQfreemem(message) }
      return maskQuoted(oneLine(text))
    }
    PQconninfoFree(options)
    return nil
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

  static func maskQuoted(_ text: String) -> String {
    // Per Unicode scalar: a quote followed by a combining mark is one Character, and the
    // secret after it would show.
    var result = ""
    var inQuotes = false
    for scalar in text.unicodeScalars {
      if scalar == "\"" {
        result.unicodeScalars.append(scalar)
        if inQuotes {
          inQuotes = false
        } else {
          inQuotes = true
          result += "…"
        }
      } else if !inQuotes {
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }
}
