extension StringProtocol {
  /// Without the leading (unless `leading` is false) and trailing characters that `isTrimmed`
  /// accepts: spaces by default. The one trimming helper of the package.
  package func trimming(
    leading: Bool = true, _ isTrimmed: (Character) -> Bool = { $0 == " " }
  ) -> SubSequence {
    var text = self[...]
    while leading, let first = text.first, isTrimmed(first) { text = text.dropFirst() }
    while let last = text.last, isTrimmed(last) { text = text.dropLast() }
    return text
  }
}

/// The text of a C buffer up to its first NUL (all of it if there is none), as UTF-8.
package func textBeforeNUL(_ buffer: [CChar]) -> String {
  String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
