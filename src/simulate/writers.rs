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

/// The synthetic world's databases, lists and configuration.
fn synthetic_geoip(sim: &Simulation, out: &Path, files: &mut Vec<PathBuf>) -> Result<(), SimError> {
    let world = &sim.world;
    mmdb(
        sim,
        out,
        paths::CITY,
        "GeoIP2-City",
        &records::city_records(world),
        files,
    )?;
    mmdb(
        sim,
        out,
        paths::ASN,
        "GeoLite2-ASN",
        &records::asn_records(world),
        files,
    )?;
    mmdb(
        sim,
        out,
        paths::ANONYMOUS,
        "GeoIP2-Anonymous-IP",
        &records::anonymous_records(world),
        files,
    )?;
    text(
        out,
        paths::CORPORATE_EGRESS,
        &records::corporate_egress_txt(sim),
        files,
    )?;
    text(
        out,
        paths::CARRIER_NAT,
        &records::carrier_nat_txt(sim),
        files,
    )?;
    text(
        out,
        paths::CONSUMER_VPN,
        &records::consumer_vpn_txt(sim),
        files,
    )?;
    text(out, paths::CONFIG, &records::config_toml(sim), files)
}

/// The real world's ASN database (built from the real ranges), the lists a deployment has
/// (the shipped one, copies of the public ones, the company's egress), the simulator's
/// truth lists, and a configuration for each list mode.
fn real_geoip(
    sim: &Simulation,
    real: &super::real::RealWorld,
    out: &Path,
    files: &mut Vec<PathBuf>,
) -> Result<(), SimError> {
    for dir in ["geoip/public", "geoip/truth"] {
        let dir = out.join(dir);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    let asn = out.join(paths::REAL_ASN);
    crate::enrich::asn_csv::build(
        std::slice::from_ref(&real.asn_csv),
        &asn,
        records::build_epoch(sim),
    )
    .map_err(|e| SimError::RealData {
        message: e.to_string(),
    })?;
    files.push(asn);
    text(
        out,
        paths::CORPORATE_EGRESS,
        &records::corporate_egress_txt(sim),
        files,
    )?;
    text(out, paths::SHIPPED_VPN, records::SHIPPED_VPN_LIST, files)?;
    text(
        out,
        paths::SHIPPED_MOBILE,
        records::SHIPPED_MOBILE_LIST,
        files,
    )?;
    let public = real
        .public_lists
        .as_ref()
        .ok_or_else(|| SimError::RealData {
            message: "the real world needs the public anonymizer lists (--lists DIR, \
                  ../shared/geoip/anonymizer)"
                .to_owned(),
        })?;
    for (from, to) in [
        ("x4bnet-lists_vpn/output/vpn/ipv4.txt", paths::PUBLIC_VPN),
        (
            "x4bnet-lists_vpn/output/datacenter/ipv4.txt",
            paths::PUBLIC_DATACENTER,
        ),
        ("bad-asn-list/bad-asn-list.csv", paths::PUBLIC_BAD_ASN),
    ] {
        let src = public.join(from);
        let dst = out.join(to);
        std::fs::copy(&src, &dst).map_err(io(&src))?;
        files.push(dst);
    }
    use super::world::NetKind;
    for (path, header, kinds) in [
        (
            paths::TRUTH_CARRIERS,
            "Mobile carrier blocks (tag carrier_nat).",
            &[NetKind::Mobile][..],
        ),
        (
            paths::TRUTH_HOSTING,
            "Hosting and VPS blocks (tag hosting).",
            &[NetKind::Hosting][..],
        ),
        (
            paths::TRUTH_VPN,
            "Consumer VPN servers (tag vpn).",
            &[NetKind::ConsumerVpn][..],
        ),
    ] {
        text(
            out,
            path,
            &records::truth_list_txt(sim, header, kinds),
            files,
        )?;
    }
    text(
        out,
        paths::CONFIG,
        &records::real_config_toml(sim, &real.city_path, false),
        files,
    )?;
    text(
        out,
        paths::CONFIG_FULL_LISTS,
        &records::real_config_toml(sim, &real.city_path, true),
        files,
    )
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
    match &sim.real {
        None => synthetic_geoip(sim, out, &mut files)?,
        Some(real) => real_geoip(sim, real, out, &mut files)?,
    }

    let suffix = if gzip { ".gz" } else { "" };
    let okta_path = out.join(format!("{}{suffix}", paths::OKTA));
    let vpn_path = out.join(format!("{}{suffix}", paths::VPN));
    let entra_path = out.join(format!("{}{suffix}", paths::ENTRA));
    let mut okta = Sink::create(&okta_path, gzip)?;
    let mut vpn = Sink::create(&vpn_path, gzip)?;
    // Only the real world's employees sign in through Entra ID too.
    let mut entra = match sim.real {
        Some(_) => Some(Sink::create(&entra_path, gzip)?),
        None => None,
    };
    let mut seen = Observed::new(sim);
    let mut stream = sim.events();
    for ev in stream.by_ref() {
        seen.see(sim, &ev);
        if ev.kind.is_vpn() {
            vpn.line(&records::asa_line(sim, &ev))
                .map_err(io(&vpn_path))?;
        } else if ev.kind.is_entra() {
            if let Some(sink) = entra.as_mut() {
                sink.line(&records::entra_json(sim, &ev))
                    .map_err(io(&entra_path))?;
            }
        } else {
            okta.line(&records::okta_json(sim, &ev))
                .map_err(io(&okta_path))?;
        }
    }
    okta.finish().map_err(io(&okta_path))?;
    vpn.finish().map_err(io(&vpn_path))?;
    files.push(okta_path);
    files.push(vpn_path);
    if let Some(sink) = entra {
        sink.finish().map_err(io(&entra_path))?;
        files.push(entra_path);
    }
    seen.finish(&stream);

    let truth = sim.truth(&seen);
    let json = serde_json::to_string_pretty(&truth).map_err(|e| SimError::Encode {
        what: "truth",
        message: e.to_string(),
    })?;
    text(out, paths::TRUTH, &(json + "\n"), &mut files)?;
    Ok(Written { files, truth })
}
