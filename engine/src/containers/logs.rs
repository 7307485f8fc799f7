//! Container output in docker's `json-file` format: one JSON object per
//! line, `{"log":"text\n","stream":"stdout","time":"RFC 3339 nano"}`.
//! [`LogWriter`] appends (shared by the stdout and stderr pumps);
//! [`read_log`] parses it back for `rdock logs`.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::store::io;

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The text, with its newline when it had one.
    pub log: String,
    /// Its stream.
    pub stream: Stream,
    /// When it was read, RFC 3339 with nanoseconds.
    pub time: String,
}

/// Appends records to a container's log file; clones share the file.
#[derive(Clone, Debug)]
pub(crate) struct LogWriter {
    file: Arc<Mutex<File>>,
}

impl LogWriter {
    pub(crate) fn open(path: &Path) -> Result<LogWriter> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io("opening", path))?;
        Ok(LogWriter {
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Records `data`, one record per line; a trailing partial line is
    /// recorded as it is (docker does the same when its buffer fills).
    pub(crate) fn write(&self, stream: Stream, data: &[u8]) {
        let time = super::now_rfc3339();
        let mut out = Vec::with_capacity(data.len() + 80);
        for line in data.split_inclusive(|b| *b == b'\n') {
            let rec = LogLine {
                log: String::from_utf8_lossy(line).into_owned(),
                stream,
                time: time.clone(),
            };
            serde_json::to_writer(&mut out, &rec).expect("a log line serializes");
            out.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A full disk loses log lines but must not stop the container.
        let _ = file.write_all(&out);
    }
}

/// Reads the records from `offset` on; returns them and the offset after
/// the last complete line (for following).
pub fn read_log(path: &Path, offset: u64) -> Result<(Vec<LogLine>, u64)> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(io("opening", path)(e)),
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(io("reading", path))?;
    let mut reader = BufReader::new(file);
    let (mut out, mut pos, mut line) = (Vec::new(), offset, String::new());
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io("reading", path))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        pos += n as u64;
        if let Ok(rec) = serde_json::from_str::<LogLine>(&line) {
            out.push(rec);
        }
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let w = LogWriter::open(&path).unwrap();
        w.write(Stream::Stdout, b"one\ntwo\npart");
        w.write(Stream::Stderr, b"err\n");
        let (lines, end) = read_log(&path, 0).unwrap();
        let texts: Vec<_> = lines.iter().map(|l| (l.log.as_str(), l.stream)).collect();
        assert_eq!(
            texts,
            [
                ("one\n", Stream::Stdout),
                ("two\n", Stream::Stdout),
                ("part", Stream::Stdout),
                ("err\n", Stream::Stderr)
            ]
        );
        assert!(lines[0].time.ends_with('Z') && lines[0].time.len() == 30);
        let raw = std::fs::read_to_string(&path).unwrap();
        assert!(raw.starts_with("{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\""));
        assert_eq!(read_log(&path, end).unwrap().0.len(), 0);
    }
}
