extension YAMLEditPlan {
  /// A unified diff of the planned change, built from the splices (edits never add lines).
  package func unifiedDiff(oldLabel: String, newLabel: String, context: Int = 3) -> String {
    guard changesFile else { return "" }
    let lines = lineRanges(original)
    let groups = changedLineGroups(lines: lines)
    var output = "--- \(oldLabel)\n+++ \(newLabel)\n"
    var lineDelta = 0
    for hunk in hunks(groups, context: context) {
      let first = max(0, hunk[0].lines.lowerBound - context)
      let last = min(lines.count - 1, hunk[hunk.count - 1].lines.upperBound + context)
      var body = ""
      var newCount = 0
      var cursor = first
      for group in hunk {
        for line in cursor..<group.lines.lowerBound {
          body += " " + text(lines[line]) + "\n"
          newCount += 1
        }
        for line in group.lines { body += "-" + text(lines[line]) + "\n" }
        for line in group.newLines {
          body += "+" + line + "\n"
          newCount += 1
        }
        cursor = group.lines.upperBound + 1
      }
      for line in cursor..<(last + 1) {
        body += " " + text(lines[line]) + "\n"
        newCount += 1
      }
      let oldCount = last - first + 1
      output += "@@ -\(first + 1),\(oldCount) +\(first + 1 + lineDelta),\(newCount) @@\n" + body
      lineDelta += newCount - oldCount
    }
    return output
  }

  private struct LineGroup {
    var lines: ClosedRange<Int>
    var newLines: [String]
  }

  private func changedLineGroups(lines: [Range<Int>]) -> [LineGroup] {
    var groups: [(lines: ClosedRange<Int>, splices: [Splice])] = []
    for splice in splices {
      let first = lineIndex(of: splice.range.lowerBound, in: lines)
      let last = lineIndex(of: max(splice.range.lowerBound, splice.range.upperBound - 1), in: lines)
      if let previous = groups.last, previous.lines.upperBound >= first {
        groups[groups.count - 1] = (
          previous.lines.lowerBound...max(last, previous.lines.upperBound),
          previous.splices + [splice]
        )
      } else {
        groups.append((first...last, [splice]))
      }
    }
    return groups.map { group in
      let start = lines[group.lines.lowerBound].lowerBound
      let end = lines[group.lines.upperBound].upperBound
      let shifted = group.splices.map {
        Splice(
          range: ($0.range.lowerBound - start)..<($0.range.upperBound - start),
          replacement: $0.replacement)
      }
      let newBytes = applySplices(shifted, to: Array(original[start..<end]))
      return LineGroup(
        lines: group.lines,
        newLines: lineRanges(newBytes).map {
          text(newBytes[$0])
        })
    }
  }

  private func hunks(_ groups: [LineGroup], context: Int) -> [[LineGroup]] {
    var result: [[LineGroup]] = []
    for group in groups {
      if let previous = result.last?.last,
        group.lines.lowerBound - previous.lines.upperBound <= 2 * context + 1
      {
        result[result.count - 1].append(group)
      } else {
        result.append([group])
      }
    }
    return result
  }

  private func text(_ range: Range<Int>) -> String { text(original[range]) }

  private func text(_ bytes: some Collection<UInt8>) -> String {
    var line = String(decoding: bytes, as: UTF8.self)
    while line.last == "\n" || line.last == "\r" || line.last == "\r\n" { line.removeLast() }
    return line
  }
}

/// Byte ranges of each line, line terminator included.
private func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
  var ranges: [Range<Int>] = []
  var start = 0
  for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
    ranges.append(start..<(offset + 1))
    start = offset + 1
  }
  if start < bytes.count || ranges.isEmpty { ranges.append(start..<bytes.count) }
  return ranges
}

private func lineIndex(of offset: Int, in lines: [Range<Int>]) -> Int {
  var low = 0
  var high = lines.count - 1
  while low < high {
    let middle = (low + high + 1) / 2
    if lines[middle].lowerBound <= offset { low = middle } else { high = middle - 1 }
  }
  return low
}
