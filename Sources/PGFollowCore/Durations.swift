/// Durations as the configuration writes them and as messages show them.
/// Parses a duration: numbers each followed by a unit, `h`, `m`, `s` or `ms` (`250ms`, `2s`,
/// `1.5s`, `1m30s`, `1h`), or a bare number, which is seconds (`30` is `30s`).
package func parseDuration(_ text: String) -> Duration? {
  let trimmed = text.trimming()
  if let seconds = Double(trimmed) {
    return seconds >= 0 && seconds.isFinite ? .milliseconds(Int64((seconds * 1000).rounded())) : nil
  }
  var rest = Substring(trimmed)
  var total = 0.0
  while !rest.isEmpty {
    let number = rest.prefix { $0.isNumber || $0 == "." }
    rest = rest.dropFirst(number.count)
    let unit = rest.prefix { $0.isLetter }
    rest = rest.dropFirst(unit.count)
    let factors: [Substring: Double] = ["h": 3600, "m": 60, "s": 1, "ms": 0.001]
    guard let value = Double(number), let factor = factors[unit] else { return nil }
    total += value * factor
  }
  guard total.isFinite, !trimmed.isEmpty else { return nil }
  return .milliseconds(Int64((total * 1000).rounded()))
}

/// How a duration was read, for messages: "800, read as 800s: a bare number is seconds" for
/// `800`, and just the duration ("1s") for a value written with its unit.
package func durationAsRead(_ text: String) -> String {
  guard let value = parseDuration(text) else { return text }
  guard Double(text.trimming()) != nil else { return formatDuration(value) }
  return "\(text.trimming()), read as \(formatDuration(value)): a bare number is seconds"
}

extension Duration {
  /// The duration in seconds, with fractions.
  package var inSeconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }

  /// The duration in whole milliseconds, rounded down.
  package var wholeMilliseconds: Int64 {
    components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
  }
}

package func formatDuration(_ duration: Duration) -> String {
  let milliseconds = duration.wholeMilliseconds
  if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
  return "\(milliseconds)ms"
}
