import Model
import ServiceKit

/// Field rules shared by the registry's requests. Each failure names the field by its request
/// path and says the rule in words. The path is an autoclosure: callers build it by
/// interpolation (`"\(field).name"`), and on the way to a valid request that string would be
/// built, and freed, for every field checked.
enum Validate {
    static func invalid(_ field: String, _ reason: String, _ errorReason: String = "INVALID_FIELD") -> ServiceError {
        .invalidArgument(field: field, reason: reason, errorReason: errorReason)
    }

    /// A request_id: 1–64 printable ASCII characters.
    static func requestID(_ value: String, field: @autoclosure () -> String = "request_id") throws(ServiceError) {
        guard !value.isEmpty else {
            throw Self.invalid(field(), "required")
        }
        guard value.utf8.count <= 64, value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw Self.invalid(field(), "must be 1–64 printable ASCII characters")
        }
    }

    /// Text of `range` characters (a lower bound of 1 means required).
    static func text(_ value: String, _ field: @autoclosure () -> String, _ range: ClosedRange<Int>) throws(ServiceError) {
        let bytes = value.utf8.count
        if bytes == 0 && range.lowerBound > 0 {
            throw Self.invalid(field(), "required")
        }
        // A character takes at least one byte, so a text of no more bytes than the upper bound
        // (and not empty, when the lower bound is 1) is within the range without counting its
        // characters, which means finding every grapheme boundary.
        if bytes > range.upperBound || range.lowerBound > min(bytes, 1) {
            let count = value.count
            guard range.contains(count) else {
                throw Self.invalid(field(), "must be \(range.lowerBound)–\(range.upperBound) characters, got \(count)")
            }
        }
        // NUL is the only character whose UTF-8 holds a zero byte.
        guard !value.utf8.contains(0) else {
            throw Self.invalid(field(), "must not contain NUL characters")
        }
    }

    /// A region code of the given shape; returns it parsed.
    static func regionCode(_ value: String, _ field: @autoclosure () -> String) throws(ServiceError) -> RegionCode {
        guard !value.isEmpty else {
            throw Self.invalid(field(), "required", "INVALID_REGION_CODE")
        }
        do {
            return try RegionCode(validating: value)
        } catch {
            throw Self.invalid(field(), error.description, "INVALID_REGION_CODE")
        }
    }

    /// A resident ID number; returns its canonical form.
    static func residentID(_ value: String, _ field: @autoclosure () -> String, today: Int) throws(ServiceError) -> ResidentIDNumber {
        do {
            let date = Days.date(today)
            let calendar = try? CalendarDate(year: Int(date.year), month: Int(date.month), day: Int(date.day))
            return try ResidentIDNumber(validating: value, today: calendar)
        } catch {
            throw Self.invalid(field(), error.description, "INVALID_RESIDENT_ID_NUMBER")
        }
    }

    /// A unified social credit code; returns its canonical form.
    static func creditCode(_ value: String, _ field: @autoclosure () -> String) throws(ServiceError) -> String {
        do {
            return try UnifiedSocialCreditCode(validating: value).value
        } catch {
            throw Self.invalid(field(), error.description, "INVALID_CREDIT_CODE")
        }
    }

    /// A mobile number; returns its 11 digits.
    static func mobile(_ value: String, _ field: @autoclosure () -> String) throws(ServiceError) -> String {
        do {
            return try MobileNumber(validating: value).normalized
        } catch {
            throw Self.invalid(field(), error.description, "INVALID_MOBILE")
        }
    }

    /// A date that is present must be a real day in 1900–2200.
    static func date(_ value: CommonV1.Date?, _ field: @autoclosure () -> String) throws(ServiceError) {
        if let value, !Days.isValid(value) {
            throw Self.invalid(
                field(), "\(value.year)-\(value.month)-\(value.day) is not a calendar day in 1900–2200")
        }
    }

    /// Page size: 0 means 50, above 500 means 500, negative is invalid.
    static func pageSize(_ value: Int32) throws(ServiceError) -> Int {
        guard value >= 0 else {
            throw Self.invalid("page_size", "must not be negative")
        }
        return value == 0 ? 50 : min(Int(value), 500)
    }

    /// The version a caller last read: at least 1.
    static func version(_ value: Int64, _ field: @autoclosure () -> String = "version") throws(ServiceError) {
        guard value >= 1 else {
            throw Self.invalid(field(), "required: the version last read (≥ 1)")
        }
    }

    /// Whether `value` is one of the known, specified cases of an enum with `unrecognized`.
    static func known<E: RawRepresentable & CaseIterable & Equatable>(_ value: E) -> Bool where E.RawValue == Int32 {
        value.rawValue != 0 && E.allCases.contains(value)
    }
}
