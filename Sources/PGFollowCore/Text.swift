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

/// The allowed word nearest to a misspelling, if it is near enough.
package func closestMatch(_ word: String, in candidates: [String]) -> String? {
  let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
  // Near enough, and not a word replaced whole ("c" is not a misspelling of "b").
  guard let (best, distance) = scored, distance <= max(2, best.count / 3),
    distance < min(word.count, best.count)
  else { return nil }
  return best
}

package func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a)
  let b = Array(b)
  var previous = Array(0...b.count)
  for i in 1...max(a.count, 1) where !a.isEmpty {
    var current = [i] + Array(repeating: 0, count: b.count)
    for j in stride(from: 1, through: b.count, by: 1) {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    }
    previous = current
  }
  return a.isEmpty ? b.count : previous[b.count]
}

/// The directory that holds `path`: "." for a bare name, "/" for an entry of the root.
package func parentDirectory(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return "." }
  return slash == path.startIndex ? "/" : String(path[..<slash])
}
