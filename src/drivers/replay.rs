//! `driftwatch replay`: the core over NDJSON / syslog files (plain or gzip) or stdin.
//! Alerts go out as JSON lines; rejected records go to a dead-letter file with their
//! reason; a summary goes to stderr at the end.

use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use chrono::{DateTime, Utc};

use super::input::{Record, Records, Source};
use super::run_file::RunReader;
use super::run_file::RunWriter;
use crate::alert::Alert;
use crate::decode::{FormatChoice, RejectReason, Rejection};
use crate::engine::{Engine, Resolved};
use crate::enrich::Enricher;
use crate::event::Format;
use crate::pipeline::{Pipeline, Processed, Tally};
use crate::roster::Roster;
use crate::siem::AlertsFormat;
use crate::sources::enrich_files::{self, EnrichFiles};
use crate::sources::{roster_file, suppress_files};
use crate::suppress::Suppressions;

/// How much of an over-long record is kept for the dead-letter file. Records above the
/// decode limit are rejected anyway; this bounds memory while keeping the evidence.
const DEAD_LETTER_KEEP: usize = 1024 * 1024;

/// Inputs below this size finish too fast for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 8 * 1024 * 1024;

/// Where a stream of JSON lines goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout,
    File(PathBuf),
    /// Nowhere: for callers that keep the alerts in memory ([`Options::keep_alerts`]).
    Discard,
}

impl Output {
    /// `-` is stdout.
    pub fn parse(arg: &str) -> Output {
        if arg == "-" {
            Output::Stdout
        } else {
            Output::File(PathBuf::from(arg))
        }
    }

    fn open(&self) -> io::Result<Box<dyn Write>> {
        Ok(match self {
            Output::Stdout => Box::new(BufWriter::new(io::stdout().lock())),
            Output::File(p) => Box::new(BufWriter::new(File::create(p)?)),
            Output::Discard => Box::new(io::sink()),
        })
    }
}

/// What to replay and where results go.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: Vec<Source>,
    pub format: FormatChoice,
    pub alerts_out: Output,
    /// How alert lines are written (`--alerts-format`).
    pub alerts_format: AlertsFormat,
    pub dead_letter: Option<PathBuf>,
    /// Also dead-letter `not_a_login` records.
    pub dead_letter_filtered: bool,
    /// The dead-letter file stops growing at this size; later rejections are counted.
    pub dead_letter_max_bytes: u64,
    /// Show a progress bar (only used on a terminal, for large inputs).
    pub progress: bool,
    /// Also keep the alerts in [`Report::alerts`] (for `--route`).
    pub keep_alerts: bool,
    /// At most this many inputs are open at once ([`MAX_OPEN_INPUTS`] by default), so the
    /// number of inputs bounds neither the open files nor the memory.
    pub max_open_inputs: usize,
}

impl Options {
    /// A replay of `inputs` in process, for a caller that reads the result rather than an
    /// analyst: alerts kept in [`Report::alerts`] and written nowhere, no dead-letter file,
    /// no progress bar.
    pub fn in_process(inputs: Vec<Source>, format: FormatChoice) -> Options {
        Options {
            inputs,
            format,
            alerts_out: Output::Discard,
            alerts_format: AlertsFormat::Driftwatch,
            dead_letter: None,
            dead_letter_filtered: false,
            dead_letter_max_bytes: 0,
            progress: false,
            keep_alerts: true,
            max_open_inputs: MAX_OPEN_INPUTS,
        }
    }
}

/// Inputs open at once by default: each holds two 256 KiB buffers (gzip), so 64 take about
/// 32 MiB and leave most of a 1,024 file-descriptor limit free.
pub const MAX_OPEN_INPUTS: usize = 64;

/// The result of a replay run.
#[derive(Debug)]
pub struct Report {
    pub tally: Tally,
    pub files: usize,
    pub elapsed: Duration,
    pub dead_letters: u64,
    /// Rejections not written because the dead-letter file reached its limit.
    pub dead_letters_cut: u64,
    /// Events that arrived later than the engine's lateness (applied anyway).
    pub late_events: u64,
    /// Size in bytes of each tracked employee's encoded state, sorted.
    pub state_sizes: Vec<usize>,
    /// Every alert line, in order, when [`Options::keep_alerts`] is set.
    pub alerts: Vec<Alert>,
    /// Inputs that broke before their end, with why: what they gave before was used.
    pub broken: Vec<(String, String)>,
}

