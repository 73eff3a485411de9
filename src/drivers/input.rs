//! Reading records from files and stdin: plain or gzip, one record per line, with a bound
//! on how much of an oversized line is held in memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// `-` is stdin; anything else a file. A directory expands to the files in it, sorted
    /// by name, so `replay examples/events/` reads a whole example set.
    pub fn expand(arg: &Path) -> io::Result<Vec<Source>> {
        if arg == Path::new("-") {
            return Ok(vec![Source::Stdin]);
        }
        if arg.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(arg)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            return Ok(files.into_iter().map(Source::File).collect());
        }
        Ok(vec![Source::File(arg.to_owned())])
    }

    /// A name for summaries and dead-letter records.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "-".to_owned(),
            Source::File(p) => p.display().to_string(),
        }
    }

    /// Size on disk, when known (for the progress bar).
    pub fn size(&self) -> Option<u64> {
        match self {
            Source::Stdin => None,
            Source::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
        }
    }

    /// Open for reading, transparently decompressing gzip (detected by its magic bytes,
    /// not the file name). `on_read` is told how many raw bytes were consumed.
    pub fn open(&self, on_read: impl FnMut(usize) + 'static) -> io::Result<Records> {
        let raw: Box<dyn Read> = match self {
            Source::Stdin => Box::new(io::stdin().lock()),
            Source::File(p) => Box::new(File::open(p)?),
        };
        let mut buffered = BufReader::with_capacity(
            256 * 1024,
            Counting {
                inner: raw,
                on_read: Box::new(on_read),
            },
        );
        let is_gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead> = if is_gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(Records { reader, line: 0 })
    }
}

struct Counting {
    inner: Box<dyn Read>,
    on_read: Box<dyn FnMut(usize)>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n);
        Ok(n)
    }
}

/// One line read from a source.
#[derive(Debug)]
pub struct Record<'a> {
    /// 1-based line number in the source.
    pub line: u64,
    /// The line without its terminator, at most `keep` bytes of it.
    pub bytes: &'a [u8],
    /// The line's full length; larger than `bytes.len()` when it was cut.
    pub len: usize,
}

/// Lines of a source.
pub struct Records {
    reader: Box<dyn BufRead>,
    line: u64,
}

impl Records {
    /// The next line into `buf`, keeping at most `keep` bytes of it (the rest is read and
    /// dropped, so one huge line cannot exhaust memory). `None` at the end.
    pub fn next<'a>(
        &mut self,
        buf: &'a mut Vec<u8>,
        keep: usize,
    ) -> io::Result<Option<Record<'a>>> {
        buf.clear();
        // Length of the line without its newline, however much of it is kept.
        let mut len = 0usize;
        let mut saw_any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            let room = keep.saturating_sub(buf.len());
            buf.extend_from_slice(&part[..part.len().min(room)]);
            len += part.len();
            let consumed = part.len() + usize::from(newline.is_some());
            self.reader.consume(consumed);
            if newline.is_some() {
                break;
            }
        }
        self.line += 1;
        // Windows line ends: the \r belongs to the terminator, not the record.
        if len == buf.len() && buf.last() == Some(&b'\r') {
            buf.pop();
            len -= 1;
        }
        Ok(Some(Record {
            line: self.line,
            bytes: buf.as_slice(),
            len,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(data: &[u8], keep: usize) -> Vec<(u64, Vec<u8>, usize)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        std::fs::write(&path, data).unwrap();
        let mut records = Source::File(path).open(|_| {}).unwrap();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(r) = records.next(&mut buf, keep).unwrap() {
            out.push((r.line, r.bytes.to_vec(), r.len));
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let got = lines(b"a\r\nbb\n\nccc", 100);
        assert_eq!(
            got,
            vec![
                (1, b"a".to_vec(), 1),
                (2, b"bb".to_vec(), 2),
                (3, vec![], 0),
                (4, b"ccc".to_vec(), 3)
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_but_measured() {
        let mut data = vec![b'x'; 300_000];
        data.extend_from_slice(b"\nnext\n");
        let got = lines(&data, 10);
        assert_eq!(got[0].1.len(), 10);
        assert_eq!(got[0].2, 300_000);
        assert_eq!(got[1], (2, b"next".to_vec(), 4));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn gzip_is_detected_by_content() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"one\ntwo\n").unwrap();
        let got = lines(&gz.finish().unwrap(), 100);
        assert_eq!(
            got.iter().map(|l| l.1.clone()).collect::<Vec<_>>(),
            vec![b"one".to_vec(), b"two".to_vec()]
        );
    }
}
