//! The two writes that make a batch crash-safe: outputs (temp file, fsync, rename, fsync the
//! directory) and the ledger (append-only, one `write_all` per line, group-committed fsync).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use tokio::sync::oneshot;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to `path` so that `path` is, at every instant, either absent, the old file, or
/// the whole new file: write a temp file in the same directory, fsync it, rename it into place,
/// then fsync the directory so the rename itself is durable. `sync` false skips both fsyncs
/// (only for measuring what they cost).
pub(crate) fn write_output(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        fs::create_dir_all(&dir)?;
        if sync {
            // A new directory's entry lives in its parent: make that durable too.
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.part",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        if sync {
            sync_dir(&dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Open the ledger for appending. A torn last line (a crash in the middle of a write) is cut off
/// first, so the next record starts on a line of its own. Returns the file and the text that was
/// in it (whole lines only).
pub(crate) fn open_ledger(path: &Path) -> io::Result<(File, String)> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let mut raw = Vec::new();
    f.read_to_end(&mut raw)?;
    let keep = match raw.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if keep < raw.len() {
        f.set_len(keep as u64)?;
        f.sync_all()?;
        raw.truncate(keep);
    }
    f.seek(SeekFrom::End(0))?;
    if let Some(dir) = path.parent() {
        let _ = sync_dir(dir);
    }
    Ok((f, String::from_utf8_lossy(&raw).into_owned()))
}

/// A line for the ledger writer.
pub(crate) struct Line {
    pub bytes: Vec<u8>,
    /// fsync before acknowledging.
    pub sync: bool,
    pub ack: oneshot::Sender<io::Result<()>>,
}

/// The ledger's single writer: a thread that appends lines in the order they arrive, one
/// `write_all` each, and fsyncs once per group of lines that asked for it (group commit), then
/// acknowledges every line of the group.
pub(crate) struct LedgerWriter {
    tx: Option<mpsc::Sender<Line>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LedgerWriter {
    pub(crate) fn start(file: File, sync: bool) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Line>();
        let thread = std::thread::Builder::new()
            .name("http-triage-ledger".into())
            .spawn(move || writer_loop(file, rx, sync))?;
        Ok(LedgerWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Append a line; resolves once it is written (and fsync'd when `sync`).
    pub(crate) async fn append(&self, mut bytes: Vec<u8>, sync: bool) -> io::Result<()> {
        if bytes.last() != Some(&b'\n') {
            bytes.push(b'\n');
        }
        let (ack, done) = oneshot::channel();
        let closed = || io::Error::new(io::ErrorKind::BrokenPipe, "the ledger writer stopped");
        self.tx
            .as_ref()
            .ok_or_else(closed)?
            .send(Line { bytes, sync, ack })
            .map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }

    /// Flush, fsync and stop the writer thread.
    pub(crate) fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LedgerWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn writer_loop(mut file: File, rx: mpsc::Receiver<Line>, sync_allowed: bool) {
    let mut failed: Option<io::ErrorKind> = None;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < 512 {
            match rx.try_recv() {
                Ok(l) => group.push(l),
                Err(_) => break,
            }
        }
        let mut result = match failed {
            Some(kind) => Err(kind),
            None => Ok(()),
        };
        let mut want_sync = false;
        for line in &group {
            if result.is_ok() {
                if let Err(e) = file.write_all(&line.bytes) {
                    result = Err(e.kind());
                }
            }
            want_sync |= line.sync;
        }
        if result.is_ok() && want_sync && sync_allowed {
            if let Err(e) = file.sync_data() {
                result = Err(e.kind());
            }
        }
        if let Err(kind) = result {
            failed = Some(kind);
        }
        for line in group {
            let _ = line.ack.send(match result {
                Ok(()) => Ok(()),
                Err(kind) => Err(io::Error::new(kind, "could not append to the ledger")),
            });
        }
    }
    if failed.is_none() && sync_allowed {
        let _ = file.sync_data();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "http-triage-durable-{name}-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn torn_tail_is_cut_before_appending() -> io::Result<()> {
        let dir = scratch("torn");
        fs::create_dir_all(&dir)?;
        let p = dir.join("ledger.jsonl");
        fs::write(&p, b"{\"a\":1}\n{\"b\":")?;
        let (_f, text) = open_ledger(&p)?;
        assert_eq!(text, "{\"a\":1}\n");
        assert_eq!(fs::read(&p)?, b"{\"a\":1}\n");
        fs::remove_dir_all(&dir)
    }

    #[test]
    fn output_is_whole_and_no_temp_remains() -> io::Result<()> {
        let dir = scratch("out");
        let p = dir.join("a/b/c.jpg");
        write_output(&p, b"hello", true)?;
        write_output(&p, b"world!", true)?;
        assert_eq!(fs::read(&p)?, b"world!");
        let names: Vec<_> = fs::read_dir(dir.join("a/b"))?.collect();
        assert_eq!(names.len(), 1);
        fs::remove_dir_all(&dir)
    }
}
