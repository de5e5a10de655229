//! Every byte kvsim writes goes through here: standard output through [`Stdout`], files through
//! [`write_to`] / [`write_via_temp`].
//!
//! Files are replaced only when it is safe to: a regular file (or a new one) is written to a
//! temporary file in the same directory, synced, given the target's permissions and owner, and
//! renamed over it, so it appears complete or not at all. Anything else is written in place: a
//! character device (`/dev/null`), a FIFO, or `-` (standard output) are opened and written, never
//! replaced; a symlink is followed to its target, which is then treated the same way. An output
//! that is one of the command's inputs is refused. SIGINT/SIGTERM remove any temporary file.

use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Standard output through a checked writer: every failure is an [`Error`] (a closed pipe is
/// [`Error::BrokenPipe`]), never a panic as with `print!`.
pub struct Stdout;

impl Stdout {
    /// Writes `text` and flushes it.
    pub fn write(text: &str) -> Result<()> {
        let out = std::io::stdout();
        let mut lock = out.lock();
        lock.write_all(text.as_bytes())
            .and_then(|()| lock.flush())
            .map_err(|e| Error::write("standard output", &e))
    }
}

/// What a command prints: its data (for standard output or `-o FILE`) and the notes and warnings
/// that go to standard error, never mixed with the data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Printed {
    pub data: String,
    pub notes: Vec<String>,
}

impl From<String> for Printed {
    fn from(data: String) -> Printed {
        Printed {
            data,
            notes: Vec::new(),
        }
    }
}

/// `-o/--output FILE`, flattened into every command that prints data.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArg {
    /// Write the output to this file instead of standard output (complete or not at all: written
    /// beside it, then renamed; `-` is standard output). Notes and warnings still go to standard
    /// error.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<String>,
}

impl OutputArg {
    /// Writes `p`'s data to the file given (which must not be one of `inputs`), else to standard
    /// output; then its notes to standard error.
    pub fn emit(&self, p: &Printed, inputs: &[String]) -> Result<()> {
        match &self.output {
            None => Stdout::write(&p.data)?,
            Some(path) => {
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                write_to(path, &inputs, |w| {
                    w.write_all(p.data.as_bytes())
                        .map_err(|e| Error::write(path, &e))
                })?
            }
        }
        for n in &p.notes {
            note(n);
        }
        Ok(())
    }
}

/// Writes a line to standard error; a closed or full standard error is ignored (nothing is left
/// to tell), where `eprintln!` would panic.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Where an output path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `-`: standard output.
    Stdout,
    /// A regular file (existing or not), after following symlinks: replaced atomically.
    File(PathBuf),
    /// A character device, FIFO or socket: opened and written in place, never replaced.
    Stream(PathBuf),
}

fn cannot(path: &str, reason: impl std::fmt::Display) -> Error {
    Error::Write {
        file: path.to_string(),
        reason: reason.to_string(),
    }
}

/// Classifies `path` (following symlinks) and refuses it if it is one of `inputs` (the scenario,
/// model or chip files of the command): overwriting an input loses it.
pub fn target(path: &str, inputs: &[&str]) -> Result<Target> {
    if path == "-" {
        return Ok(Target::Stdout);
    }
    if path.is_empty() {
        return Err(Error::field(
            "command line",
            "--output",
            "an empty path",
            "a file name or -",
        ));
    }
    let p = Path::new(path);
    // Follow a (chain of) symlink(s) to the file it names, even a dangling one (then created).
    let resolved = match std::fs::canonicalize(p) {
        Ok(r) => r,
        Err(_) => match std::fs::read_link(p) {
            Ok(link) => p.parent().map_or(link.clone(), |d| d.join(link)),
            Err(_) => p.to_path_buf(),
        },
    };
    let meta = match std::fs::metadata(&resolved) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(cannot(path, e)),
    };
    if let Some(m) = &meta {
        for input in inputs {
            if let Ok(im) = std::fs::metadata(input) {
                if im.dev() == m.dev() && im.ino() == m.ino() {
                    return Err(Error::field(
                        "command line",
                        "--output",
                        path,
                        format!("a path other than the input `{input}` (it would be overwritten)"),
                    ));
                }
            }
        }
    }
    Ok(match meta {
        None => Target::File(resolved),
        Some(m) if m.is_file() => {
            if m.permissions().readonly() {
                return Err(cannot(path, "the file is read-only"));
            }
            Target::File(resolved)
        }
        Some(m) if m.is_dir() => return Err(cannot(path, "it is a directory")),
        Some(m) => {
            let t = m.file_type();
            if t.is_char_device() || t.is_fifo() || t.is_socket() {
                Target::Stream(resolved)
            } else {
                return Err(cannot(
                    path,
                    "it is neither a regular file nor a device or FIFO",
                ));
            }
        }
    })
}

/// Temporary files that exist right now, removed by the signal handler.
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// Installs (once) a thread that, on SIGINT or SIGTERM, removes the temporary files and exits
/// with 128 + the signal number, as a process killed by it would report.
fn install_handler() {
    HANDLER.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                if let Ok(list) = TEMPS.lock() {
                    for t in list.iter() {
                        let _ = std::fs::remove_file(t);
                    }
                }
                std::process::exit(128 + sig);
            }
        });
    });
}

