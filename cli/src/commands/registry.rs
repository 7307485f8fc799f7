//! `rdock pull`, `push`, `login` and `logout`, with docker's wording on
//! standard output. `login` checks the credentials with the registry
//! before it writes them to docker's `config.json`. Pull and push show one
//! live bar per layer on a terminal, else one line per layer state
//! (`a1b2c3d4e5f6: Pull complete`), then the `Digest:` and `Status:`
//! lines. [`Transfers`] renders engine [`TransferEvent`]s.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rdock_engine::{
    Digest, ImageRef, PullOptions, PushOptions, RegistryOptions, Store, TransferEvent,
};

use crate::cli::{LoginArgs, LogoutArgs, PullArgs, PushArgs};

/// The registry options of the command line, `RDOCK_INSECURE_REGISTRIES`
/// and `RDOCK_PUSH_CHUNK_SIZE` (bytes: larger blobs are pushed in PATCH
/// chunks of this size; 16 MiB when unset).
pub fn options(insecure: &[String]) -> anyhow::Result<RegistryOptions> {
    let push_chunk_size = match std::env::var("RDOCK_PUSH_CHUNK_SIZE") {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => anyhow::bail!(
                "invalid RDOCK_PUSH_CHUNK_SIZE {text:?}: expected a number of bytes above 0"
            ),
        },
        Err(_) => None,
    };
    Ok(RegistryOptions {
        insecure: insecure.to_vec(),
        push_chunk_size,
    }
    .with_env(std::env::var("RDOCK_INSECURE_REGISTRIES").ok()))
}

/// Which way the layers go; picks docker's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Pull,
    Push,
}

/// The 12-digit short form docker shows for a layer.
fn short(digest: &Digest) -> &str {
    &digest.hex()[..12]
}

/// Docker's status words for an event, `None` for byte counts.
pub fn status(verb: Verb, event: &TransferEvent) -> Option<(&Digest, String)> {
    let pull = verb == Verb::Pull;
    if let TransferEvent::Mounted { digest, from } = event {
        return Some((digest, format!("Mounted from {from}")));
    }
    let (digest, word) = match event {
        TransferEvent::Waiting { digest, .. } if pull => (digest, "Pulling fs layer"),
        TransferEvent::Waiting { digest, .. } => (digest, "Preparing"),
        TransferEvent::Exists { digest } if pull => (digest, "Already exists"),
        TransferEvent::Exists { digest } => (digest, "Layer already exists"),
        TransferEvent::Progress { .. } => return None,
        TransferEvent::Transferred { digest } if pull => (digest, "Download complete"),
        TransferEvent::Transferred { digest } => (digest, "Pushed"),
        TransferEvent::Extracting { digest } => (digest, "Extracting"),
        TransferEvent::Complete { digest } => (digest, "Pull complete"),
        TransferEvent::Mounted { .. } => unreachable!("handled above"),
    };
    Some((digest, word.to_owned()))
}

/// Shows transfer events: live bars on a terminal, else plain lines.
#[derive(Debug)]
pub struct Transfers {
    verb: Verb,
    quiet: bool,
    live: Option<(MultiProgress, Mutex<HashMap<Digest, ProgressBar>>)>,
    /// Lines go to standard error (`rrun` pulling: stdout is the container's).
    stderr: bool,
}

impl Transfers {
    /// A display on standard output (bars when it is a terminal).
    pub fn new(verb: Verb, quiet: bool) -> Transfers {
        let live = (!quiet && std::io::stdout().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
            (multi, Mutex::new(HashMap::new()))
        });
        Transfers {
            verb,
            quiet,
            live,
            stderr: false,
        }
    }

    /// A display on standard error, as `docker run` shows the pull of a
    /// missing image.
    pub fn on_stderr(verb: Verb) -> Transfers {
        let live = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            (multi, Mutex::new(HashMap::new()))
        });
        Transfers {
            verb,
            quiet: false,
            live,
            stderr: true,
        }
    }

    fn write_line(&self, text: &str) {
        // Progress is best effort: a closed stream stops nothing.
        let _ = match self.stderr {
            true => writeln!(std::io::stderr().lock(), "{text}"),
            false => writeln!(std::io::stdout().lock(), "{text}"),
        };
    }

    /// Prints a line above the bars (or plainly).
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.live {
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => self.write_line(text),
        }
    }

    /// Prints a line below the finished bars (or plainly).
    pub fn after(&self, text: &str) {
        if !self.quiet {
            self.write_line(text);
        }
    }

    /// Shows one event.
    pub fn event(&self, event: TransferEvent) {
        if self.quiet {
            return;
        }
        let Some((multi, bars)) = &self.live else {
            // Extracting is a live-only state, as in docker's plain output.
            if let Some((digest, word)) = status(self.verb, &event) {
                if !matches!(event, TransferEvent::Extracting { .. }) {
                    self.line(&format!("{}: {word}", short(digest)));
                }
            }
            return;
        };
        let mut bars = bars.lock().expect("bars");
        if let TransferEvent::Progress {
            digest,
            done,
            total,
        } = &event
        {
            if let Some(bar) = bars.get(digest) {
                if bar.length() != Some(*total) {
                    bar.set_style(bar_style());
                    bar.set_length(*total);
                    bar.set_message(match self.verb {
                        Verb::Pull => "Downloading",
                        Verb::Push => "Pushing",
                    });
                }
                bar.set_position(*done);
            }
            return;
        }
        let Some((digest, word)) = status(self.verb, &event) else {
            return;
        };
        let bar = bars.entry(digest.clone()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(word_style());
            bar.set_prefix(short(digest).to_owned());
            bar
        });
        bar.set_style(word_style());
        bar.set_message(word);
        let last = matches!(
            (self.verb, &event),
            (
                _,
                TransferEvent::Exists { .. } | TransferEvent::Mounted { .. }
            ) | (Verb::Push, TransferEvent::Transferred { .. })
                | (_, TransferEvent::Complete { .. })
        );
        if last {
            bar.finish();
        }
    }
}