impl Report {
    /// The report, if every input was read to its end: what a compliance report or an
    /// evaluation needs (figures over part of an input would be wrong, not partial).
    pub fn whole(self) -> Result<Report, ReplayError> {
        match self.broken.first() {
            Some((name, why)) => Err(ReplayError::Input {
                source_name: name.clone(),
                error: io::Error::other(why.clone()),
            }),
            None => Ok(self),
        }
    }
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {source_name}: {error}")]
    Input {
        source_name: String,
        error: io::Error,
    },
    #[error("cannot write {what}: {error}")]
    Output {
        what: &'static str,
        error: io::Error,
    },
}

/// One rejected record as kept in the dead-letter file.
#[derive(Serialize)]
struct DeadLetter<'a> {
    reason: RejectReason,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format>,
    source: &'a str,
    line: u64,
    /// Length of the original record in bytes.
    bytes: usize,
    /// The record as text, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<&'a str>,
    /// The record in base64, when it is not UTF-8 (so nothing is lost).
    #[serde(skip_serializing_if = "Option::is_none")]
    record_base64: Option<String>,
    /// True when only the first bytes of an over-long record are kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// The core's inputs besides the records: roster, enrichment, suppressions.
pub struct Core<'a> {
    pub pipeline: &'a Pipeline,
    pub roster: &'a Roster,
    pub enricher: &'a Enricher,
    pub suppress: &'a Suppressions,
}

/// The core's inputs, loaded from a configuration: what `replay`, `report`,
/// `check-config`, the benchmarks and the tests all start from.
pub struct Loaded {
    pub pipeline: Pipeline,
    pub roster: Roster,
    pub enricher: Enricher,
    pub suppress: Suppressions,
}

/// Why a configuration's roster, databases or suppressions did not load. Each keeps its
/// own error as the source, so callers can tell a configuration problem by its type.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("loading roster {path}")]
    Roster {
        path: PathBuf,
        #[source]
        error: crate::roster::RosterError,
    },
    #[error("opening GeoIP databases")]
    Enrich(#[source] crate::enrich::EnrichError),
    #[error("loading suppressions")]
    Suppress(#[source] crate::suppress::SuppressError),
}

impl Loaded {
    /// Load `config`'s roster (or `roster` instead), GeoIP databases and lists, and
    /// suppressions; decode at `now`, the clock (year-less syslog times, `future_time`).
    pub fn load(
        config: &crate::config::Config,
        roster: Option<&std::path::Path>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Loaded, LoadError> {
        let path = roster
            .map(std::path::Path::to_path_buf)
            .or_else(|| config.roster.as_ref().map(|r| r.path.clone()));
        let roster = match path {
            Some(p) => {
                roster_file::load(&p).map_err(|error| LoadError::Roster { path: p, error })?
            }
            None => Roster::default(),
        };
        Ok(Loaded {
            pipeline: Pipeline {
                decode: config.decode.context(now),
            },
            roster,
            enricher: enrich_files::open(&config.enrich)
                .map(EnrichFiles::into_enricher)
                .map_err(LoadError::Enrich)?,
            suppress: suppress_files::load(&config.suppress).map_err(LoadError::Suppress)?,
        })
    }

    pub fn core(&self) -> Core<'_> {
        Core {
            pipeline: &self.pipeline,
            roster: &self.roster,
            enricher: &self.enricher,
            suppress: &self.suppress,
        }
    }
}

/// One input being read: its records and the next resolved event it holds back, so
/// several sources are merged in event-time order (each file of an export covers the same
/// weeks; reading them one after the other would make every file after the first "late").
struct Reader {
    name: String,
    /// Its place among the inputs: equal times are taken in this order.
    order: usize,
    feed: Feed,
    head: Option<Resolved>,
    /// The input's next events read ahead, earliest first: see [`LOOKAHEAD`].
    ahead: BinaryHeap<Ahead>,
    /// Events read from it so far (equal times keep the input's order).
    read: u64,
    /// Its end, or where it broke.
    ended: bool,
}

/// Events an input is read ahead by, so its next event is the earliest of these rather
/// than simply the next line. One record dated weeks ahead (a skewed appliance clock, a
/// forged line) would otherwise stop its whole input in the merge until every other input
/// had passed that date, and the input's real logins would come after everyone else's,
/// too late for the detectors' windows (two such Cisco ASA lines removed an employee's
/// working-hours alert). With the look-ahead the record waits in its own place in time and
/// the logins after it flow past; a file written newest-first within 128 events is read
/// in order, too. 128 events per open input: 8,192 at most, a few MiB.
const LOOKAHEAD: usize = 128;

/// An event read ahead, ordered earliest first (a min-heap on `BinaryHeap`).
struct Ahead {
    time: DateTime<Utc>,
    read: u64,
    item: Box<Resolved>,
}

impl PartialEq for Ahead {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.read) == (other.time, other.read)
    }
}