/// A temporary file path, registered for removal on a signal until dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(path: PathBuf) -> Temp {
        install_handler();
        if let Ok(mut l) = TEMPS.lock() {
            l.push(path.clone());
        }
        Temp(path)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        // Removing a renamed temp fails harmlessly (it no longer exists under this name).
        let _ = std::fs::remove_file(&self.0);
        if let Ok(mut l) = TEMPS.lock() {
            l.retain(|p| p != &self.0);
        }
    }
}

/// A temporary path in `dir` named after `path`, with the same extension (plotters chooses the
/// image format by it).
fn temp_in(dir: &Path, path: &Path) -> PathBuf {
    let name = path
        .file_stem()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    dir.join(format!(".{name}.kvsim-{}.tmp{ext}", std::process::id()))
}

/// Moves the finished temporary file `tmp` over the regular file `dest`, keeping the target's
/// permissions and owner. When they cannot be kept (another user's file) or the file has other
/// hard links, the content is copied into the existing file instead, as a shell redirection would.
fn replace(path: &str, tmp: &Path, dest: &Path) -> Result<()> {
    if let Ok(old) = std::fs::metadata(dest) {
        let keep = std::fs::set_permissions(tmp, old.permissions()).is_ok()
            && std::os::unix::fs::chown(tmp, Some(old.uid()), Some(old.gid())).is_ok()
            && old.nlink() <= 1;
        if !keep {
            let mut src = std::fs::File::open(tmp).map_err(|e| cannot(path, e))?;
            let mut dst = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(dest)
                .map_err(|e| cannot(path, e))?;
            std::io::copy(&mut src, &mut dst).map_err(|e| cannot(path, e))?;
            return dst.sync_all().map_err(|e| cannot(path, e));
        }
    }
    if let Ok(f) = std::fs::File::open(tmp) {
        f.sync_all().map_err(|e| cannot(path, e))?;
    }
    std::fs::rename(tmp, dest).map_err(|e| cannot(path, e))?;
    // Make the rename itself durable; a directory that cannot be synced is not an error.
    if let Some(dir) = dest.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Lets `write` produce the output as a file at a temporary path, then puts it at `path` (see the
/// module docs); `inputs` are the command's input files, which `path` must not be. On failure or
/// a signal the temporary file is removed.
pub fn write_via_temp(
    path: &str,
    inputs: &[&str],
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    match target(path, inputs)? {
        Target::File(dest) => {
            let dir = match dest.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let tmp = Temp::new(temp_in(&dir, &dest));
            write(&tmp.0).map_err(|e| e.written_to(path))?;
            replace(path, &tmp.0, &dest)
        }
        // Devices and FIFOs cannot be renamed over: produce the file elsewhere and copy it in.
        Target::Stream(dest) => {
            let tmp = Temp::new(temp_in(&std::env::temp_dir(), &dest));
            write(&tmp.0).map_err(|e| e.written_to(path))?;
            let mut src = std::fs::File::open(&tmp.0).map_err(|e| cannot(path, e))?;
            let mut dst = std::fs::OpenOptions::new()
                .write(true)
                .open(&dest)
                .map_err(|e| cannot(path, e))?;
            std::io::copy(&mut src, &mut dst).map_err(|e| Error::write(path, &e))?;
            Ok(())
        }
        Target::Stdout => {
            let tmp = Temp::new(temp_in(&std::env::temp_dir(), Path::new(path)));
            write(&tmp.0).map_err(|e| e.written_to(path))?;
            let mut src = std::fs::File::open(&tmp.0).map_err(|e| cannot(path, e))?;
            let out = std::io::stdout();
            let mut lock = out.lock();
            std::io::copy(&mut src, &mut lock)
                .and_then(|_| lock.flush())
                .map_err(|e| Error::write("standard output", &e))
        }
    }
}

/// Writes `path` through a buffered writer: atomically for a regular file, in place for a device
/// or FIFO, to standard output for `-`. Write errors name `path`.
pub fn write_to(
    path: &str,
    inputs: &[&str],
    f: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let run = |w: &mut dyn Write| -> Result<()> {
        f(w)?;
        w.flush().map_err(|e| Error::write(path, &e))
    };
    match target(path, inputs)? {
        Target::Stdout => {
            let out = std::io::stdout();
            let mut w = std::io::BufWriter::new(out.lock());
            run(&mut w).map_err(|e| e.written_to("standard output"))
        }
        Target::Stream(dest) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&dest)
                .map_err(|e| cannot(path, e))?;
            run(&mut std::io::BufWriter::new(file)).map_err(|e| e.written_to(path))
        }
        Target::File(_) => write_via_temp(path, inputs, |tmp| {
            let file = std::fs::File::create(tmp).map_err(|e| cannot(path, e))?;
            let mut w = std::io::BufWriter::new(file);
            run(&mut w)?;
            let file = w.into_inner().map_err(|e| Error::write(path, e.error()))?;
            file.sync_all().map_err(|e| cannot(path, e))
        }),
    }
}
