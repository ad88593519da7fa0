//! Host port checks (`docs/install.md`).

use std::net::TcpListener;
use std::process::Command;

use crate::{Error, Result};

/// `--port`, else `APPSTRATE_PORT`, else 3000; empty means unset. Strict:
/// a decimal integer in 1..=65535.
pub fn parse_port(flag: Option<&str>, env: Option<&str>) -> Result<u16> {
    let raw = flag
        .filter(|s| !s.is_empty())
        .or(env.filter(|s| !s.is_empty()));
    match raw {
        None => Ok(3000),
        Some(raw) => parse_port_value(raw).ok_or_else(|| {
            Error::new(format!(
                "Invalid --port value \"{raw}\". Expected an integer in the range 1..65535."
            ))
        }),
    }
}

pub fn parse_port_value(raw: &str) -> Option<u16> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Free if a listener can bind `0.0.0.0:<port>` (then closed at once).
pub fn is_port_available(port: i64) -> bool {
    if !(1..=65535).contains(&port) {
        return false;
    }
    TcpListener::bind(("0.0.0.0", port as u16)).is_ok()
}

/// `cmd (pid N)` of the listener on `port`, via `lsof`, then `ss`.
pub fn describe_process_on_port(port: u16) -> Option<String> {
    if let Ok(out) = Command::new("lsof")
        .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-F", "pc"])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let mut pid = None;
        let mut cmd = None;
        for line in text.lines() {
            if let Some(p) = line.strip_prefix('p') {
                pid.get_or_insert_with(|| p.to_string());
            } else if let Some(c) = line.strip_prefix('c') {
                cmd.get_or_insert_with(|| c.to_string());
            }
        }
        if let Some(pid) = pid {
            return Some(match cmd {
                Some(cmd) => format!("{cmd} (pid {pid})"),
                None => format!("pid {pid}"),
            });
        }
    }
    let out = Command::new("ss")
        .args(["-Hlntp", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find("users:((\"")? + "users:((\"".len();
    let rest = &text[start..];
    let name = &rest[..rest.find('"')?];
    let pid_start = rest.find("pid=")? + 4;
    let pid: String = rest[pid_start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some(format!("{name} (pid {pid})"))
}

/// The first free port in `port+1 ..= port+20` (never above 65535).
pub fn auto_pick(port: u16) -> Option<u16> {
    (1..=20u32)
        .map(|i| port as u32 + i)
        .take_while(|p| *p <= 65535)
        .map(|p| p as u16)
        .find(|p| is_port_available(*p as i64))
}

/// Who holds a port, for a message: `node (pid 42)`, or "another
/// program" when it cannot be told (no `lsof`/`ss`, another user's process).
pub fn holder_name(holder: &Option<String>) -> String {
    holder
        .clone()
        .unwrap_or_else(|| "another program".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert_eq!(parse_port(None, None).unwrap(), 3000);
        assert_eq!(parse_port(Some("8080"), Some("9090")).unwrap(), 8080);
        assert_eq!(parse_port(None, Some("9090")).unwrap(), 9090);
        assert_eq!(parse_port(Some(""), Some("")).unwrap(), 3000);
        for bad in ["0", "65536", "x", "3000.0", "0x50", "-1", " 80"] {
            assert!(
                parse_port(Some(bad), None)
                    .unwrap_err()
                    .message
                    .contains("Invalid --port value"),
                "{bad}"
            );
        }
    }

    #[test]
    fn availability_and_auto_pick() {
        let held = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(!is_port_available(port as i64));
        assert!(!is_port_available(-1));
        let picked = auto_pick(port).unwrap();
        assert!(picked > port);
        let hint = describe_process_on_port(port);
        if let Some(h) = hint {
            assert!(h.contains(&format!("pid {}", std::process::id())), "{h}");
        }
        drop(held);
        assert!(is_port_available(port as i64));
    }
}
