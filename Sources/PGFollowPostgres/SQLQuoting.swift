/// An SQL identifier in double quotes; works on Unicode scalars: a quote followed by a
/// combining mark is one Character.
package func quoteIdentifier(_ name: String) -> String { enclosed(name, in: "\"") }

/// `schema.table` or `table`, each part quoted.
package func quoteRelation(_ name: String) -> String {
  name.split(separator: ".").map { quoteIdentifier(String($0)) }.joined(separator: ".")
}

/// An SQL string literal; works on Unicode scalars, as `quoteIdentifier` does.
package func quoteLiteral(_ text: String) -> String { enclosed(text, in: "'") }

/// `text` between two `quote`s, each `quote` within it doubled, as SQL escapes them.
private func enclosed(_ text: String, in quote: Unicode.Scalar) -> String {
  var out = String(quote)
  for scalar in text.unicodeScalars {
    if scalar == quote { out.unicodeScalars.append(scalar) }
    out.unicodeScalars.append(scalar)
  }
  return out + String(quote)
}
