/// A day of the proleptic Gregorian calendar, such as a birth date, with no time and no
/// time zone. Only real days can be built: 29 February exists in leap years only.
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The year, 1–9999.
    public let year: Int
    /// The month, 1–12.
    public let month: Int
    /// The day of the month, 1–28, 29, 30 or 31 as the month has.
    public let day: Int

    /// A validated day.
    /// - Throws: `DomainRuleError.invalidDate` when the year is outside 1–9999, the month
    ///   outside 1–12 or the day past the end of the month (leap years counted).
    public init(year: Int, month: Int, day: Int) throws(DomainRuleError) {
        guard (1...9999).contains(year), (1...12).contains(month),
            day >= 1, day <= Self.daysInMonth(month, year: year)
        else {
            throw .invalidDate(year: year, month: month, day: day)
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// A day already known to be valid.
    init(uncheckedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Whether `year` has a 29 February: divisible by 4, and not by 100 unless by 400.
    public static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// The number of days of `month` (1–12) in `year`; 0 for a month outside 1–12.
    public static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12:
            return 31
        case 4, 6, 9, 11:
            return 30
        case 2:
            return Self.isLeapYear(year) ? 29 : 28
        default:
            return 0
        }
    }

    /// Earlier days order first.
    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// The day as ISO 8601 `YYYY-MM-DD`, e.g. `2000-02-29`.
    public var description: String {
        Self.format(year: self.year, month: self.month, day: self.day)
    }

    /// `YYYY-MM-DD` for any three numbers, valid or not, for error messages.
    static func format(year: Int, month: Int, day: Int) -> String {
        "\(Self.padded(year, width: 4))-\(Self.padded(month, width: 2))-\(Self.padded(day, width: 2))"
    }

    private static func padded(_ value: Int, width: Int) -> String {
        let digits = String(value.magnitude)
        let zeros = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + zeros + digits
    }

    /// The day `days` days after 1970-01-01 (negative: before), by Howard Hinnant's
    /// `civil_from_days`, exact over the whole proleptic Gregorian calendar.
    init(daysSince1970 days: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        self.init(uncheckedYear: year, month: month, day: day)
    }

    /// Days since 1970-01-01, the inverse of `init(daysSince1970:)`.
    var daysSince1970: Int {
        let year = self.month <= 2 ? self.year - 1 : self.year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let shiftedMonth = self.month > 2 ? self.month - 3 : self.month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + self.day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The day in a time zone `utcOffsetSeconds` east of UTC at `secondsSince1970` UTC.
    init(secondsSince1970 seconds: Int, utcOffsetSeconds: Int) {
        let local = seconds + utcOffsetSeconds
        let days = local >= 0 ? local / 86_400 : -((-local + 86_399) / 86_400)
        self.init(daysSince1970: days)
    }
}
