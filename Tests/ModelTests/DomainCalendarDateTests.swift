import Testing

@testable import Model

@Suite("CalendarDate")
struct DomainCalendarDateTests {
    @Test(
        "real days are accepted",
        arguments: [
            (2000, 2, 29), (2024, 2, 29), (2023, 2, 28), (1900, 1, 1), (1999, 12, 31), (2023, 4, 30),
            (1, 1, 1), (9999, 12, 31),
        ])
    func validDays(year: Int, month: Int, day: Int) throws {
        let date = try CalendarDate(year: year, month: month, day: day)
        #expect(date.year == year)
        #expect(date.month == month)
        #expect(date.day == day)
    }

    @Test(
        "impossible days are rejected",
        arguments: [
            (1999, 2, 29), (1900, 2, 29), (2100, 2, 29), (2024, 2, 30), (2023, 4, 31), (2023, 13, 1),
            (2023, 0, 1), (2023, 1, 0), (2023, 1, 32), (0, 1, 1), (10_000, 1, 1),
        ])
    func invalidDays(year: Int, month: Int, day: Int) {
        #expect(throws: DomainRuleError.invalidDate(year: year, month: month, day: day)) {
            try CalendarDate(year: year, month: month, day: day)
        }
    }

    @Test("leap years follow the Gregorian rule")
    func leapYears() {
        #expect(CalendarDate.isLeapYear(2000))
        #expect(CalendarDate.isLeapYear(2024))
        #expect(!CalendarDate.isLeapYear(1900))
        #expect(!CalendarDate.isLeapYear(2023))
        #expect(CalendarDate.daysInMonth(2, year: 2000) == 29)
        #expect(CalendarDate.daysInMonth(2, year: 2100) == 28)
        #expect(CalendarDate.daysInMonth(13, year: 2000) == 0)
    }

    @Test("dates order by year, month, then day and print as ISO 8601")
    func orderingAndDescription() throws {
        let early = try CalendarDate(year: 1999, month: 12, day: 31)
        let late = try CalendarDate(year: 2000, month: 1, day: 1)
        #expect(early < late)
        #expect(try CalendarDate(year: 2000, month: 2, day: 1) > CalendarDate(year: 2000, month: 1, day: 31))
        #expect(early.description == "1999-12-31")
        #expect(try CalendarDate(year: 987, month: 6, day: 5).description == "0987-06-05")
    }

    @Test(
        "days since 1970 convert both ways",
        arguments: [
            (0, 1970, 1, 1), (-1, 1969, 12, 31), (11_016, 2000, 2, 29), (-25_567, 1900, 1, 1),
            (2_932_896, 9999, 12, 31), (-719_162, 1, 1, 1),
        ])
    func daysSince1970(days: Int, year: Int, month: Int, day: Int) throws {
        let date = try CalendarDate(year: year, month: month, day: day)
        #expect(CalendarDate(daysSince1970: days) == date)
        #expect(date.daysSince1970 == days)
    }

    @Test("the wall clock is read in the given zone")
    func secondsSince1970() throws {
        // 1_700_000_000 is 2023-11-14 22:13:20 UTC, already the 15th in Beijing.
        #expect(
            CalendarDate(secondsSince1970: 1_700_000_000, utcOffsetSeconds: 0)
                == (try CalendarDate(year: 2023, month: 11, day: 14)))
        #expect(
            CalendarDate(
                secondsSince1970: 1_700_000_000, utcOffsetSeconds: CalendarDate.chinaStandardTimeOffset)
                == (try CalendarDate(year: 2023, month: 11, day: 15)))
        #expect(
            CalendarDate(secondsSince1970: -1, utcOffsetSeconds: 0)
                == (try CalendarDate(year: 1969, month: 12, day: 31)))
        #expect(CalendarDate.today() > (try CalendarDate(year: 2024, month: 1, day: 1)))
    }
}
