//! Build progress on stderr, as BuildKit shows it: [`Plain`] writes one
//! line per event (`#3 [2/3] RUN make`, `#3 DONE 0.4s`), for logs and CI;
//! [`Tty`] keeps one live line per running step (an `indicatif` spinner
//! with the elapsed time) and collapses finished steps to
//! `=> [2/3] RUN make  0.4s` or `=> CACHED [1/3] ...`; a failed step shows
//! the last lines of its output. [`TtyState`] turns events into those
//! lines without a terminal, so the format is tested on its own.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rdock_engine::BuildEvent;

use crate::cli::Progress;

/// How many lines of a failed step's output the tty display keeps.
const FAILED_TAIL: usize = 10;

/// Shows build events and the final export lines.
pub trait Render {
    /// One builder event.
    fn event(&mut self, event: BuildEvent);
    /// The export step (`exporting to image`) with its detail lines.
    fn exported(&mut self, title: &str, details: &[String]);
}

/// The renderer for `--progress`: `auto` is `tty` when stderr is a
/// terminal.
pub fn renderer(mode: Progress) -> Box<dyn Render> {
    let tty = match mode {
        Progress::Plain => false,
        Progress::Tty => true,
        Progress::Auto => std::io::stderr().is_terminal(),
        Progress::Quiet => return Box::new(Quiet),
    };
    if tty {
        Box::new(Tty::new(ProgressDrawTarget::stderr()))
    } else {
        Box::new(Plain::default())
    }
}

/// `--progress=quiet` and `-q`: nothing.
struct Quiet;

impl Render for Quiet {
    fn event(&mut self, _: BuildEvent) {}
    fn exported(&mut self, _: &str, _: &[String]) {}
}

/// `--progress=plain`: BuildKit's line-per-event output.
#[derive(Debug, Default)]
pub struct Plain {
    started: HashMap<usize, Instant>,
}

impl Plain {
    fn write(&mut self, event: BuildEvent, out: &mut impl Write) -> std::io::Result<()> {
        match event {
            BuildEvent::Started { id, name } => {
                self.started.insert(id, Instant::now());
                writeln!(out, "#{id} {name}")
            }
            BuildEvent::Output { id, line } => {
                let secs = self
                    .started
                    .get(&id)
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                writeln!(out, "#{id} {secs:.3} {line}")
            }
            BuildEvent::Cached { id } => writeln!(out, "#{id} CACHED\n"),
            BuildEvent::Finished { id, error, elapsed } => match error {
                None => writeln!(out, "#{id} DONE {:.1}s\n", elapsed.as_secs_f64()),
                Some(e) => writeln!(out, "#{id} ERROR: {e}\n"),
            },
        }
    }
}

impl Render for Plain {
    fn event(&mut self, event: BuildEvent) {
        // Progress is best effort: a closed stderr does not stop the build.
        let _ = self.write(event, &mut std::io::stderr().lock());
    }

    fn exported(&mut self, title: &str, details: &[String]) {
        let n = self.started.keys().max().map_or(1, |n| n + 1);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "#{n} {title}");
        for line in details {
            let _ = writeln!(err, "#{n} {line}");
        }
        let _ = writeln!(err, "#{n} DONE 0.0s");
    }
}

/// `=> NAME  0.4s`, BuildKit's line for a finished step.
pub fn done_line(name: &str, elapsed: Duration) -> String {
    format!("=> {name}  {:.1}s", elapsed.as_secs_f64())
}

/// `=> CACHED NAME`, for a step taken from the cache.
pub fn cached_line(name: &str) -> String {
    format!("=> CACHED {name}")
}

/// The tty display's bookkeeping: step names and their recent output.
#[derive(Debug, Default)]
pub struct TtyState {
    names: HashMap<usize, String>,
    logs: HashMap<usize, VecDeque<String>>,
}

impl TtyState {
    /// The lines to print above the live display once `event` happened
    /// (none while a step runs).
    pub fn lines(&mut self, event: &BuildEvent) -> Vec<String> {
        match event {
            BuildEvent::Started { id, name } => {
                self.names.insert(*id, name.clone());
                Vec::new()
            }
            BuildEvent::Output { id, line } => {
                let log = self.logs.entry(*id).or_default();
                if log.len() == FAILED_TAIL {
                    log.pop_front();
                }
                log.push_back(line.clone());
                Vec::new()
            }
            BuildEvent::Cached { id } => vec![cached_line(&self.name(*id))],
            BuildEvent::Finished { id, error, elapsed } => {
                let name = self.name(*id);
                let log = self.logs.remove(id).unwrap_or_default();
                match error {
                    None => vec![done_line(&name, *elapsed)],
                    Some(e) => {
                        let mut out = vec![
                            format!(
                                "=> ERROR {}",
                                done_line(&name, *elapsed).trim_start_matches("=> ")
                            ),
                            "------".to_owned(),
                            format!(" > {name}:"),
                        ];
                        out.extend(log.into_iter().map(|l| format!("   {l}")));
                        out.push("------".to_owned());
                        out.push(format!("ERROR: {e}"));
                        out
                    }
                }
            }
        }
    }

