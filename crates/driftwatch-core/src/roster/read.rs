//! Roster files to raw rows: CSV with a header, or JSON.
//!
//! CSV columns are found by header name (any order, any case); unknown columns are
//! ignored, so an HR export with `department` or `cost_center` columns loads as it is.
//!
//! JSON is an array of objects, or `{"employees": [...]}`, with the CSV column names as
//! keys (exact case). Unknown keys are ignored. `aliases` is an array of strings or one
//! `;`-separated string; a number is taken as its text (`"claimed_lat": 40.7`); `null`
//! is absent. Row errors carry the line the entry's value starts on.

use std::io;

use serde_json::Value;

use super::error::{Field, RosterError, RowError};
use super::row::RawRecord;

const BOM: char = '\u{feff}';

/// Read every CSV row. Row-level problems (bad UTF-8, wrong field count) are returned
/// beside the records so they join the validation report; only an unreadable header or
/// an I/O failure stops reading.
pub(crate) fn csv<R: io::Read>(input: R) -> Result<(Vec<RawRecord>, Vec<RowError>), RosterError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let columns = header_columns(reader.headers().map_err(csv_error)?)?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => match e.kind() {
                csv::ErrorKind::Io(_) => return Err(csv_error(e)),
                _ => {
                    problems.push(record_error(
                        e.position().map_or(0, csv::Position::line),
                        e.to_string(),
                    ));
                    continue;
                }
            },
        }
        let line = row.position().map_or(0, csv::Position::line);
        if row.len() != columns.len() {
            problems.push(record_error(
                line,
                format!("has {} fields; the header has {}", row.len(), columns.len()),
            ));
            continue;
        }
        let mut record = RawRecord::new(line);
        for (field, text) in columns.iter().zip(row.iter()) {
            if let Some(field) = field {
                record.set(*field, text);
            }
        }
        records.push(record);
    }
    Ok((records, problems))
}

fn csv_error(e: csv::Error) -> RosterError {
    RosterError::Csv(e.to_string())
}

fn record_error(line: u64, message: String) -> RowError {
    RowError {
        line,
        employee_id: None,
        field: Field::Record,
        message,
    }
}

/// The field each column holds (`None` for ignored columns); every header problem at once.
fn header_columns(header: &csv::StringRecord) -> Result<Vec<Option<Field>>, RosterError> {
    let columns: Vec<Option<Field>> = header
        .iter()
        .map(|name| Field::from_name(name.trim_start_matches(BOM).trim()))
        .collect();
    let mut problems = Vec::new();
    for field in Field::COLUMNS {
        match columns.iter().filter(|c| **c == Some(field)).count() {
            0 if field.is_required() => problems.push(format!("missing column {field}")),
            0 | 1 => {}
            _ => problems.push(format!("column {field} appears more than once")),
        }
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(RosterError::Header(problems.join("; ")))
    }
}

/// Read every JSON entry.
pub(crate) fn json(text: &str) -> Result<(Vec<RawRecord>, Vec<RowError>), RosterError> {
    let text = text.trim_start_matches(BOM);
    let value: Value = serde_json::from_str(text).map_err(|e| RosterError::Json(e.to_string()))?;
    let (entries, depth) = match value {
        Value::Array(entries) => (entries, 1),
        Value::Object(mut map) if map.len() == 1 => match map.remove("employees") {
            Some(Value::Array(entries)) => (entries, 2),
            _ => return Err(shape_error()),
        },
        _ => return Err(shape_error()),
    };
    let lines = element_lines(text, depth);
    let mut records = Vec::with_capacity(entries.len());
    let mut problems = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        // The scanner finds every element of well-formed JSON, which serde_json just
        // accepted; line 0 would only show a disagreement between the two.
        let line = lines.get(i).copied().unwrap_or(0);
        match entry {
            Value::Object(map) => records.push(json_record(line, &map)),
            _ => problems.push(record_error(line, "entry is not a JSON object".into())),
        }
    }
    Ok((records, problems))
}

fn shape_error() -> RosterError {
    RosterError::Json(r#"expected an array of employees or {"employees": [...]}"#.into())
}

fn json_record(line: u64, map: &serde_json::Map<String, Value>) -> RawRecord {
    let mut record = RawRecord::new(line);
    for field in Field::COLUMNS {
        match (field, map.get(field.name())) {
            (_, None | Some(Value::Null)) => {}
            (_, Some(Value::String(s))) => record.set(field, s),
            (_, Some(Value::Number(n))) => record.set(field, &n.to_string()),
            (Field::Aliases, Some(Value::Array(items))) => {
                for item in items {
                    match item {
                        Value::String(s) => record.set(field, s),
                        other => record
                            .problems
                            .push((field, format!("alias {other} is not a string"))),
                    }
                }
            }
            (_, Some(other)) => record
                .problems
                .push((field, format!("{other} is not a string"))),
        }
    }
    record
}

/// The 1-based line on which each element of the employee array starts, found by a
/// scan of the (already validated) JSON text, since `serde_json::Value` keeps no
/// positions. `depth` is how many containers enclose the elements: 1 for a top-level
/// array, 2 inside `{"employees": [...]}` (which has no other key, so its one array is
/// the only container at that depth).
fn element_lines(text: &str, depth: usize) -> Vec<u64> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut open = 0usize;
    let (mut in_string, mut escaped, mut expect_element) = (false, false, false);
    for b in text.bytes() {
        if b == b'\n' {
            line += 1;
        }
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if expect_element && !b.is_ascii_whitespace() && b != b']' {
            lines.push(line);
            expect_element = false;
        }
        match b {
            b'"' => in_string = true,
            b'{' => open += 1,
            b'[' => {
                open += 1;
                expect_element = open == depth;
            }
            b'}' | b']' => {
                open = open.saturating_sub(1);
                expect_element = false;
            }
            b',' if open == depth => expect_element = true,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_lines_follow_the_array() {
        let text = "[\n  {\"a\": \"x,[{\\\"\"},\n  {\"b\": [1,\n 2]}, 3,\n\n  {}\n]";
        assert_eq!(element_lines(text, 1), [2, 3, 4, 6]);
        let wrapped = "{\"employees\": [\n{},\n\n{\"aliases\": [\"a\", \"b\"]}]}";
        assert_eq!(element_lines(wrapped, 2), [2, 4]);
        assert!(element_lines("[ ]", 1).is_empty());
    }
}
