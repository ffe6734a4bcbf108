//! What a run cost the machine: CPU time (process, and per group of named threads) and peak
//! resident memory, read from the kernel (getrusage, /proc). Linux only; elsewhere the figures
//! are absent rather than wrong.

use std::time::Duration;

/// CPU time (user + system) of the whole process so far, dead threads included.
pub fn process_cpu() -> Option<Duration> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given, which points to
    // a zeroed value of that type that lives across the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage succeeded, so the value is initialised (it was zeroed anyway).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Some(tv(ru.ru_utime) + tv(ru.ru_stime))
}

/// CPU time of the live threads of this process whose name starts with `prefix` (tokio names
/// a runtime's threads; see `bench::start_world`). Resolution: one clock tick (usually 10 ms).
pub fn threads_cpu(prefix: &str) -> Option<Duration> {
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0)?;
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        if let Some((name, t)) = parse_stat(&stat) {
            if name.starts_with(prefix) {
                total += t;
            }
        }
    }
    Some(Duration::from_secs_f64(total as f64 / ticks as f64))
}

/// The thread name and utime + stime (ticks) of a `/proc/.../stat` line. The name sits in
/// parentheses and may hold spaces or parentheses itself: the fields follow the last `)`.
fn parse_stat(stat: &str) -> Option<(&str, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    // After the name: state (3), ppid ... utime is field 14, stime 15 (1-based overall).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((name, utime + stime))
}

/// Peak resident memory of the process (VmHWM), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kb(&status, "VmHWM:").map(|kb| kb * 1024)
}

/// Current resident memory of the process (VmRSS), in bytes.
pub fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_kb(&status, "VmRSS:").map(|kb| kb * 1024)
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine, as `lab bench` records it: cores, CPU model, memory.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = status_kb(&meminfo, "MemTotal:").map_or(0.0, |kb| kb as f64 / 1024.0 / 1024.0);
    format!("{cores} cores (nproc), {model}, {ram_gib:.1} GiB RAM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let line = "123 (ifo-w (1)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0";
        assert_eq!(parse_stat(line), Some(("ifo-w (1)", 300)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(status_kb("VmHWM:\t  2048 kB\n", "VmHWM:"), Some(2048));
    }

    #[test]
    fn reads_this_process() {
        assert!(process_cpu().is_some());
        assert!(peak_rss().unwrap_or(0) > 0);
        assert!(threads_cpu("").is_some());
    }
}