    fn name(&self, id: usize) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }
}

/// `--progress=tty`: live spinners for running steps over the lines of
/// finished ones.
#[derive(Debug)]
pub struct Tty {
    multi: MultiProgress,
    bars: HashMap<usize, ProgressBar>,
    state: TtyState,
    started: Instant,
}

impl Tty {
    /// A display drawing to `target` (hidden in tests).
    pub fn new(target: ProgressDrawTarget) -> Tty {
        Tty {
            multi: MultiProgress::with_draw_target(target),
            bars: HashMap::new(),
            state: TtyState::default(),
            started: Instant::now(),
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner} {wide_msg} {secs}")
            .expect("a valid template")
            .with_key(
                "secs",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1}s", s.elapsed().as_secs_f64());
                },
            )
    }

    fn print(&self, lines: Vec<String>) {
        for line in lines {
            // A hidden target prints nothing; stderr errors are ignored.
            let _ = self.multi.println(line);
        }
    }
}

impl Render for Tty {
    fn event(&mut self, event: BuildEvent) {
        let lines = self.state.lines(&event);
        match &event {
            BuildEvent::Started { id, name } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(Tty::style());
                bar.set_message(name.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                self.bars.insert(*id, bar);
            }
            BuildEvent::Output { id, line } => {
                if let (Some(bar), Some(name)) = (self.bars.get(id), self.state.names.get(id)) {
                    bar.set_message(format!("{name}  # {line}"));
                }
            }
            BuildEvent::Cached { id } | BuildEvent::Finished { id, .. } => {
                if let Some(bar) = self.bars.remove(id) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
            }
        }
        self.print(lines);
    }

    fn exported(&mut self, title: &str, details: &[String]) {
        let mut lines: Vec<String> = details.iter().map(|d| format!("=> => {d}")).collect();
        lines.insert(0, done_line(title, Duration::ZERO));
        self.print(lines);
        let _ = self.multi.clear();
        let total = self.started.elapsed().as_secs_f64();
        let _ = self.multi.println(format!("Build finished in {total:.1}s"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_lines_collapse_like_buildkit() {
        let mut state = TtyState::default();
        let events = [
            BuildEvent::Started {
                id: 1,
                name: "[internal] load build definition from Dockerfile".into(),
            },
            BuildEvent::Finished {
                id: 1,
                error: None,
                elapsed: Duration::from_millis(10),
            },
            BuildEvent::Started {
                id: 2,
                name: "[1/3] COPY a /a".into(),
            },
            BuildEvent::Cached { id: 2 },
            BuildEvent::Started {
                id: 3,
                name: "[2/3] RUN make".into(),
            },
            BuildEvent::Output {
                id: 3,
                line: "compiling".into(),
            },
            BuildEvent::Output {
                id: 3,
                line: "make: *** [all] Error 2".into(),
            },
            BuildEvent::Finished {
                id: 3,
                error: Some(
                    "process \"/bin/sh -c make\" did not complete successfully: exit code: 2"
                        .into(),
                ),
                elapsed: Duration::from_millis(420),
            },
        ];
        let lines: Vec<String> = events.iter().flat_map(|e| state.lines(e)).collect();
        assert_eq!(
            lines,
            [
                "=> [internal] load build definition from Dockerfile  0.0s",
                "=> CACHED [1/3] COPY a /a",
                "=> ERROR [2/3] RUN make  0.4s",
                "------",
                " > [2/3] RUN make:",
                "   compiling",
                "   make: *** [all] Error 2",
                "------",
                "ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
            ]
        );
    }

    #[test]
    fn failed_step_keeps_only_the_last_lines() {
        let mut state = TtyState::default();
        state.lines(&BuildEvent::Started {
            id: 1,
            name: "[1/1] RUN x".into(),
        });
        for i in 0..25 {
            state.lines(&BuildEvent::Output {
                id: 1,
                line: format!("line {i}"),
            });
        }
        let lines = state.lines(&BuildEvent::Finished {
            id: 1,
            error: Some("failed".into()),
            elapsed: Duration::ZERO,
        });
        assert_eq!(lines[3], "   line 15");
        assert_eq!(lines.len(), 3 + FAILED_TAIL + 2);
    }

    #[test]
    fn tty_renderer_runs_on_a_hidden_target() {
        let mut tty = Tty::new(ProgressDrawTarget::hidden());
        tty.event(BuildEvent::Started {
            id: 1,
            name: "[1/1] RUN true".into(),
        });
        assert_eq!(tty.bars.len(), 1);
        tty.event(BuildEvent::Finished {
            id: 1,
            error: None,
            elapsed: Duration::ZERO,
        });
        assert!(tty.bars.is_empty());
        tty.exported(
            "exporting to image",
            &["writing image sha256:x done".into()],
        );
    }
}