impl Eq for Ahead {}

impl PartialOrd for Ahead {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ahead {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.time, other.read).cmp(&(self.time, self.read))
    }
}

enum Feed {
    /// An input's records, decoded and resolved as they are read.
    Input(Records),
    /// Inputs merged ahead of time ([`super::run_file`]): resolved events, counted already.
    Run(Box<RunReader>),
}

impl Reader {
    fn is_done(&self) -> bool {
        self.head.is_none() && self.ended
    }
}

/// The reader holding the earliest event (ties in input order), if any holds one.
fn earliest(readers: &[Reader]) -> Option<(DateTime<Utc>, usize)> {
    readers
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.head.as_ref().map(|h| (h.event.time, r.order, i)))
        .min()
        .map(|(time, _, i)| (time, i))
}

/// Where results go, and what was counted.
struct Sinks {
    alerts: Box<dyn Write>,
    dead: Option<BufWriter<File>>,
    dead_filtered: bool,
    dead_letters: u64,
    /// Bytes written to the dead-letter file, its limit, and rejections not written.
    dead_bytes: u64,
    dead_max: u64,
    dead_cut: u64,
    tally: Tally,
    line: Vec<u8>,
    /// How alert lines are written.
    format: AlertsFormat,
    kept: Option<Vec<Alert>>,
    /// Inputs that broke mid-way (a truncated gzip, a read error), with why.
    broken: Vec<(String, String)>,
}

impl Sinks {
    fn alert(&mut self, alert: &Alert) -> Result<(), ReplayError> {
        self.tally.count_alert(alert);
        self.line.clear();
        crate::siem::write_line(&mut self.line, alert, self.format);
        self.line.push(b'\n');
        if let Some(kept) = self.kept.as_mut() {
            kept.push(alert.clone());
        }
        self.alerts.write_all(&self.line).map_err(out("alerts"))
    }

    fn reject(
        &mut self,
        r: &Rejection,
        source: &str,
        record: &Record<'_>,
    ) -> Result<(), ReplayError> {
        if !(r.reason.is_bad_input() || self.dead_filtered) {
            return Ok(());
        }
        if let Some(dead) = self.dead.as_mut() {
            self.line.clear();
            write_dead_letter(
                &mut self.line,
                r,
                source,
                record.line,
                record.bytes,
                record.len,
            )
            .map_err(out("dead letters"))?;
            if self.dead_bytes + self.line.len() as u64 > self.dead_max {
                self.dead_cut += 1;
                return Ok(());
            }
            dead.write_all(&self.line).map_err(out("dead letters"))?;
            self.dead_bytes += self.line.len() as u64;
            self.dead_letters += 1;
        }
        Ok(())
    }
}

fn out(what: &'static str) -> impl Fn(io::Error) -> ReplayError {
    move |error| ReplayError::Output { what, error }
}

/// Run the core over every input, merged in event-time order, through `engine`.
pub fn run(core: &Core<'_>, engine: &mut Engine, opts: &Options) -> Result<Report, ReplayError> {
    run_observed(core, engine, opts, &mut |_| true)
}

