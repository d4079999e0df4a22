import IsaerftCore
import Foundation

/// A Neuronpedia source: `{modelId}/{sourceId}` with `sourceId = {layer}-{setName}`
/// (`gpt2-small/0-res-jb`, `gemma-2-2b/20-gemmascope-res-16k`). SAELens carries it as
/// `metadata.neuronpedia_id` (`SAEConfig.neuronpediaID`); use that rather than building one.
/// URL formats: `analysis-and-dashboards.md` §4.
public struct NeuronpediaID: Sendable, Hashable, CustomStringConvertible {
    /// `gpt2-small`, `gemma-2-2b`, … (Neuronpedia `modelId`).
    public var modelID: String
    /// `0-res-jb`, `20-gemmascope-res-16k`, … (Neuronpedia `layer` in exports and API bodies).
    public var sourceID: String

    public init(modelID: String, sourceID: String) { self.modelID = modelID; self.sourceID = sourceID }

    /// Parses `{modelId}/{sourceId}` (split at the last `/`; both parts non-empty, no spaces).
    public init(_ id: String) throws {
        let s = id.trimmingCharacters(in: .whitespaces)
        guard let slash = s.lastIndex(of: "/"), slash != s.startIndex, s.index(after: slash) != s.endIndex,
              !s.contains(" ") else { throw AnalysisError.badNeuronpediaID(id) }
        modelID = String(s[..<slash])
        sourceID = String(s[s.index(after: slash)...])
    }

    public var description: String { "\(modelID)/\(sourceID)" }

    /// `https://www.neuronpedia.org/{modelId}/{sourceId}/{index}`.
    public func featureURL(_ index: Int) -> String {
        "https://www.neuronpedia.org/\(Self.pathEscaped(modelID))/\(Self.pathEscaped(sourceID))/\(index)"
    }

    /// `https://neuronpedia.org/quick-list/?name=…&features=…` listing `indices` of this source
    /// (`features` is the URL-encoded JSON `[{"modelId", "layer", "index"}]`).
    public func quickListURL(name: String, indices: [Int]) -> String {
        let items = indices.map { "{\"modelId\":\(jsonString(modelID)),\"layer\":\(jsonString(sourceID)),\"index\":\"\($0)\"}" }
        let json = "[" + items.joined(separator: ",") + "]"
        return "https://neuronpedia.org/quick-list/?name=\(Self.queryEscaped(name))&features=\(Self.queryEscaped(json))"
    }

    static func pathEscaped(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s
    }

    /// RFC 3986 unreserved characters kept, everything else percent-encoded (as `encodeURIComponent`).
    static func queryEscaped(_ s: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
        return s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }
}

/// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
func jsonString(_ s: String) -> String { JSONEscaping.quoted(s) }