fn word_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template")
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg} [{bar:40}] {bytes}/{total_bytes}")
        .expect("a valid template")
        .progress_chars("=> ")
}

/// The tag or digest docker puts before `Pulling from`.
fn tag_or_digest(name: &ImageRef) -> &str {
    name.digest().or(name.tag()).unwrap_or("latest")
}

/// A reference parsed here rather than by clap, so a malformed one is
/// one `rdock:` line with exit code 1, as docker reports it.
fn reference(text: &str) -> anyhow::Result<ImageRef> {
    Ok(text.parse::<ImageRef>()?)
}

pub fn pull(store: &Store, args: &PullArgs, registry: RegistryOptions) -> anyhow::Result<ExitCode> {
    let name = reference(&args.name)?;
    let opts = PullOptions {
        platform: args.platform.as_deref().map(str::parse).transpose()?,
        jobs: 0,
        registry,
        skip_unpack: args.no_unpack,
    };
    let pulled = pull_shown(store, &name, &opts, Transfers::new(Verb::Pull, args.quiet))?;
    writeln!(std::io::stdout().lock(), "{}", pulled.name)?;
    Ok(ExitCode::SUCCESS)
}

/// Pulls `name`, showing docker's lines on `shown`: `Pulling from` once
/// the registry has answered, so a pull that fails first (no such tag or
/// host) prints nothing but its error, as docker's does.
fn pull_shown(
    store: &Store,
    name: &ImageRef,
    opts: &PullOptions,
    shown: Transfers,
) -> anyhow::Result<rdock_engine::Pulled> {
    let started = std::sync::Once::new();
    let header = || {
        started.call_once(|| {
            shown.line(&format!(
                "{}: Pulling from {}",
                tag_or_digest(name),
                name.path()
            ))
        })
    };
    let pulled = rdock_engine::pull(store, name, opts, &|e| {
        header();
        shown.event(e)
    })?;
    header();
    shown.after(&format!("Digest: {}", pulled.digest));
    let status = if pulled.up_to_date {
        "Image is up to date for"
    } else {
        "Downloaded newer image for"
    };
    shown.after(&format!("Status: {status} {}", name.familiar()));
    Ok(pulled)
}

/// `rrun` of an image the store lacks pulls it first, as `docker run`
/// does, showing the pull on standard error. Names that are not
/// references (IDs) are left to the run's own error.
pub fn pull_missing(store: &Store, image: &str, registry: RegistryOptions) -> anyhow::Result<()> {
    if rdock_engine::find_image(store, image).is_ok() {
        return Ok(());
    }
    let Ok(name) = image.parse::<ImageRef>() else {
        return Ok(());
    };
    if image.len() >= 12 && image.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(()); // an image ID prefix, not a name
    }
    let opts = PullOptions {
        platform: None,
        jobs: 0,
        registry,
        skip_unpack: false,
    };
    // docker's lines once the registry answered; a pull that fails before
    // (no such host, no such tag) is one error line naming the image.
    let missing = format!("Unable to find image '{}' locally", name.familiar());
    let shown = Transfers::on_stderr(Verb::Pull);
    let started = std::sync::Once::new();
    let header = || {
        started.call_once(|| {
            shown.write_line(&missing);
            shown.line(&format!(
                "{}: Pulling from {}",
                tag_or_digest(&name),
                name.path()
            ));
        })
    };
    let pulled = rdock_engine::pull(store, &name, &opts, &|e| {
        header();
        shown.event(e)
    })
    .map_err(|e| anyhow::Error::new(e).context(missing.clone()))?;
    header();
    shown.after(&format!("Digest: {}", pulled.digest));
    shown.after(&format!(
        "Status: Downloaded newer image for {}",
        name.familiar()
    ));
    Ok(())
}