/// [`run`], with `observe` shown every resolved event as the merge hands it to the engine
/// (event-time order across inputs). The engine applies the event only when `observe`
/// returns true. `driftwatch report` counts its per-employee figures here and holds back
/// the events after its period; the tally counts every record either way.
pub fn run_observed(
    core: &Core<'_>,
    engine: &mut Engine,
    opts: &Options,
    observe: &mut dyn FnMut(&Resolved) -> bool,
) -> Result<Report, ReplayError> {
    let started = Instant::now();
    let mut sinks = Sinks {
        alerts: opts.alerts_out.open().map_err(out("alerts"))?,
        dead: match &opts.dead_letter {
            Some(p) => Some(BufWriter::new(
                File::create(p).map_err(out("dead letters"))?,
            )),
            None => None,
        },
        dead_filtered: opts.dead_letter_filtered,
        dead_letters: 0,
        dead_bytes: 0,
        dead_max: opts.dead_letter_max_bytes,
        dead_cut: 0,
        tally: Tally::default(),
        line: Vec::with_capacity(4096),
        format: opts.alerts_format,
        kept: opts.keep_alerts.then(Vec::new),
        broken: Vec::new(),
    };
    let progress = progress_bar(opts);
    let keep = DEAD_LETTER_KEEP.max(core.pipeline.decode.max_record_bytes + 1);
    let mut buf = Vec::with_capacity(64 * 1024);

    // A k-way merge that always takes the earliest held event, one event held per open
    // input. An input is opened only when the merge reaches the time of its first event,
    // so at most `max_open_inputs` are open at once: beyond that many inputs, each is
    // first read up to its first event (and closed) to learn that time. When more inputs
    // than that overlap in time, the open ones are merged ahead into a run (a temporary
    // file) that takes one place. The order is the same either way.
    let max_open = opts.max_open_inputs.max(2);
    let mut pending: Pending = if opts.inputs.len() <= max_open {
        (0..opts.inputs.len()).map(|i| (None, i)).collect()
    } else {
        first_times(&opts.inputs, core, opts.format, &mut buf, keep)?
    };
    let mut readers: Vec<Reader> = Vec::new();
    loop {
        let next = earliest(&readers);
        if let Some(&(first, i)) = pending.front()
            && next.is_none_or(|(time, _)| first.is_none_or(|f| f <= time))
        {
            pending.pop_front();
            if readers.len() >= max_open {
                let run = merge_ahead(&mut readers, core, opts.format, &mut buf, keep, &mut sinks)?;
                if !run.is_done() {
                    readers.push(run);
                }
            }
            let source = &opts.inputs[i];
            let name = source.name();
            let bar = progress.clone();
            let records =
                source
                    .open(move |n| bar.inc(n as u64))
                    .map_err(|error| ReplayError::Input {
                        source_name: name.clone(),
                        error,
                    })?;
            let mut reader = Reader {
                name,
                order: i,
                feed: Feed::Input(records),
                head: None,
                ahead: BinaryHeap::new(),
                read: 0,
                ended: false,
            };
            fill(&mut reader, core, opts.format, &mut buf, keep, &mut sinks)?;
            if !reader.is_done() {
                readers.push(reader);
            }
            continue;
        }
        let Some((_, i)) = next else {
            break;
        };
        let Some(item) = take(
            &mut readers,
            i,
            core,
            opts.format,
            &mut buf,
            keep,
            &mut sinks,
        )?
        else {
            break;
        };
        if observe(&item) {
            for alert in engine.push(item, core.roster, core.suppress) {
                sinks.alert(&alert)?;
            }
        }
    }
    for alert in engine.flush(core.roster, core.suppress) {
        sinks.alert(&alert)?;
    }
    sinks.alerts.flush().map_err(out("alerts"))?;
    if let Some(dead) = sinks.dead.as_mut() {
        dead.flush().map_err(out("dead letters"))?;
    }
    progress.finish_and_clear();
    Ok(Report {
        tally: sinks.tally,
        files: opts.inputs.len(),
        elapsed: started.elapsed(),
        dead_letters: sinks.dead_letters,
        dead_letters_cut: sinks.dead_cut,
        late_events: engine.late_events(),
        state_sizes: {
            let mut sizes: Vec<usize> = engine.states().map(|(_, s)| s.encoded_len()).collect();
            sizes.sort_unstable();
            sizes
        },
        alerts: sinks.kept.unwrap_or_default(),
        broken: sinks.broken,
    })
}

/// The event `readers[i]` holds, its next read in its place, and the reader closed once read
/// to its end.
fn take(
    readers: &mut Vec<Reader>,
    i: usize,
    core: &Core<'_>,
    format: FormatChoice,
    buf: &mut Vec<u8>,
    keep: usize,
    sinks: &mut Sinks,
) -> Result<Option<Resolved>, ReplayError> {
    let Some(reader) = readers.get_mut(i) else {
        return Ok(None);
    };
    let item = reader.head.take();
    fill(reader, core, format, buf, keep, sinks)?;
    if reader.is_done() {
        readers.swap_remove(i);
    }
    Ok(item)
}

