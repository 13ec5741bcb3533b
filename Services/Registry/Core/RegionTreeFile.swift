import Model
import ServiceKit

/// The region-tree file the registry imports at start or from the command line: one region
/// per line, `code,name[,parent_code[,urban_rural_class]]` (commas or tabs), `#` comments and
/// blank lines ignored, an optional header line starting with `code`. An empty parent code is
/// read from the code's digits (none for a province), as the statistical division lists
/// leave it out.
public enum RegionTreeFile {
    /// The nodes of `text`, for ``RegistryStore/importRegions(_:caller:)``.
    /// - Throws: INVALID_ARGUMENT naming the line ("line 12") and what is wrong with it.
    public static func parse(_ text: String) throws(ServiceError) -> [RegistryV1.RegionImportNode] {
        var nodes: [RegistryV1.RegionImportNode] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = rawLine.trimmed([" ", "\r", "\u{FEFF}"])
            if line.isEmpty || line.hasPrefix("#") || (index == 0 && line.lowercased().hasPrefix("code")) {
                continue
            }
            let fields = line.split(
                omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == "\t" }
            ).map { $0.trimmed([" "]) }
            guard fields.count >= 2, fields.count <= 4 else {
                throw ServiceError.invalidArgument(
                    field: "line \(index + 1)", reason: "expected code,name[,parent_code[,urban_rural_class]]")
            }
            let code: RegionCode
            do {
                code = try RegionCode(validating: fields[0])
            } catch {
                throw ServiceError.invalidArgument(
                    field: "line \(index + 1)", reason: error.description, errorReason: "INVALID_REGION_CODE")
            }
            var parent = fields.count > 2 ? fields[2] : ""
            if parent.isEmpty {
                parent = code.parent?.code ?? ""
            }
            nodes.append(
                RegistryV1.RegionImportNode(
                    code: code.code, name: fields[1], parentCode: parent,
                    urbanRuralClass: fields.count > 3 ? fields[3] : ""))
        }
        return nodes
    }
}

extension String {
    fileprivate func trimmed(_ set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) {
            slice = slice.dropFirst()
        }
        while let last = slice.last, set.contains(last) {
            slice = slice.dropLast()
        }
        return String(slice)
    }
}

extension Substring {
    fileprivate func trimmed(_ set: Set<Character>) -> String {
        String(self).trimmed(set)
    }
}

/// WatchChanges resume tokens: the position right after a change, opaque to clients.
public enum ChangeFeedToken {
    /// The token of the position after `sequence`.
    public static func encode(_ sequence: Int64) -> String {
        "c1." + String(sequence, radix: 36)
    }

    /// The sequence a token resumes after.
    /// - Throws: INVALID_ARGUMENT (field resume_token) when it is not a token of this feed.
    public static func decode(_ token: String) throws(ServiceError) -> Int64 {
        guard token.hasPrefix("c1."), let sequence = Int64(token.dropFirst(3), radix: 36), sequence >= 0 else {
            throw ServiceError.invalidArgument(field: "resume_token", reason: "not a resume token of this change feed")
        }
        return sequence
    }
}
