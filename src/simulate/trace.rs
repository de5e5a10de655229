//! Request traces, read as a stream (one line at a time: a trace of 10^8 rows never sits in
//! memory). Formats, told apart by the file's first record:
//!
//! - kvsim JSON lines: `{"arrival_s": 0.5, "prompt_tokens": 900, "output_tokens": 120,
//!   "prefix_id": 3, "prefix_tokens": 800, "session_id": 17}` (the last three optional);
//! - kvsim CSV: a header naming `arrival_s,prompt_tokens,output_tokens` and optionally
//!   `prefix_id,prefix_tokens,session_id`;
//! - Mooncake (github.com/kvcache-ai/Mooncake, `FAST25-release/traces/*.jsonl`): JSON lines
//!   `{"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [..]}`, one hash id per
//!   512-token block of the prompt, equal ids meaning equal prefixes;
//! - Azure LLM inference traces (github.com/Azure/AzurePublicDataset, `AzureLLMInferenceTrace_*.csv`):
//!   CSV `TIMESTAMP,ContextTokens,GeneratedTokens`, the time as `2023-11-16 18:15:46.6805900`.
//!
//! Arrivals are shifted so that the first is at 0 and must not go backwards. Every error names
//! the file, the line and the field.

use super::{mix, Request, Source};
use crate::error::{Error, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};

/// Tokens per Mooncake hash id (the trace's block size).
pub const MOONCAKE_BLOCK: u64 = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jsonl,
    Mooncake,
    Csv,
    Azure,
}

/// One parsed row: time, prompt, output, prefix segments, session.
type Row = (f64, u64, u64, Vec<(u64, u64)>, Option<u64>);

/// Column positions of a CSV trace.
#[derive(Debug, Clone, Default)]
struct Columns {
    arrival: usize,
    prompt: usize,
    output: usize,
    prefix_id: Option<usize>,
    prefix_tokens: Option<usize>,
    session: Option<usize>,
}

/// A trace read one line at a time.
pub struct Trace {
    file: String,
    lines: Box<dyn BufRead>,
    format: Option<Format>,
    columns: Columns,
    line_no: u64,
    buf: String,
    ready: Option<Request>,
    t0: Option<f64>,
    last: f64,
    issued: u64,
    limit: u64,
    max_len: u64,
    too_long: u64,
}

fn bad(file: &str, line: u64, field: &str, found: impl std::fmt::Display, expected: &str) -> Error {
    Error::field(format!("{file}: line {line}"), field, found, expected)
}

/// Seconds since 1970 of `YYYY-MM-DD HH:MM:SS[.fraction]` (UTC; days from civil, after
/// Howard Hinnant's `days_from_civil`).
pub fn parse_datetime(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.trim_end_matches('Z').split(':');
    let (hh, mm): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let ss: f64 = t.next()?.parse().ok()?;
    if t.next().is_some()
        || !(0..24).contains(&hh)
        || !(0..60).contains(&mm)
        || !(0.0..61.0).contains(&ss)
    {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + (hh * 3600 + mm * 60) as f64 + ss)
}