/// What the core makes of one record (an over-long one is rejected as it was cut).
fn processed(record: &Record<'_>, core: &Core<'_>, format: FormatChoice) -> Processed {
    if record.len > record.bytes.len() {
        Processed::Rejected(Rejection::oversized(
            record.len,
            core.pipeline.decode.max_record_bytes,
        ))
    } else {
        core.pipeline
            .process(record.bytes, format, core.roster, core.enricher)
    }
}

/// Inputs not opened yet, in the order the merge opens them: by the time of their first
/// event (`None`: at once).
type Pending = std::collections::VecDeque<(Option<DateTime<Utc>>, usize)>;

/// Where each input starts in event time: its earliest event as the merge reads it, read with nothing
/// counted (the merge reads it again), one input open at a time; inputs in the order the
/// merge must open them. Standard input cannot be read twice: it is opened first. An input
/// without any event is opened at the end (its rejections are still counted).
fn first_times(
    inputs: &[Source],
    core: &Core<'_>,
    format: FormatChoice,
    buf: &mut Vec<u8>,
    keep: usize,
) -> Result<Pending, ReplayError> {
    let mut firsts = Vec::with_capacity(inputs.len());
    for (i, source) in inputs.iter().enumerate() {
        if *source == Source::Stdin {
            firsts.push((None, i));
            continue;
        }
        let mut records = source.open(|_| {}).map_err(|error| ReplayError::Input {
            source_name: source.name(),
            error,
        })?;
        // The input's first event is the earliest of its first LOOKAHEAD, as the merge
        // reads it. A read error here is reported when the merge reads the input for real.
        let mut first = DateTime::<Utc>::MAX_UTC;
        let mut resolved = 0;
        while resolved < LOOKAHEAD
            && let Ok(Some(record)) = records.next(buf, keep)
        {
            if let Processed::Resolved(r) = processed(&record, core, format) {
                first = first.min(r.event.time);
                resolved += 1;
            }
        }
        firsts.push((Some(first), i));
    }
    // `None` (standard input) sorts first.
    firsts.sort();
    Ok(firsts.into())
}

/// Merge open readers ahead into one run and close them: the inputs (not runs) when there
/// are two or more of them, else everything (runs of runs), so each event is rewritten a
/// few times at most however many inputs overlap.
fn merge_ahead(
    readers: &mut Vec<Reader>,
    core: &Core<'_>,
    format: FormatChoice,
    buf: &mut Vec<u8>,
    keep: usize,
    sinks: &mut Sinks,
) -> Result<Reader, ReplayError> {
    let inputs = readers
        .iter()
        .filter(|r| matches!(r.feed, Feed::Input(_)))
        .count();
    let mut group: Vec<Reader> = if inputs >= 2 {
        let (group, rest) = std::mem::take(readers)
            .into_iter()
            .partition(|r| matches!(r.feed, Feed::Input(_)));
        *readers = rest;
        group
    } else {
        std::mem::take(readers)
    };
    let order = group.iter().map(|r| r.order).min().unwrap_or(0);
    let mut run = RunWriter::new().map_err(out("a merge run"))?;
    while let Some((_, i)) = earliest(&group) {
        let Some(item) = take(&mut group, i, core, format, buf, keep, sinks)? else {
            break;
        };
        run.push(&item).map_err(out("a merge run"))?;
    }
    let mut reader = Reader {
        name: "(merged inputs)".to_owned(),
        order,
        feed: Feed::Run(Box::new(run.finish().map_err(out("a merge run"))?)),
        head: None,
        ahead: BinaryHeap::new(),
        read: 0,
        ended: false,
    };
    fill(&mut reader, core, format, buf, keep, sinks)?;
    Ok(reader)
}

