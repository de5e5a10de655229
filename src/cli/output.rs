//! Writing output files: complete or not at all (written beside the target, then renamed).

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

fn io(path: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        file: path.into(),
        reason: e.to_string(),
    }
}

/// A temporary path beside `path` with the same extension (some writers choose the format by it).
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.kvsim-{}.tmp", std::process::id()))
        .with_extension(path.extension().unwrap_or_default())
}

/// Lets `write` produce the file at a temporary path beside `path`, then renames it into place;
/// on failure the temporary file is removed.
pub fn write_via_temp(path: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let p = Path::new(path);
    let tmp = temp_beside(p);
    match write(&tmp) {
        Ok(()) => std::fs::rename(&tmp, p).map_err(io(path)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `path` atomically through a buffered writer.
pub fn write_atomically(path: &str, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    write_via_temp(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(io(path))?;
        let mut w = std::io::BufWriter::new(file);
        f(&mut w)?;
        w.flush().map_err(io(path))
    })
}
