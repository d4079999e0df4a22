import Foundation

/// Prompt extraction for implicit-prompt rows.
public enum Preferences {
    /// TRL 1.16 `extract_prompt` on strings or message lists: the first index where `chosen` and
    /// `rejected` differ; for strings, one back when the character before it is a space (so
    /// completions start with the space). Python's loop leaves the index at the **last compared
    /// position** when one is a prefix of the other (`"abc"`/`"abcd"` → prompt `"ab"`); that is kept.
    /// Deviation: TRL looks at index −1 (the last character) when the first characters differ; here the
    /// prompt is then empty. Throws when either side is empty (TRL fails with a NameError there).
    public static func extractPrompt<T: Equatable>(chosen: [T], rejected: [T], space: T?) -> (prompt: [T], chosen: [T], rejected: [T])? {
        let n = min(chosen.count, rejected.count)
        guard n > 0 else { return nil }
        var idx = n - 1
        for i in 0..<n where chosen[i] != rejected[i] {
            idx = i
            if i > 0, let space, chosen[i - 1] == space { idx -= 1 }
            break
        }
        return (Array(chosen[..<idx]), Array(chosen[idx...]), Array(rejected[idx...]))
    }

    /// `extractPrompt` on texts, compared character by character (Python compares code points; the
    /// data here is compared as Unicode scalars to match).
    public static func extractPrompt(chosen: String, rejected: String) -> (prompt: String, chosen: String, rejected: String)? {
        let c = Array(chosen.unicodeScalars), r = Array(rejected.unicodeScalars)
        guard let (p, cc, rr) = extractPrompt(chosen: c, rejected: r, space: " ") else { return nil }
        func s(_ a: [Unicode.Scalar]) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: a); return String(v) }
        return (s(p), s(cc), s(rr))
    }

    /// HH-RLHF split (`data.md` §4): prompt = longest common prefix of the two transcripts cut back to end
    /// right after its last `"\n\nAssistant:"`; completions = the rest (they start with a space). Nil when
    /// the common prefix has no `"\n\nAssistant:"`.
    public static func splitHHRLHF(chosen: String, rejected: String) -> (prompt: String, chosen: String, rejected: String)? {
        let c = Array(chosen.unicodeScalars), r = Array(rejected.unicodeScalars)
        var common = 0
        while common < min(c.count, r.count) && c[common] == r[common] { common += 1 }
        let marker = Array("\n\nAssistant:".unicodeScalars)
        var end: Int? = nil
        if common >= marker.count {
            for start in stride(from: common - marker.count, through: 0, by: -1) where Array(c[start..<(start + marker.count)]) == marker {
                end = start + marker.count
                break
            }
        }
        guard let cut = end else { return nil }
        func s(_ a: ArraySlice<Unicode.Scalar>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: a); return String(v) }
        return (s(c[..<cut]), s(c[cut...]), s(r[cut...]))
    }
}
