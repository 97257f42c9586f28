/// Prometheus' text exposition format (version 0.0.4), written from typed
/// families: one HELP and one TYPE line per family, then its samples.
public enum MetricType: String, Sendable, Equatable {
    case counter, gauge
}

/// A sample's value: counters stay exact integers (a Double loses them past 2^53).
public enum MetricValue: Sendable, Equatable, CustomStringConvertible {
    case integer(UInt64)
    case real(Double)

    public var description: String {
        switch self {
        case .integer(let value): return "\(value)"
        case .real(let value):
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
            if value == value.rounded(), abs(value) < 1e15 { return "\(Int64(value))" }
            return "\(value)"
        }
    }
}

public struct MetricSample: Sendable, Equatable {
    /// Label names and values, in the order written.
    public var labels: [(name: String, value: String)]
    public var value: MetricValue

    public init(_ labels: [(String, String)], _ value: MetricValue) {
        self.labels = labels.map { (name: $0.0, value: $0.1) }
        self.value = value
    }

    public static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.value == rhs.value && lhs.labels.map(\.name) == rhs.labels.map(\.name) && lhs.labels.map(\.value) == rhs.labels.map(\.value)
    }
}

public struct MetricFamily: Sendable, Equatable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var samples: [MetricSample]

    public init(_ name: String, _ type: MetricType, help: String, samples: [MetricSample] = []) {
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
    }
}

public enum PrometheusText {
    /// The content type of a scrape's answer.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The families as text; a family without samples is left out (its
    /// HELP and TYPE would announce nothing).
    public static func render(_ families: [MetricFamily]) -> String {
        var text = ""
        for family in families where !family.samples.isEmpty {
            text += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            text += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples {
                text += family.name
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\($0.name)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
                }
                text += " \(sample.value)\n"
            }
        }
        return text
    }

    /// HELP text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String { escape(text, quote: false) }

    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabel(_ text: String) -> String { escape(text, quote: true) }

    static func escape(_ text: String, quote: Bool) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\\\"
            case "\"" where quote: result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}