impl Trace {
    /// Opens a trace file.
    pub fn open(path: &str, limit: u64, max_len: u64) -> Result<Trace> {
        let f = std::fs::File::open(path).map_err(|e| Error::Io {
            file: path.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Trace::from_reader(
            path,
            Box::new(BufReader::with_capacity(1 << 16, f)),
            limit,
            max_len,
        ))
    }

    /// A trace over any reader; `file` names it in errors.
    pub fn from_reader(file: &str, r: Box<dyn Read>, limit: u64, max_len: u64) -> Trace {
        Trace {
            file: file.to_string(),
            lines: Box::new(BufReader::new(r)),
            format: None,
            columns: Columns::default(),
            line_no: 0,
            buf: String::new(),
            ready: None,
            t0: None,
            last: f64::NEG_INFINITY,
            issued: 0,
            limit,
            max_len,
            too_long: 0,
        }
    }

    fn next_line(&mut self) -> Result<bool> {
        loop {
            self.buf.clear();
            let n = self.lines.read_line(&mut self.buf).map_err(|e| Error::Io {
                file: format!("{}: line {}", self.file, self.line_no + 1),
                reason: e.to_string(),
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            if !self.buf.trim().is_empty() {
                return Ok(true);
            }
        }
    }

    fn detect(&mut self) -> Result<()> {
        let line = self.buf.trim_start_matches('\u{feff}').trim();
        if line.starts_with('{') {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| bad(&self.file, self.line_no, "record", e, "a JSON object"))?;
            self.format = Some(
                if v.get("input_length").is_some() || v.get("hash_ids").is_some() {
                    Format::Mooncake
                } else {
                    Format::Jsonl
                },
            );
            return Ok(());
        }
        let names: Vec<String> = line.split(',').map(|s| s.trim().to_string()).collect();
        let find = |n: &str| names.iter().position(|x| x.eq_ignore_ascii_case(n));
        if let (Some(a), Some(p), Some(o)) = (
            find("TIMESTAMP"),
            find("ContextTokens"),
            find("GeneratedTokens"),
        ) {
            self.format = Some(Format::Azure);
            self.columns = Columns {
                arrival: a,
                prompt: p,
                output: o,
                ..Default::default()
            };
        } else if let (Some(a), Some(p), Some(o)) = (
            find("arrival_s"),
            find("prompt_tokens"),
            find("output_tokens"),
        ) {
            self.format = Some(Format::Csv);
            self.columns = Columns {
                arrival: a,
                prompt: p,
                output: o,
                prefix_id: find("prefix_id"),
                prefix_tokens: find("prefix_tokens"),
                session: find("session_id"),
            };
        } else {
            return Err(bad(
                &self.file,
                self.line_no,
                "header",
                line.chars().take(80).collect::<String>(),
                "JSON lines, a CSV header with arrival_s,prompt_tokens,output_tokens, or Azure's TIMESTAMP,ContextTokens,GeneratedTokens",
            ));
        }
        self.buf.clear(); // the header is not a record
        Ok(())
    }

    fn uint(&self, field: &str, v: Option<&Value>) -> Result<u64> {
        match v {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 1.8e19)
                        .map(|x| x as u64)
                })
                .ok_or_else(|| bad(&self.file, self.line_no, field, n, "a whole number ≥ 0")),
            Some(other) => Err(bad(
                &self.file,
                self.line_no,
                field,
                other,
                "a whole number ≥ 0",
            )),
            None => Err(bad(
                &self.file,
                self.line_no,
                field,
                "nothing",
                "a whole number ≥ 0",
            )),
        }
    }

    fn time(&self, field: &str, v: Option<&Value>, scale: f64) -> Result<f64> {
        match v.and_then(Value::as_f64) {
            Some(x) if x.is_finite() => Ok(x * scale),
            _ => Err(bad(
                &self.file,
                self.line_no,
                field,
                v.map_or("nothing".into(), |x| x.to_string()),
                "a finite number",
            )),
        }
    }

    fn csv_field<'a>(&self, cells: &[&'a str], i: usize, name: &str) -> Result<&'a str> {
        cells.get(i).map(|s| s.trim()).ok_or_else(|| {
            bad(
                &self.file,
                self.line_no,
                name,
                format!("{} cells", cells.len()),
                "a value in this column",
            )
        })
    }

    fn csv_uint(&self, cells: &[&str], i: usize, name: &str) -> Result<u64> {
        let s = self.csv_field(cells, i, name)?;
        s.parse().map_err(|_| {
            bad(
                &self.file,
                self.line_no,
                name,
                format!("`{s}`"),
                "a whole number ≥ 0",
            )
        })
    }

    /// Parses the current line into (time, prompt, output, segments, session).
    fn record(&self) -> Result<Row> {
        let line = self.buf.trim();
        match self.format {
            Some(Format::Jsonl) | Some(Format::Mooncake) => {
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| bad(&self.file, self.line_no, "record", e, "a JSON object"))?;
                if self.format == Some(Format::Mooncake) {
                    let t = self.time("timestamp", v.get("timestamp"), 1e-3)?;
                    let p = self.uint("input_length", v.get("input_length"))?;
                    let o = self.uint("output_length", v.get("output_length"))?;
                    let ids = match v.get("hash_ids") {
                        None => Vec::new(),
                        Some(Value::Array(a)) => a
                            .iter()
                            .enumerate()
                            .map(|(i, h)| {
                                let id = self.uint(&format!("hash_ids[{i}]"), Some(h))?;
                                Ok((
                                    mix(0x0300_CA4E, id),
                                    ((i as u64 + 1) * MOONCAKE_BLOCK).min(p),
                                ))
                            })
                            .collect::<Result<Vec<_>>>()?,
                        Some(other) => {
                            return Err(bad(
                                &self.file,
                                self.line_no,
                                "hash_ids",
                                other,
                                "a list of block hash ids",
                            ))
                        }
                    };
                    return Ok((t, p, o, ids, None));
                }
                let t = self.time("arrival_s", v.get("arrival_s"), 1.0)?;
                let p = self.uint("prompt_tokens", v.get("prompt_tokens"))?;
                let o = self.uint("output_tokens", v.get("output_tokens"))?;
                let opt = |k: &str| -> Result<Option<u64>> {
                    match v.get(k) {
                        None | Some(Value::Null) => Ok(None),
                        x => self.uint(k, x).map(Some),
                    }
                };
                let (pid, ptok, sid) =
                    (opt("prefix_id")?, opt("prefix_tokens")?, opt("session_id")?);
                Ok((t, p, o, segments(pid, ptok, sid, p, o), sid))
            }
            Some(Format::Csv) => {
                let cells: Vec<&str> = line.split(',').collect();
                let c = &self.columns;
                let ts = self.csv_field(&cells, c.arrival, "arrival_s")?;
                let t: f64 = ts
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .ok_or_else(|| {
                        bad(
                            &self.file,
                            self.line_no,
                            "arrival_s",
                            format!("`{ts}`"),
                            "a finite number of seconds",
                        )
                    })?;
                let p = self.csv_uint(&cells, c.prompt, "prompt_tokens")?;
                let o = self.csv_uint(&cells, c.output, "output_tokens")?;
                let opt = |i: Option<usize>, name: &str| -> Result<Option<u64>> {
                    match i.map(|i| self.csv_field(&cells, i, name)) {
                        None => Ok(None),
                        Some(Ok("")) => Ok(None),
                        Some(_) => self.csv_uint(&cells, i.unwrap_or(0), name).map(Some),
                    }
                };
                let (pid, ptok, sid) = (
                    opt(c.prefix_id, "prefix_id")?,
                    opt(c.prefix_tokens, "prefix_tokens")?,
                    opt(c.session, "session_id")?,
                );
                Ok((t, p, o, segments(pid, ptok, sid, p, o), sid))
            }
            Some(Format::Azure) => {
                let cells: Vec<&str> = line.split(',').collect();
                let c = &self.columns;
                let ts = self.csv_field(&cells, c.arrival, "TIMESTAMP")?;
                let t = parse_datetime(ts).ok_or_else(|| {
                    bad(
                        &self.file,
                        self.line_no,
                        "TIMESTAMP",
                        format!("`{ts}`"),
                        "a time like 2023-11-16 18:15:46.6805900",
                    )
                })?;
                let p = self.csv_uint(&cells, c.prompt, "ContextTokens")?;
                let o = self.csv_uint(&cells, c.output, "GeneratedTokens")?;
                Ok((t, p, o, Vec::new(), None))
            }
            None => Err(Error::internal("trace format not detected")),
        }
    }

    fn prepare(&mut self) -> Result<()> {
        while self.ready.is_none() && self.issued < self.limit {
            if !self.next_line()? {
                return Ok(());
            }
            if self.format.is_none() {
                self.detect()?;
                if self.buf.is_empty() {
                    continue;
                }
            }
            let (t, p, o, segments, session) = self.record()?;
            let field = match self.format {
                Some(Format::Mooncake) => "timestamp",
                Some(Format::Azure) => "TIMESTAMP",
                _ => "arrival_s",
            };
            if t < self.last {
                return Err(bad(
                    &self.file,
                    self.line_no,
                    field,
                    t,
                    "arrivals in time order (sort the trace first)",
                ));
            }
            self.last = t;
            let t0 = *self.t0.get_or_insert(t);
            if p == 0 {
                return Err(bad(
                    &self.file,
                    self.line_no,
                    "prompt tokens",
                    0,
                    "at least one prompt token",
                ));
            }
            let o = o.max(1);
            if p + o > self.max_len {
                self.too_long += 1;
            }
            let id = self.issued;
            self.issued += 1;
            self.ready = Some(Request {
                id,
                arrival: t - t0,
                prompt: p,
                output: o,
                segments,
                session,
            });
        }
        Ok(())
    }
}

