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
    let (dir, tmp) = temp_path(path);
    ensure_dir(&dir, sync)?;
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        Ok(())
    })();
    match written {
        Ok(()) => commit_output(&tmp, path, sync),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The directory of `path` and a fresh temp file name in it (`.{name}.{pid}.{n}.part`, which
/// [`remove_stale_temps`] recognises), for a body to be written and then [`commit_output`]ed.
pub(crate) fn temp_path(path: &Path) -> (PathBuf, PathBuf) {
    let dir = dir_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.part",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    (dir, tmp)
}

/// The directory `path` is in (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Create `dir` when missing; with `sync`, make its entry in the parent durable.
pub(crate) fn ensure_dir(dir: &Path, sync: bool) -> io::Result<()> {
    if !dir.is_dir() {
        fs::create_dir_all(dir)?;
        if sync {
            // A new directory's entry lives in its parent: make that durable too.
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
    }
    Ok(())
}

/// Put a written temp file in place: fsync it, rename it to `path`, fsync the directory (the
/// fsyncs only with `sync`). On failure the temp file is removed.
pub(crate) fn commit_output(tmp: &Path, path: &Path, sync: bool) -> io::Result<()> {
    let result = (|| {
        if sync {
            OpenOptions::new().write(true).open(tmp)?.sync_all()?;
        }
        fs::rename(tmp, path)?;
        if sync {
            sync_dir(&dir_of(path))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// Remove the temp files that [`write_output`] of an earlier, killed process left in `dir`:
/// names `.{name}.{pid}.{n}.part` whose pid is not this process's. Best effort.
pub(crate) fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id().to_string();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".part")) else {
            continue;
        };
        let mut parts = stem.rsplitn(3, '.');
        let (Some(n), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(n) && digits(pid) && pid != me {
            let _ = fs::remove_file(entry.path());
        }
    }
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

/// The ledger's writer. Lines are appended in place by the calling task (one `write_all` each,
/// under a lock: a small write into the page cache, microseconds), so an item's `Started` line
/// costs no thread hop. A line that must be durable then waits for the sync thread, which
/// fsyncs once for every line that asked since its last fsync started (group commit): concurrent
/// `Done` lines share one fsync.
pub(crate) struct LedgerWriter {
    file: std::sync::Mutex<File>,
    /// Set when a write failed: every later append fails too (a gap in the ledger would hide
    /// outcomes).
    failed: std::sync::atomic::AtomicBool,
    syncer: Option<mpsc::Sender<oneshot::Sender<io::Result<()>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LedgerWriter {
    /// `sync` false turns the fsyncs off (for measurements).
    pub(crate) fn start(file: File, sync: bool) -> io::Result<Self> {
        let (syncer, thread) = if sync {
            let sync_file = file.try_clone()?;
            let (tx, rx) = mpsc::channel::<oneshot::Sender<io::Result<()>>>();
            let thread = std::thread::Builder::new()
                .name("http-triage-ledger-sync".into())
                .spawn(move || sync_loop(sync_file, rx))?;
            (Some(tx), Some(thread))
        } else {
            (None, None)
        };
        Ok(LedgerWriter {
            file: std::sync::Mutex::new(file),
            failed: std::sync::atomic::AtomicBool::new(false),
            syncer,
            thread,
        })
    }

    /// Append a line; with `sync`, resolves once it is fsync'd.
    pub(crate) async fn append(&self, mut bytes: Vec<u8>, sync: bool) -> io::Result<()> {
        if bytes.last() != Some(&b'\n') {
            bytes.push(b'\n');
        }
        if self.failed.load(Ordering::SeqCst) {
            return Err(io::Error::other("an earlier append to the ledger failed"));
        }
        {
            let mut f = match self.file.lock() {
                Ok(f) => f,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Err(e) = f.write_all(&bytes) {
                self.failed.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        if !sync {
            return Ok(());
        }
        let Some(syncer) = &self.syncer else {
            return Ok(());
        };
        let closed = || io::Error::new(io::ErrorKind::BrokenPipe, "the ledger sync thread stopped");
        let (ack, done) = oneshot::channel();
        syncer.send(ack).map_err(|_| closed())?;
        let result = done.await.map_err(|_| closed())?;
        if result.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        result
    }

    /// fsync what was written and stop the sync thread.
    pub(crate) fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.syncer.take();
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

fn sync_loop(file: File, rx: mpsc::Receiver<oneshot::Sender<io::Result<()>>>) {
    let mut failed: Option<io::ErrorKind> = None;
    let mut synced_once = false;
    while let Ok(first) = rx.recv() {
        // Everyone who asked before this fsync starts wrote their line before asking: one
        // fsync covers them all.
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        if failed.is_none() {
            if let Err(e) = file.sync_data() {
                failed = Some(e.kind());
            }
            synced_once = true;
        }
        for w in waiters {
            let _ = w.send(match failed {
                None => Ok(()),
                Some(kind) => Err(io::Error::new(kind, "could not fsync the ledger")),
            });
        }
    }
    // The last lines (`Started`, `Quarantined`, … of the final items) get an fsync too.
    if failed.is_none() || !synced_once {
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
