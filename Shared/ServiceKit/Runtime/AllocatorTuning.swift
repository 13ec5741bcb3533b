#if canImport(Glibc)
import CMalloc
#endif

/// glibc's allocator, set for a long-running server: blocks up to 32 MiB come from the heap
/// rather than fresh mappings, and freed memory is handed back to the system only past
/// 256 MiB (keeping 64 MiB of headroom when the heap grows). With the defaults a server
/// that allocates and frees batches of rows mapped, zero-filled and unmapped memory over and
/// over. perf during durable creates: malloc and free ~13.6 % of the registry's CPU and the
/// kernel clearing new pages 2.6 % before; ~8.3 % and 0.24 % with these settings. Creates
/// per second, alternating rounds on one database copy: 1.05–1.17× with the same settings
/// given as GLIBC_TUNABLES, 0.97–1.20× (median 1.01) for this code; the machine's noise is
/// about as large as the gain.
public enum AllocatorTuning {
    /// Applies the settings once, at start (no effect where glibc is not the allocator).
    public static func apply() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
        _ = mallopt(M_TOP_PAD, 64 << 20)
        #endif
    }
}