pub fn push(store: &Store, args: &PushArgs, registry: RegistryOptions) -> anyhow::Result<ExitCode> {
    push_one(store, &reference(&args.name)?, args.quiet, registry)?;
    Ok(ExitCode::SUCCESS)
}

/// Pushes one stored name, showing docker's lines (`rdock push`, `rbuild --push`).
pub fn push_one(
    store: &Store,
    name: &ImageRef,
    quiet: bool,
    registry: RegistryOptions,
) -> anyhow::Result<()> {
    let opts = PushOptions { jobs: 0, registry };
    let shown = Transfers::new(Verb::Push, quiet);
    shown.line(&format!(
        "The push refers to repository [{}]",
        name.familiar_name()
    ));
    let pushed = rdock_engine::push(store, name, &opts, &|e| shown.event(e))?;
    shown.after(&format!(
        "{}: digest: {} size: {}",
        tag_or_digest(name),
        pushed.digest,
        pushed.size
    ));
    if quiet {
        writeln!(std::io::stdout().lock(), "{}", pushed.digest)?;
    }
    Ok(())
}

/// The password from `-p` or `--password-stdin` (one line, without its
/// line ending, as docker reads it).
fn password(args: &LoginArgs) -> anyhow::Result<String> {
    match (&args.password, args.password_stdin) {
        (Some(_), true) => anyhow::bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => {
            // As docker: a password on the command line lands in shell history.
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
                );
            }
            Ok(p.clone())
        }
        (None, true) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            Ok(text.trim_end_matches(['\n', '\r']).to_owned())
        }
        (None, false) => {
            anyhow::bail!("a password is required: give --password-stdin (or -p PASSWORD)")
        }
    }
}

pub fn login(args: &LoginArgs, registry: RegistryOptions) -> anyhow::Result<ExitCode> {
    let Some(username) = args.username.as_deref().filter(|u| !u.is_empty()) else {
        anyhow::bail!("a username is required: give -u USERNAME");
    };
    let password = password(args)?;
    if password.is_empty() {
        anyhow::bail!("the password is empty");
    }
    rdock_engine::login(args.server.as_deref(), username, &password, &registry)?;
    writeln!(std::io::stdout().lock(), "Login Succeeded")?;
    Ok(ExitCode::SUCCESS)
}

pub fn logout(args: &LogoutArgs) -> anyhow::Result<ExitCode> {
    let (server, erased) = rdock_engine::logout(args.server.as_deref())?;
    let mut out = std::io::stdout().lock();
    match erased {
        true => writeln!(out, "Removing login credentials for {server}")?,
        false => writeln!(out, "Not logged in to {server}")?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_docker_words() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let words = |verb, events: &[TransferEvent]| -> Vec<String> {
            events
                .iter()
                .filter_map(|e| status(verb, e))
                .map(|(d, w)| format!("{}: {w}", short(d)))
                .collect()
        };
        let pull = [
            TransferEvent::Waiting {
                digest: d.clone(),
                size: 5,
            },
            TransferEvent::Progress {
                digest: d.clone(),
                done: 1,
                total: 5,
            },
            TransferEvent::Transferred { digest: d.clone() },
            TransferEvent::Complete { digest: d.clone() },
        ];
        assert_eq!(
            words(Verb::Pull, &pull),
            [
                "abababababab: Pulling fs layer",
                "abababababab: Download complete",
                "abababababab: Pull complete"
            ]
        );
        let push = [
            TransferEvent::Waiting {
                digest: d.clone(),
                size: 5,
            },
            TransferEvent::Exists { digest: d.clone() },
        ];
        assert_eq!(
            words(Verb::Push, &push),
            [
                "abababababab: Preparing",
                "abababababab: Layer already exists"
            ]
        );
    }

    #[test]
    fn live_bars_run_on_a_hidden_target() {
        let d: Digest = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
        let shown = Transfers {
            verb: Verb::Pull,
            quiet: false,
            live: Some((
                MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
                Mutex::new(HashMap::new()),
            )),
            stderr: false,
        };
        shown.event(TransferEvent::Waiting {
            digest: d.clone(),
            size: 10,
        });
        shown.event(TransferEvent::Progress {
            digest: d.clone(),
            done: 4,
            total: 10,
        });
        let bars = shown.live.as_ref().unwrap().1.lock().unwrap();
        assert_eq!(bars[&d].position(), 4);
        assert_eq!(bars[&d].length(), Some(10));
    }
}