/// Read `reader` until it holds its next resolved event or ends; rejected records and
/// unknown accounts are counted (and dead-lettered) on the way.
fn fill(
    reader: &mut Reader,
    core: &Core<'_>,
    format: FormatChoice,
    buf: &mut Vec<u8>,
    keep: usize,
    sinks: &mut Sinks,
) -> Result<(), ReplayError> {
    if reader.head.is_some() {
        return Ok(());
    }
    let name = &reader.name;
    let records = match &mut reader.feed {
        Feed::Input(records) => records,
        Feed::Run(run) => {
            // A run is driftwatch's own temporary file: failing to read it back is a
            // fault of this machine (disk), not a broken input.
            reader.head = run.next().map_err(out("a merge run"))?;
            reader.ended = reader.head.is_none();
            return Ok(());
        }
    };
    while !reader.ended && reader.ahead.len() < LOOKAHEAD {
        let record = match records.next(buf, keep) {
            Ok(Some(record)) => record,
            Ok(None) => {
                reader.ended = true;
                break;
            }
            Err(error) => {
                // One broken input (a truncated gzip, a disk error) must not stop the
                // others: what it gave is used, the rest of the run goes on, and the run
                // fails at its end naming it.
                sinks.broken.push((name.clone(), error.to_string()));
                reader.ended = true;
                break;
            }
        };
        let processed = processed(&record, core, format);
        sinks.tally.count(&processed);
        match processed {
            Processed::Rejected(r) => sinks.reject(&r, name, &record)?,
            Processed::Resolved(r) => {
                reader.read += 1;
                reader.ahead.push(Ahead {
                    time: r.event.time,
                    read: reader.read,
                    item: Box::new(r),
                });
            }
            Processed::Blank | Processed::UnknownUser { .. } => {}
        }
    }
    reader.head = reader.ahead.pop().map(|a| *a.item);
    Ok(())
}

fn write_dead_letter(
    out: &mut impl Write,
    r: &Rejection,
    source: &str,
    line: u64,
    bytes: &[u8],
    len: usize,
) -> io::Result<()> {
    // Text with control characters (NULs, escapes) is kept as base64: JSON would write each
    // as a six-byte `\u0000`, and a stream of them would multiply the input by six.
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| !t.chars().any(|c| c.is_control() && c != '\t'));
    let entry = DeadLetter {
        reason: r.reason,
        detail: &r.detail,
        format: r.format,
        source,
        line,
        bytes: len,
        record: text,
        record_base64: match text {
            Some(_) => None,
            None => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        },
        truncated: len > bytes.len(),
    };
    serde_json::to_writer(&mut *out, &entry).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

fn progress_bar(opts: &Options) -> ProgressBar {
    let total: u64 = opts.inputs.iter().filter_map(Source::size).sum();
    if !opts.progress || !io::stderr().is_terminal() || total < PROGRESS_MIN_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

impl Report {
    /// The end-of-run summary printed to stderr.
    pub fn summary(&self, dead_letter: Option<&std::path::Path>) -> String {
        let t = &self.tally;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "driftwatch replay: {} records from {} input(s) in {:.2} s ({:.0} records/s)",
            t.records,
            self.files,
            secs,
            t.records as f64 / secs
        );
        let decoded: u64 = t.decoded.values().sum();
        let _ = writeln!(
            s,
            "  decoded          {decoded:>8}  {}",
            join(t.decoded.iter().map(|(f, n)| (f.as_str().to_owned(), *n)))
        );
        let _ = writeln!(
            s,
            "  non-interactive  {:>8}  (counted, not scored)",
            t.non_interactive
        );
        if t.unroutable > 0 {
            let _ = writeln!(
                s,
                "  unroutable       {:>8}  from private, loopback, link-local, multicast or unspecified addresses (internal: they place nobody)",
                t.unroutable
            );
        }
        let by_reason = t.rejected.iter().map(|(reason, by_format)| {
            let n: u64 = by_format.values().sum();
            (reason.as_str().to_owned(), n)
        });
        let _ = writeln!(
            s,
            "  rejected         {:>8}  {}",
            t.rejected_total(),
            join(by_reason)
        );
        let mut unknown: Vec<_> = t.unknown_users.iter().collect();
        unknown.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        // Account names come from the logs: printed escaped (a forged one must not move the
        // cursor or forge a line of this summary).
        let shown = join(
            unknown
                .iter()
                .take(10)
                .map(|(u, n)| (crate::text::printable(u).into_owned(), **n)),
        );
        let more = if unknown.len() > 10 {
            format!(", … {} more", unknown.len() - 10)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  unknown users    {:>8}  events from {} account(s): {shown}{more}",
            t.unknown_user_events(),
            unknown.len()
        );
        // Logins attributed to nobody for a reason the roster can fix: loud, in capitals.
        for (label, what, names) in [
            (
                "CONFUSABLE",
                "logins of account(s) whose name imitates an employee's through Unicode folding, attributed to nobody",
                &t.confusable_users,
            ),
            (
                "AMBIGUOUS",
                "logins of account(s) that match several employees, judged for nobody (give one an explicit alias in the roster)",
                &t.ambiguous_users,
            ),
        ] {
            if names.is_empty() {
                continue;
            }
            let n: u64 = names.values().sum();
            let shown = join(
                names
                    .iter()
                    .map(|(u, n)| (crate::text::printable(u).into_owned(), *n)),
            );
            let _ = writeln!(s, "  {label:<16} {n:>8}  {what}: {shown}");
        }
        let _ = writeln!(
            s,
            "  alerts           {:>8}  {} | {}",
            t.alerts_total(),
            join(t.alerts_by_rule.iter().map(|(r, n)| (r.clone(), *n))),
            join(
                t.alerts_by_severity
                    .iter()
                    .map(|(sev, n)| (sev.as_str().to_owned(), *n))
            )
        );
        if let Some(max) = self.state_sizes.last() {
            let at = |q: f64| self.state_sizes[((self.state_sizes.len() - 1) as f64 * q) as usize];
            let _ = writeln!(
                s,
                "  state            {:>8}  employees; bytes each: median {}, p99 {}, max {}",
                self.state_sizes.len(),
                at(0.5),
                at(0.99),
                max
            );
        }
        if self.late_events > 0 {
            let _ = writeln!(
                s,
                "  late events      {:>8}  (older than the lateness window; applied out of order)",
                self.late_events
            );
        }
        for (name, why) in &self.broken {
            let _ = writeln!(
                s,
                "  BROKEN INPUT     {}: {why} (its records up to there were used)",
                crate::text::printable(name)
            );
        }
        if let Some(p) = dead_letter {
            let _ = writeln!(
                s,
                "  dead letters     {:>8}  → {}",
                self.dead_letters,
                p.display()
            );
            if self.dead_letters_cut > 0 {
                let _ = writeln!(
                    s,
                    "  NOT WRITTEN      {:>8}  rejected records past [dead_letter] max_bytes (counted above, not kept)",
                    self.dead_letters_cut
                );
            }
        }
        s
    }
}

