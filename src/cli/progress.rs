//! Showing apply progress: bars on a terminal (one per destination), JSON lines with
//! `--json`, nothing otherwise. The engine reports; this only draws.

use std::io::IsTerminal;
use std::time::Duration;

use confsync_engine::progress::{Phase, ProgressEvent};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::events::Event;

pub enum ProgressDisplay {
    Bars(MultiProgress),
    Json,
    Silent,
}

impl ProgressDisplay {
    /// Bars only when stderr is a terminal that can draw them.
    pub fn choose(json: bool) -> ProgressDisplay {
        let dumb = std::env::var("TERM").map_or(true, |t| t.is_empty() || t == "dumb");
        if json {
            ProgressDisplay::Json
        } else if std::io::stderr().is_terminal() && !dumb {
            ProgressDisplay::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            ProgressDisplay::Silent
        }
    }

    pub fn destination(&self, name: &str) -> DestinationProgress {
        let bar = match self {
            ProgressDisplay::Bars(multi) => {
                let bar = multi.add(ProgressBar::new(0));
                let style = ProgressStyle::with_template(
                    "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                Some(bar)
            }
            _ => None,
        };
        DestinationProgress {
            bar,
            json: matches!(self, ProgressDisplay::Json),
            name: name.to_string(),
        }
    }
}

pub struct DestinationProgress {
    bar: Option<ProgressBar>,
    json: bool,
    name: String,
}

impl DestinationProgress {
    pub fn update(&self, event: &ProgressEvent) {
        if let Some(bar) = &self.bar {
            bar.set_length(event.bytes_total);
            bar.set_position(event.bytes_done);
            let what = match event.phase {
                Phase::Planning => "planning".to_string(),
                Phase::Transferring => format!(
                    "{}/{} files {}",
                    event.files_done, event.files_total, event.current_file
                ),
                Phase::Committing => "committing".to_string(),
                Phase::Done => "done".to_string(),
            };
            bar.set_message(what);
        } else if self.json {
            Event::Progress { destination: &self.name, progress: event }.print();
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar counting `total` bytes of one job (an export, an upload) on a terminal; hidden
/// otherwise (and with `--json`), so that it can be advanced either way.
pub fn bytes_bar(name: &str, total: u64, json: bool) -> ProgressBar {
    if !matches!(ProgressDisplay::choose(json), ProgressDisplay::Bars(_)) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    bar
}
