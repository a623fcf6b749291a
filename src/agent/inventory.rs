//! What the machine is, for `Hello` and the server list: hostname, serial number, MAC
//! addresses, CPU, memory, OS and uptime, read from `/sys` and `/proc`. Anything
//! unreadable is left empty rather than failing the call.

use std::path::Path;

use confsync_engine::server::Inventory;

/// Settings that describe the server rather than the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `primary` or `backup`, as configured.
    pub role: Option<String>,
    /// A serial number to report when the hardware's cannot be read.
    pub serial: Option<String>,
}

/// This machine's host name (empty when unreadable).
pub fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_default()
}

pub fn collect(identity: &Identity) -> Inventory {
    let (serial_number, serial_source) = serial(identity);
    let (cpu_model, cpu_count) = cpu();
    Inventory {
        role: identity.role.clone().unwrap_or_default(),
        serial_number,
        serial_source: serial_source.to_string(),
        mac_addresses: mac_addresses(Path::new("/sys/class/net")),
        cpu_model,
        cpu_count,
        memory_bytes: memory_bytes(),
        os: os_name(),
        uptime_seconds: uptime_seconds(),
    }
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// DMI if readable (usually root only), else configured, else the machine id.
fn serial(identity: &Identity) -> (String, &'static str) {
    let placeholder = |s: &String| {
        let lower = s.to_ascii_lowercase();
        lower.contains("to be filled")
            || lower == "default string"
            || lower == "none"
            || lower == "0"
    };
    if let Some(dmi) = read_trimmed("/sys/class/dmi/id/product_serial").filter(|s| !placeholder(s))
    {
        return (dmi, "dmi");
    }
    if let Some(configured) = identity.serial.clone() {
        return (configured, "config");
    }
    match read_trimmed("/etc/machine-id") {
        Some(id) => (id, "machine-id"),
        None => (String::new(), "unknown"),
    }
}

/// Hardware addresses of the network interfaces, loopback and all-zero ones left out.
pub fn mac_addresses(net: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(net) else { return Vec::new() };
    let mut macs: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_name() != "lo")
        .filter_map(|e| read_trimmed(e.path().join("address")))
        .filter(|mac| mac != "00:00:00:00:00:00")
        .collect();
    macs.sort();
    macs.dedup();
    macs
}

fn cpu() -> (String, u32) {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| {
            l.starts_with("model name") || l.starts_with("Model") || l.starts_with("Hardware")
        })
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let count =
        std::thread::available_parallelism().map_or(0, |n| u32::try_from(n.get()).unwrap_or(0));
    (model, count)
}

fn memory_bytes() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn os_name() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

fn uptime_seconds() -> u64 {
    read_trimmed("/proc/uptime")
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map_or(0, |secs| secs as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_this_machine() {
        let inventory =
            collect(&Identity { role: Some("backup".into()), serial: Some("SN-1".into()) });
        assert_eq!(inventory.role, "backup");
        assert!(!inventory.serial_number.is_empty(), "{inventory:?}");
        assert!(inventory.memory_bytes > 0 && inventory.cpu_count > 0, "{inventory:?}");
        assert!(!inventory.os.is_empty());
    }

    #[test]
    fn mac_addresses_skip_loopback_and_zero() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (dev, mac) in [
            ("lo", "00:00:00:00:00:00"),
            ("eth0", "52:54:00:12:34:56"),
            ("dummy", "00:00:00:00:00:00"),
        ] {
            std::fs::create_dir(tmp.path().join(dev)).expect("mkdir");
            std::fs::write(tmp.path().join(dev).join("address"), format!("{mac}\n"))
                .expect("write");
        }
        assert_eq!(mac_addresses(tmp.path()), ["52:54:00:12:34:56"]);
    }
}