fn join(items: impl Iterator<Item = (String, u64)>) -> String {
    let parts: Vec<String> = items.map(|(k, n)| format!("{k} {n}")).collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The example events dealt round-robin into `files` files: each covers the same weeks.
    fn dealt(dir: &Path, files: usize, order: &[usize]) -> Vec<Source> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/events");
        let mut names: Vec<_> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        let lines: Vec<String> = names
            .iter()
            .flat_map(|n| {
                std::fs::read_to_string(n)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut bodies = vec![String::new(); files];
        for (i, line) in lines.iter().enumerate() {
            let f = order[i % order.len()] % files;
            bodies[f].push_str(line);
            bodies[f].push('\n');
        }
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let path = dir.join(format!("{i:03}.log"));
                std::fs::write(&path, body).unwrap();
                Source::File(path)
            })
            .collect()
    }

    /// What the merge hands the engine, in order.
    fn merged(loaded: &Loaded, inputs: &[Source], max_open: usize) -> Vec<(String, String)> {
        let config = crate::config::Config::default();
        let mut engine = Engine::new(config.engine());
        let opts = Options {
            keep_alerts: false,
            max_open_inputs: max_open,
            ..Options::in_process(inputs.to_vec(), FormatChoice::Auto)
        };
        let mut seen = Vec::new();
        let report = run_observed(&loaded.core(), &mut engine, &opts, &mut |r| {
            seen.push((r.event.time.to_rfc3339(), r.event.user.clone()));
            false
        })
        .unwrap();
        assert_eq!(report.tally.records, 295, "every record counted once");
        seen
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(24))]
        /// Issue 17, item 5: however the records are spread over however many files, a
        /// merge that may hold only a few of them open hands the engine the same events in
        /// the same order as one holding all open, and counts every record once.
        #[test]
        fn a_bounded_merge_hands_over_what_an_open_one_does(
            files in 3usize..40,
            max_open in 2usize..6,
            order in proptest::collection::vec(0usize..40, 1..60),
        ) {
            let config = crate::config::Config::load(
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("driftwatch.example.toml"),
            )
            .unwrap();
            let loaded = Loaded::load(&config, None, chrono::Utc::now()).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let inputs = dealt(dir.path(), files, &order);
            let all = merged(&loaded, &inputs, 1000);
            proptest::prop_assert!(!all.is_empty());
            proptest::prop_assert_eq!(merged(&loaded, &inputs, max_open), all);
        }
    }
}
