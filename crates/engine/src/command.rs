//! Running an administrator's command (a check before a commit, a hook after one): the
//! agent's own user, no shell unless the command names one, a timeout after which the
//! whole process group is killed, and the tail of what it printed kept for the report.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

/// Bytes of output kept: enough for a linter's complaint, bounded whatever it prints.
pub const OUTPUT_TAIL: usize = 4096;

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ran {
    /// The command as configured, words joined by spaces.
    pub command: String,
    /// Its exit code; `None` when it was killed (its timeout) or ended by a signal.
    pub status: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    /// The last [`OUTPUT_TAIL`] bytes of its standard output and error, as text.
    pub output: String,
    pub duration_ms: u64,
}

impl Ran {
    pub fn succeeded(&self) -> bool {
        self.status == Some(0)
    }

    /// "exited with 2", "killed after its 5s timeout", "ended by a signal".
    pub fn ending(&self) -> String {
        match (self.status, self.timed_out) {
            (_, true) => "was killed at its timeout".to_string(),
            (Some(0), _) => "succeeded".to_string(),
            (Some(code), _) => format!("exited with {code}"),
            (None, _) => "was ended by a signal".to_string(),
        }
    }
}

/// Runs `argv` in `cwd` with `env` added, for at most `timeout`; an error only when it
/// could not be started at all (the message names the command).
pub async fn run(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    timeout: Duration,
) -> Result<Ran, String> {
    let command = argv.join(" ");
    let (program, args) = argv.split_first().ok_or("the command is empty")?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout ends whatever it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let output = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = read_tail(s, &mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = read_tail(s, &mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        out.extend_from_slice(&err);
        out
    };
    let waited = tokio::time::timeout(timeout, async {
        let (output, status) = tokio::join!(output, child.wait());
        (output, status)
    })
    .await;
    let (status, timed_out, output) = match waited {
        Ok((output, status)) => (status.ok().and_then(|s| s.code()), false, output),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill().await;
            (None, true, Vec::new())
        }
    };
    let keep = output.len().saturating_sub(OUTPUT_TAIL);
    Ok(Ran {
        command,
        status,
        timed_out,
        output: String::from_utf8_lossy(&output[keep..]).trim_end().to_string(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Reads `from` to its end, keeping only the last [`OUTPUT_TAIL`] bytes in `tail`.
async fn read_tail<R: tokio::io::AsyncRead + Unpin>(
    from: &mut R,
    tail: &mut Vec<u8>,
) -> std::io::Result<()> {
    let mut buffer = [0u8; 4096];
    loop {
        let n = from.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        tail.extend_from_slice(&buffer[..n]);
        if tail.len() > 2 * OUTPUT_TAIL {
            tail.drain(..tail.len() - OUTPUT_TAIL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    #[tokio::test]
    async fn a_command_reports_its_status_and_output_and_is_killed_at_its_timeout() {
        let cwd = std::env::temp_dir();
        let env = [("GREETING".to_string(), "hello".to_string())];
        let script = vec!["sh".into(), "-c".into(), "echo $GREETING; echo oops >&2; exit 3".into()];
        let ran = run(&script, &env, &cwd, Duration::from_secs(10)).await.expect("ran");
        assert_eq!(ran.status, Some(3));
        assert!(ran.output.contains("hello") && ran.output.contains("oops"), "{ran:?}");
        assert_eq!(ran.ending(), "exited with 3");

        // A child that keeps the pipe open is killed with its group at the timeout.
        let hang = vec!["sh".into(), "-c".into(), "sleep 30 & sleep 30".into()];
        let started = Instant::now();
        let ran = run(&hang, &[], &cwd, Duration::from_millis(300)).await.expect("ran");
        assert!(ran.timed_out && ran.status.is_none(), "{ran:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

        let missing = run(&words("/nonexistent/lint"), &[], &cwd, Duration::from_secs(1)).await;
        assert!(missing.expect_err("cannot start").contains("/nonexistent/lint"));
    }
}
