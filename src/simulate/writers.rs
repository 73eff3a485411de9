//! The simulator's file I/O: everything else in [`super`] is pure.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use ipnet::IpNet;
use serde::Serialize;

use super::records::{self, paths};
use super::{Observed, SimError, Simulation, Truth};
use crate::enrich::write::{Meta, write_mmdb};

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// Every file written, in the order written.
    pub files: Vec<PathBuf>,
    pub truth: Truth,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_owned(),
        source,
    }
}

fn text(out: &Path, rel: &str, content: &str, files: &mut Vec<PathBuf>) -> Result<(), SimError> {
    let path = out.join(rel);
    std::fs::write(&path, content).map_err(io(&path))?;
    files.push(path);
    Ok(())
}

fn mmdb<T: Serialize>(
    sim: &Simulation,
    out: &Path,
    rel: &str,
    database_type: &str,
    records: &[(IpNet, T)],
    files: &mut Vec<PathBuf>,
) -> Result<(), SimError> {
    let path = out.join(rel);
    let description = format!(
        "driftwatch simulated world (seed {}): synthetic data",
        sim.params.seed
    );
    let meta = Meta {
        database_type,
        description: &description,
        build_epoch: records::build_epoch(sim),
        ipv4_only: false,
    };
    write_mmdb(&path, &meta, records)?;
    files.push(path);
    Ok(())
}

/// A plain or gzip event file.
enum Sink {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Sink {
    fn create(path: &Path, gzip: bool) -> Result<Sink, SimError> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io(path))?);
        // GzEncoder's header carries no time stamp (mtime 0), so output stays
        // byte-identical for a seed.
        Ok(if gzip {
            Sink::Gzip(GzEncoder::new(file, Compression::fast()))
        } else {
            Sink::Plain(file)
        })
    }

    fn line(&mut self, s: &str) -> std::io::Result<()> {
        let w: &mut dyn Write = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
        };
        w.write_all(s.as_bytes())?;
        w.write_all(b"\n")
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Plain(mut w) => w.flush(),
            Sink::Gzip(w) => w.finish()?.flush(),
        }
    }
}

/// Write the whole simulation under `out` (created if missing): roster, approved travel,
/// GeoIP databases and intel lists, configuration, events (gzip when asked) and the ground
/// truth. Events stream from the generator to the files; memory stays bounded.
pub fn write(sim: &Simulation, out: &Path, gzip: bool) -> Result<Written, SimError> {
    for dir in [out.to_path_buf(), out.join("geoip"), out.join("events")] {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    let mut files = Vec::new();
    text(out, paths::ROSTER, &records::roster_csv(sim)?, &mut files)?;
    text(
        out,
        paths::APPROVED_TRAVEL,
        &records::approved_travel_csv(sim)?,
        &mut files,
    )?;
    let world = &sim.world;
    mmdb(
        sim,
        out,
        paths::CITY,
        "GeoIP2-City",
        &records::city_records(world),
        &mut files,
    )?;
    mmdb(
        sim,
        out,
        paths::ASN,
        "GeoLite2-ASN",
        &records::asn_records(world),
        &mut files,
    )?;
    mmdb(
        sim,
        out,
        paths::ANONYMOUS,
        "GeoIP2-Anonymous-IP",
        &records::anonymous_records(world),
        &mut files,
    )?;
    text(
        out,
        paths::CORPORATE_EGRESS,
        &records::corporate_egress_txt(sim),
        &mut files,
    )?;
    text(
        out,
        paths::CARRIER_NAT,
        &records::carrier_nat_txt(sim),
        &mut files,
    )?;
    text(
        out,
        paths::CONSUMER_VPN,
        &records::consumer_vpn_txt(sim),
        &mut files,
    )?;
    text(out, paths::CONFIG, &records::config_toml(sim), &mut files)?;

    let suffix = if gzip { ".gz" } else { "" };
    let okta_path = out.join(format!("{}{suffix}", paths::OKTA));
    let vpn_path = out.join(format!("{}{suffix}", paths::VPN));
    let mut okta = Sink::create(&okta_path, gzip)?;
    let mut vpn = Sink::create(&vpn_path, gzip)?;
    let mut seen = Observed::new(sim);
    let mut stream = sim.events();
    for ev in stream.by_ref() {
        seen.see(sim, &ev);
        if ev.kind.is_vpn() {
            vpn.line(&records::asa_line(sim, &ev))
                .map_err(io(&vpn_path))?;
        } else {
            okta.line(&records::okta_json(sim, &ev))
                .map_err(io(&okta_path))?;
        }
    }
    okta.finish().map_err(io(&okta_path))?;
    vpn.finish().map_err(io(&vpn_path))?;
    files.push(okta_path);
    files.push(vpn_path);
    seen.finish(&stream);

    let truth = sim.truth(&seen);
    let json = serde_json::to_string_pretty(&truth).map_err(|e| SimError::Encode {
        what: "truth",
        message: e.to_string(),
    })?;
    text(out, paths::TRUTH, &(json + "\n"), &mut files)?;
    Ok(Written { files, truth })
}