/// Segments of a trace row: a shared prefix of `prefix_tokens` named `prefix_id`, and a session
/// whose turns extend one another.
fn segments(
    pid: Option<u64>,
    ptok: Option<u64>,
    sid: Option<u64>,
    p: u64,
    o: u64,
) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    let mut key = 0x0007_4ACE;
    if let Some(g) = pid {
        key = mix(0x0006_E00F, g);
        v.push((key, ptok.unwrap_or(p).min(p)));
    }
    if let Some(s) = sid {
        v.push((mix(key, mix(0x5E55_1011, s)), p + o));
    }
    v
}

impl Source for Trace {
    fn peek(&mut self) -> Result<Option<f64>> {
        self.prepare()?;
        Ok(self.ready.as_ref().map(|r| r.arrival))
    }
    fn pop(&mut self) -> Result<Option<Request>> {
        self.prepare()?;
        Ok(self.ready.take())
    }
    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.format == Some(Format::Azure) {
            w.push(format!(
                "{}: Azure traces carry no prefix or session ids: no prefix reuse is simulated",
                self.file
            ));
        }
        if self.too_long > 0 {
            w.push(format!(
                "{}: {} requests exceed the context (max_model_len) and are dropped, as vLLM rejects them",
                self.file, self.too_long
            ));
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Request>> {
        let mut t = Trace::from_reader(
            "t",
            Box::new(std::io::Cursor::new(text.to_string())),
            u64::MAX,
            1 << 20,
        );
        let mut v = Vec::new();
        while let Some(r) = t.pop()? {
            v.push(r);
        }
        Ok(v)
    }

    // Two Mooncake rows sharing their first hash id share the first 512-token block's pages.
    #[test]
    fn mooncake_rows() {
        let v = read("{\"timestamp\": 1000, \"input_length\": 1200, \"output_length\": 10, \"hash_ids\": [7, 8, 9]}\n{\"timestamp\": 1500, \"input_length\": 600, \"output_length\": 3, \"hash_ids\": [7, 11]}\n").unwrap();
        assert_eq!((v[0].arrival, v[1].arrival), (0.0, 0.5));
        assert_eq!((v[0].prompt, v[0].output), (1200, 10));
        assert_eq!(v[0].segments[2].1, 1200);
        for i in 0..32 {
            assert_eq!(v[0].page_hash(i, 16), v[1].page_hash(i, 16));
        }
        assert_ne!(v[0].page_hash(32, 16), v[1].page_hash(32, 16));
    }

    // Azure's timestamps are datetimes: 0.5 s apart here.
    #[test]
    fn azure_rows() {
        let v = read("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.1805900,396,109\n").unwrap();
        assert_eq!(v.len(), 2);
        assert!((v[1].arrival - 0.5).abs() < 1e-6);
        assert_eq!((v[1].prompt, v[1].output), (396, 109));
        // 2023-11-16 00:00:00 UTC is 1,700,092,800 s after the epoch.
        assert_eq!(parse_datetime("2023-11-16 00:00:00"), Some(1_700_092_800.0));
    }

    #[test]
    fn kvsim_csv_and_jsonl() {
        let v = read("arrival_s,prompt_tokens,output_tokens,prefix_id,prefix_tokens\n0,100,5,1,64\n0.25,80,5,,\n").unwrap();
        assert_eq!(v[0].segments.len(), 1);
        assert!(v[1].segments.is_empty());
        let v = read(
            "{\"arrival_s\": 2, \"prompt_tokens\": 10, \"output_tokens\": 1, \"session_id\": 4}\n",
        )
        .unwrap();
        assert_eq!((v[0].arrival, v[0].session), (0.0, Some(4)));
    }

    // Every malformed row names its line and field; none panics.
    #[test]
    fn malformed_rows_name_line_and_field() {
        for (text, line, field) in [
            ("{\"arrival_s\": 0, \"prompt_tokens\": 10, \"output_tokens\": 1}\n{\"arrival_s\": 1, \"prompt_tokens\": -3, \"output_tokens\": 1}\n", "line 2", "prompt_tokens"),
            ("{\"arrival_s\": 0, \"prompt_tokens\": 10}\n", "line 1", "output_tokens"),
            ("{\"timestamp\": 5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1, \"x\"]}\n", "line 1", "hash_ids[1]"),
            ("arrival_s,prompt_tokens,output_tokens\n0,10,1\n\n0.5,ten,1\n", "line 4", "prompt_tokens"),
            ("arrival_s,prompt_tokens,output_tokens\n1,10,1\n0.5,10,1\n", "line 3", "arrival_s"),
            ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,1\n", "line 2", "TIMESTAMP"),
            ("a,b,c\n", "line 1", "header"),
            ("{\"arrival_s\": 0, \"prompt_tokens\": 10, \"output_tokens\": 1}\n{not json\n", "line 2", "record"),
            ("arrival_s,prompt_tokens,output_tokens\n0,10\n", "line 2", "output_tokens"),
        ] {
            let e = read(text).unwrap_err().to_string();
            assert!(e.contains(line) && e.contains(field), "{text:?}: {e}");
        }
    }
}
