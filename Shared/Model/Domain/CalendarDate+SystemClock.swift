// The only domain-rule file that imports the C library: it reads the wall clock, which the
// Swift standard library does not offer.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension CalendarDate {
    /// China Standard Time, UTC+8, the zone in which the suite's dates are meant.
    public static let chinaStandardTimeOffset = 8 * 3600

    /// Today's date by the system clock in a zone `utcOffsetSeconds` east of UTC (China
    /// Standard Time unless told otherwise).
    public static func today(utcOffsetSeconds: Int = CalendarDate.chinaStandardTimeOffset)
        -> CalendarDate
    {
        CalendarDate(secondsSince1970: Int(time(nil)), utcOffsetSeconds: utcOffsetSeconds)
    }
}
