//! The documentation holds together: every relative link in the repository's Markdown
//! (README.md, docs/, and the READMEs beside the code) reaches a file or folder that
//! exists, every `#anchor` names a heading of its target, and the README's map of the
//! source tree names files that are where it says. Hermetic: files only, no network.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every Markdown file of the repository, outside build output and hidden folders.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if name.ends_with(".md") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(repo(), &mut out);
    out
}

/// The lines of `text` outside fenced code blocks, with their line numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = if trimmed.starts_with("```") {
            Some("```")
        } else if trimmed.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            (None, None) => out.push((i + 1, line)),
            _ => {}
        }
    }
    out
}

/// `line` with each inline code span replaced by `code`, so that brackets inside code
/// (`[--flag]`, `[[route.destination]]`) are not taken for links, while a link whose text
/// is code (`` [`deploy/`](deploy/README.md) ``) is still one.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        let closing = "`".repeat(ticks);
        match after.find(&closing) {
            Some(end) => {
                out.push_str("code");
                rest = &after[end + ticks..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The targets of the inline links `[text](target)` on one line of prose.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let bytes = line.as_bytes();
    let mut targets = Vec::new();
    let mut i = 0;
    while let Some(pos) = line[i..].find("](") {
        let open = i + pos + 2;
        // The link text must have an opening bracket before it on this line.
        if line[..i + pos].rfind('[').is_none() {
            i = open;
            continue;
        }
        let mut depth = 1;
        let mut end = open;
        while end < bytes.len() {
            match bytes[end] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            end += 1;
        }
        let inside = line[open..end.min(line.len())].trim();
        // `[text](target "title")`: the title is not part of the target.
        let target = inside.split_whitespace().next().unwrap_or("");
        let target = target.trim_start_matches('<').trim_end_matches('>');
        if !target.is_empty() {
            targets.push(target.to_string());
        }
        i = end.min(line.len());
    }
    targets
}

/// The anchor GitHub gives a heading: the text as rendered, lower case, with everything
/// but letters, digits, spaces, `-` and `_` dropped and spaces made hyphens.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // Links render as their text.
    while let Some(start) = rest.find('[') {
        text.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match (after.find("]("), after.find(')')) {
            (Some(close), Some(_)) => {
                text.push_str(&after[..close]);
                let tail = &after[close + 2..];
                rest = tail.find(')').map_or("", |p| &tail[p + 1..]);
            }
            _ => {
                text.push('[');
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (ATX `#` headings outside code blocks), with
/// GitHub's `-1`, `-2` … for repeated headings.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let heading = line[hashes..].trim().trim_end_matches('#').trim();
        let base = slug(heading);
        let n = seen.entry(base.clone()).or_insert(0);
        let anchor = if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        *n += 1;
        out.insert(anchor);
    }
    out
}

/// `base` joined with a relative `target`, `..` resolved, refusing to leave the repository.
fn resolve(base: &Path, target: &str) -> Option<PathBuf> {
    let mut path = base.to_path_buf();
    for part in Path::new(target).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !path.pop() {
                    return None;
                }
            }
            Component::Normal(p) => path.push(p),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    path.starts_with(repo()).then_some(path)
}

fn is_external(target: &str) -> bool {
    let scheme = target.split(':').next().unwrap_or("");
    target.contains(':')
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Every relative link of every Markdown file, as (file, line, target).
fn relative_links() -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    for file in markdown_files() {
        let text = read(&file);
        for (n, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if !is_external(&target) {
                    out.push((file.clone(), n, target));
                }
            }
        }
    }
    out
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let links = relative_links();
    assert!(
        links.len() > 100,
        "only {} relative links found: is the link reader broken?",
        links.len()
    );
    let mut anchor_cache: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut broken = Vec::new();
    for (file, line, target) in &links {
        let (path_part, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let dest = if path_part.is_empty() {
            Some(file.clone())
        } else {
            resolve(file.parent().unwrap(), path_part)
        };
        let at = format!("{}:{line}: {target}", shown(file));
        let Some(dest) = dest else {
            broken.push(format!("{at}: leaves the repository"));
            continue;
        };
        if !dest.exists() {
            broken.push(format!("{at}: {} does not exist", shown(&dest)));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if dest.extension().and_then(|e| e.to_str()) != Some("md") {
            broken.push(format!("{at}: an anchor into a file that is not Markdown"));
            continue;
        }
        let known = anchor_cache
            .entry(dest.clone())
            .or_insert_with(|| anchors(&read(&dest)));
        if !known.contains(anchor) {
            broken.push(format!("{at}: {} has no heading #{anchor}", shown(&dest)));
        }
    }
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n  {}",
        broken.len(),
        broken.join("\n  ")
    );
}

/// The README's source-tree table says which folder holds what, and names files in it:
/// each named file is in the folder the row links to, so `ls` finds what the README says.
#[test]
fn the_readme_source_tree_names_files_that_exist() {
    let readme = read(&repo().join("README.md"));
    let start = readme
        .find("### The source tree")
        .expect("README.md has a section \"The source tree\"");
    let table: Vec<&str> = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert!(
        table.len() >= 10,
        "the source-tree table has {} rows",
        table.len()
    );
    let mut checked = 0;
    let mut missing = Vec::new();
    for row in table {
        let folders: Vec<PathBuf> = link_targets(row)
            .into_iter()
            .map(|t| repo().join(t))
            .filter(|p| p.is_dir())
            .collect();
        let Some(folder) = folders.first() else {
            continue;
        };
        // Backticked file names without a folder: `claimed_location.rs`.
        for name in row.split('`').skip(1).step_by(2) {
            if name.contains('/') || !(name.ends_with(".rs") || name.ends_with(".md")) {
                continue;
            }
            checked += 1;
            if !folders.iter().any(|f| f.join(name).is_file()) {
                missing.push(format!("{name} is not in {}", shown(folder)));
            }
        }
    }
    assert!(checked >= 15, "only {checked} file names checked");
    assert!(
        missing.is_empty(),
        "README source tree: {}",
        missing.join("; ")
    );
}

/// Every text file that is not Markdown and may cite a documentation section: code,
/// configuration and deployment files.
fn citing_files() -> Vec<PathBuf> {
    const EXTENSIONS: [&str; 9] = [
        "rs", "toml", "yaml", "yml", "service", "timer", "sh", "txt", "json",
    ];
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "target" || name == "fixtures" {
                continue;
            }
            if path.is_dir() {
                walk(&path, out);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e))
                && !path.ends_with("tests/docs_links.rs")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(repo(), &mut out);
    out
}

/// The citations `docs/PAGE.md, "Section"` in `text`, comment markers between lines
/// dropped so that a citation may wrap: (page, section).
fn citations(text: &str) -> Vec<(String, String)> {
    // One line of prose: each line without its indentation and comment marker.
    let joined: String = text
        .lines()
        .map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("//!")
                .or_else(|| l.strip_prefix("///"))
                .or_else(|| l.strip_prefix("//"))
                .or_else(|| l.strip_prefix('#'))
                .unwrap_or(l);
            l.trim()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = Vec::new();
    let mut rest = joined.as_str();
    while let Some(at) = rest.find("docs/") {
        rest = &rest[at + "docs/".len()..];
        let page_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        let page = &rest[..page_len];
        let Some(page) = page.strip_suffix(".md").map(|p| format!("{p}.md")) else {
            continue;
        };
        let after = rest[page_len..].trim_start();
        let Some(after) = after.strip_prefix(',').map(str::trim_start) else {
            continue;
        };
        let Some(quoted) = after.strip_prefix('"') else {
            continue;
        };
        if let Some(end) = quoted.find('"') {
            out.push((page, quoted[..end].to_string()));
        }
    }
    out
}

/// Code and configuration cite the documentation by page and section (`docs/service.md,
/// "A stage nobody feeds"`): the page exists and has that heading.
#[test]
fn every_section_the_code_cites_exists() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in citing_files() {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        for (page, section) in citations(&text) {
            checked += 1;
            let path = repo().join("docs").join(&page);
            let at = format!("{}: docs/{page}, \"{section}\"", shown(&file));
            match fs::read_to_string(&path) {
                Err(_) => broken.push(format!("{at}: no such page")),
                Ok(doc) if !anchors(&doc).contains(&slug(&section)) => {
                    broken.push(format!("{at}: no such heading"))
                }
                Ok(_) => {}
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} citations found: is the reader broken?"
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_link_reader_reads_links_and_headings_as_github_does() {
    assert_eq!(
        link_targets("see [`docs/x.md`](docs/x.md#a-b) and [y](../y.md \"t\"), not `[a](b)`"),
        ["docs/x.md#a-b", "../y.md"]
    );
    assert_eq!(
        link_targets("| `driftwatch demo [--seed S]` | (see [Quick start](#quick-start)) |"),
        ["#quick-start"]
    );
    assert_eq!(
        slug("Streaming service: `driftwatch run`"),
        "streaming-service-driftwatch-run"
    );
    assert_eq!(slug("claimed_location"), "claimed_location");
    assert_eq!(
        slug("Enrichment: GeoIP and intel lists"),
        "enrichment-geoip-and-intel-lists"
    );
    assert_eq!(
        slug("ASN from ip-location-db (no account)"),
        "asn-from-ip-location-db-no-account"
    );
    assert_eq!(
        slug("See [the runbook](docs/runbook.md)"),
        "see-the-runbook"
    );
    let text = "# A\n```sh\n# not a heading\n```\n## A\n### B: c\n";
    let found: Vec<String> = anchors(text).into_iter().collect();
    assert_eq!(found, ["a", "a-1", "b-c"]);
    assert_eq!(
        citations(
            "/// its time (docs/service.md, \"Ordering and\n    /// determinism\"); docs/x.md"
        ),
        [(
            "service.md".to_string(),
            "Ordering and determinism".to_string()
        )]
    );
    assert!(is_external("https://example.com/x"));
    assert!(is_external("mailto:a@b.example"));
    assert!(!is_external("docs/x.md"));
    assert!(!is_external("#anchor"));
}
