//! Runs: resolved events already merged in event-time order, kept in an anonymous
//! temporary file (gzip of JSON lines) until the merge reaches them. `replay` writes one
//! when more inputs overlap in time than it may hold open: the inputs are merged into a run
//! and closed, and the run takes one place among the open inputs. The file has no name and
//! the OS removes it when it is closed, however the process ends.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::engine::Resolved;
use crate::enrich::Geo;
use crate::event::LoginEvent;
use crate::roster::EmployeeId;

#[derive(Serialize)]
struct Stored<'a> {
    event: &'a LoginEvent,
    employee: &'a EmployeeId,
    geo: &'a Geo,
}

#[derive(Deserialize)]
struct Loaded {
    event: LoginEvent,
    employee: EmployeeId,
    geo: Geo,
}

/// A run being written.
pub struct RunWriter {
    out: GzEncoder<BufWriter<File>>,
    line: Vec<u8>,
}

impl RunWriter {
    pub fn new() -> io::Result<RunWriter> {
        Ok(RunWriter {
            // Level 1: the run is read once, soon; speed matters more than size.
            out: GzEncoder::new(
                BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?),
                Compression::fast(),
            ),
            line: Vec::with_capacity(1024),
        })
    }

    /// Append `r`; runs are written in the order they will be read.
    pub fn push(&mut self, r: &Resolved) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(
            &mut self.line,
            &Stored {
                event: &r.event,
                employee: &r.employee,
                geo: &r.geo,
            },
        )
        .map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// The run, to be read from its start.
    pub fn finish(self) -> io::Result<RunReader> {
        let mut file = self
            .out
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(RunReader {
            lines: BufReader::with_capacity(64 * 1024, GzDecoder::new(file)),
            line: Vec::with_capacity(1024),
        })
    }
}

/// A run being read.
pub struct RunReader {
    lines: BufReader<GzDecoder<File>>,
    line: Vec<u8>,
}

impl RunReader {
    /// The next event, `None` at the end.
    pub fn next(&mut self) -> io::Result<Option<Resolved>> {
        self.line.clear();
        if self.lines.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(None);
        }
        let Loaded {
            event,
            employee,
            geo,
        } = serde_json::from_slice(&self.line).map_err(io::Error::other)?;
        Ok(Some(Resolved {
            event,
            employee,
            geo: Arc::new(geo),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Format, Outcome};

    #[test]
    fn a_run_gives_back_every_event_as_written_in_order() {
        let events: Vec<Resolved> = (0..1000)
            .map(|i| {
                let mut event = LoginEvent::new(
                    Format::Okta,
                    chrono::DateTime::from_timestamp(1_700_000_000 + i * 61, 123_456_789).unwrap(),
                    format!("user{i}@corp.example"),
                    format!("203.0.113.{}", i % 250).parse().unwrap(),
                    EventKind::InteractiveLogin,
                    Outcome::Success,
                );
                event.user_agent = (i % 3 == 0).then(|| "Mozilla/5.0 \"quoted\"\n".to_owned());
                Resolved {
                    event,
                    employee: EmployeeId(format!("E{i}").into()),
                    geo: Arc::new(Geo {
                        country: Some("US".to_owned()),
                        latitude: Some(40.7128 + i as f64 / 7.0),
                        longitude: Some(-74.006),
                        asn: Some(64_500 + i as u32),
                        ..Geo::default()
                    }),
                }
            })
            .collect();
        let mut w = RunWriter::new().unwrap();
        for e in &events {
            w.push(e).unwrap();
        }
        let mut r = w.finish().unwrap();
        for e in &events {
            let back = r.next().unwrap().expect("every event written");
            assert_eq!(back.event, e.event);
            assert_eq!(back.employee, e.employee);
            assert_eq!(*back.geo, *e.geo);
        }
        assert!(r.next().unwrap().is_none());
    }
}
