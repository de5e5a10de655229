//! Generated workloads: built-in profiles (chat, RAG, code, agentic) and user files (TOML or
//! JSON) giving distributions of prompt and output tokens, an arrival process, shared-prefix
//! groups and multi-turn sessions. [`Generator`] turns one into a seeded [`Source`].
//!
//! A file:
//! ```toml
//! prompt = { kind = "lognormal", median = 1000, sigma = 0.9, max = 16000 }
//! output = { kind = "uniform", min = 50, max = 400 }
//! [arrival]
//! kind = "poisson"          # or "bursty" (with burstiness), or "closed" (users, think_s)
//! rate = 10
//! [prefix]                  # optional: shared system prompts
//! groups = 4
//! tokens = 2000
//! share = 0.9               # fraction of sessions that start with one
//! [session]                 # optional: multi-turn; prompt is then each turn's new tokens
//! turns = { kind = "uniform", min = 2, max = 10 }
//! think_s = { kind = "fixed", value = 5 }
//! ```

use super::dist::{Dist, Sampler};
use super::{mix, Request, Source};
use crate::error::{Error, Result};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, Gamma};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How requests arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrival {
    /// Exponential gaps at `rate` sessions per second.
    Poisson { rate: f64 },
    /// Gamma gaps of shape `burstiness` at `rate` (vLLM `benchmarks/benchmark_serving.py`
    /// `get_request`, v0.8.0: `np.random.gamma(shape=burstiness, scale=1/(rate·burstiness))`;
    /// below 1 burstier than Poisson, 1 is Poisson).
    Bursty { rate: f64, burstiness: f64 },
    /// `users` users, each sending its next request `think_s` after the last one finished.
    Closed { users: u64, think_s: Dist },
}

/// Shared prefixes (system prompts, tool definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefix {
    /// Distinct prefixes, drawn uniformly.
    pub groups: u64,
    /// Tokens of each prefix.
    pub tokens: u64,
    /// Fraction of sessions that start with one (the rest have none).
    #[serde(default = "one")]
    pub share: f64,
}

fn one() -> f64 {
    1.0
}

/// Multi-turn sessions: each turn's prompt is the whole conversation so far plus new tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sessions {
    pub turns: Dist,
    /// Seconds between a turn's last token and the next turn (user or tool time).
    pub think_s: Dist,
}

/// A workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    #[serde(default)]
    pub name: String,
    /// New prompt tokens per request (per turn in a session).
    pub prompt: Dist,
    pub output: Dist,
    pub arrival: Arrival,
    #[serde(default)]
    pub prefix: Option<Prefix>,
    #[serde(default)]
    pub session: Option<Sessions>,
}

/// Names of the built-in profiles.
pub const PROFILES: &[&str] = &["chat", "rag", "code", "agentic"];

fn lognormal(median: f64, sigma: f64, max: f64) -> Dist {
    Dist::Lognormal {
        median,
        sigma,
        max: Some(max),
    }
}

/// A built-in profile. The lengths of `chat` and `code` follow the medians Splitwise reports
/// for Azure's 2023 production traces (Patel et al., ISCA 2024, §3: conversation 1020 prompt /
/// 129 output tokens, coding 1500 / 13); `rag` and `agentic` are illustrative shapes, not
/// measurements, and say so in a warning.
pub fn profile(name: &str) -> Option<Workload> {
    let poisson = Arrival::Poisson { rate: 1.0 };
    Some(match name {
        "chat" => Workload {
            name: name.into(),
            prompt: lognormal(1020.0, 1.0, 32_000.0),
            output: lognormal(129.0, 0.8, 4_000.0),
            arrival: poisson,
            prefix: None,
            session: None,
        },
        "code" => Workload {
            name: name.into(),
            prompt: lognormal(1500.0, 0.8, 16_000.0),
            output: lognormal(13.0, 1.0, 1_000.0),
            arrival: poisson,
            prefix: None,
            session: None,
        },
        "rag" => Workload {
            name: name.into(),
            prompt: lognormal(4000.0, 0.5, 32_000.0),
            output: lognormal(250.0, 0.6, 2_000.0),
            arrival: poisson,
            prefix: Some(Prefix {
                groups: 4,
                tokens: 1000,
                share: 1.0,
            }),
            session: None,
        },
        "agentic" => Workload {
            name: name.into(),
            prompt: lognormal(800.0, 0.8, 8_000.0),
            output: lognormal(300.0, 0.7, 4_000.0),
            arrival: poisson,
            prefix: Some(Prefix {
                groups: 8,
                tokens: 4000,
                share: 1.0,
            }),
            session: Some(Sessions {
                turns: Dist::Uniform {
                    min: 3.0,
                    max: 15.0,
                },
                think_s: lognormal(2.0, 0.7, 60.0),
            }),
        },
        _ => return None,
    })
}

/// Reads a workload file (TOML, or JSON when the name ends in .json): syntax errors name the
/// line and field, values are checked when the generator is built.
pub fn from_file(path: &str) -> Result<Workload> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        file: path.to_string(),
        reason: e.to_string(),
    })?;
    parse(path, &text)
}

/// Parses workload text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Workload> {
    let syntax = |reason: String| Error::Syntax {
        file: file.to_string(),
        reason: reason.trim().replace('\n', " "),
    };
    if file.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| syntax(e.to_string()))
    } else {
        toml::from_str(text).map_err(|e| syntax(e.to_string()))
    }
}

/// A profile name or a file.
pub fn load(spec: &str) -> Result<Workload> {
    match profile(spec) {
        Some(w) => Ok(w),
        None if std::path::Path::new(spec).exists() => from_file(spec),
        None => Err(Error::field(
            "command line",
            "--workload",
            spec,
            format!(
                "a profile ({}) or a workload file (TOML or JSON)",
                PROFILES.join(", ")
            ),
        )),
    }
}

/// A session in progress: its prefix, the conversation so far and the turns left.
#[derive(Debug, Clone)]
struct Session {
    key: u64,
    group: Option<(u64, u64)>,
    history: u64,
    turns_left: u64,
    user: Option<u64>,
    /// The closed-loop user's sessions before this one (0 for open-loop sessions).
    serial: u64,
    /// This session's own random stream: its turns, lengths and think times, drawn in the
    /// session's own order, so that the workload does not depend on when the serving side
    /// completes requests (common random numbers: two deployments simulated with one seed see
    /// the same sessions).
    rng: Xoshiro256PlusPlus,
}

enum Gaps {
    Exp(Exp<f64>),
    Gamma(Gamma<f64>),
    Closed,
}

/// A seeded stream of requests from a workload, at most `limit` of them, none longer than
/// `max_len` tokens (prompt + output; a session that would pass it ends, a one-turn request is
/// cut to fit and counted in a warning).
pub struct Generator {
    w: Workload,
    file: String,
    /// Arrival gaps and closed-loop users' first starts: drawn in time order, which the serving
    /// side does not change.
    rng: Xoshiro256PlusPlus,
    seed: u64,
    /// Open-loop sessions started so far (their streams' index).
    opened: u64,
    prompt: Sampler,
    output: Sampler,
    think: Sampler,
    turns: Sampler,
    gaps: Gaps,
    /// Next open-loop session start.
    next_start: f64,
    /// Turns and closed-loop requests released by completions: (time, sequence, session).
    pending: BinaryHeap<Reverse<(OrdF64, u64, u64)>>,
    sessions: std::collections::HashMap<u64, Session>,
    /// The request `peek` prepared.
    ready: Option<Request>,
    issued: u64,
    limit: u64,
    max_len: u64,
    next_session: u64,
    seq: u64,
    cut: u64,
}

/// An f64 ordered by `total_cmp` (times are finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrdF64(pub f64);
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl Generator {
    /// A generator; `file` names the workload in errors.
    pub fn new(w: Workload, file: &str, seed: u64, limit: u64, max_len: u64) -> Result<Self> {
        let prompt = w.prompt.sampler(file, "prompt")?;
        let output = w.output.sampler(file, "output")?;
        let positive = |field: &str, v: f64| -> Result<f64> {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(Error::field(file, field, v, "a positive, finite number"))
            }
        };
        let (gaps, think) =
            match &w.arrival {
                Arrival::Poisson { rate } => (
                    Gaps::Exp(
                        Exp::new(positive("arrival.rate", *rate)?)
                            .map_err(|e| Error::field(file, "arrival.rate", rate, e.to_string()))?,
                    ),
                    None,
                ),
                Arrival::Bursty { rate, burstiness } => {
                    let r = positive("arrival.rate", *rate)?;
                    let b = positive("arrival.burstiness", *burstiness)?;
                    (
                        Gaps::Gamma(Gamma::new(b, 1.0 / (r * b)).map_err(|e| {
                            Error::field(file, "arrival.burstiness", b, e.to_string())
                        })?),
                        None,
                    )
                }
                Arrival::Closed { users, think_s } => {
                    if *users == 0 || *users > 10_000_000 {
                        return Err(Error::field(
                            file,
                            "arrival.users",
                            users,
                            "1 to 10,000,000 users",
                        ));
                    }
                    (
                        Gaps::Closed,
                        Some(think_s.sampler(file, "arrival.think_s")?),
                    )
                }
            };
        let (turns, think) = match &w.session {
            Some(s) => (
                s.turns.sampler(file, "session.turns")?,
                s.think_s.sampler(file, "session.think_s")?,
            ),
            None => (Sampler::fixed(1.0), think.unwrap_or(Sampler::fixed(0.0))),
        };
        if let Some(p) = &w.prefix {
            if p.groups == 0 {
                return Err(Error::field(file, "prefix.groups", 0, "at least one group"));
            }
            if !(0.0..=1.0).contains(&p.share) {
                return Err(Error::field(
                    file,
                    "prefix.share",
                    p.share,
                    "a fraction 0 to 1",
                ));
            }
        }
        let mut g = Generator {
            file: file.to_string(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            seed,
            opened: 0,
            prompt,
            output,
            think,
            turns,
            gaps,
            next_start: 0.0,
            pending: BinaryHeap::new(),
            sessions: Default::default(),
            ready: None,
            issued: 0,
            limit,
            max_len,
            next_session: 0,
            seq: 0,
            cut: 0,
            w,
        };
        match g.gaps {
            Gaps::Closed => {
                let Arrival::Closed { users, .. } = g.w.arrival else {
                    unreachable!()
                };
                for u in 0..users {
                    // Users start spread over one think time, not all in one instant.
                    let t = g.think.sample(&mut g.rng) * g.rng.random::<f64>();
                    let s = g.new_session(Some(u), 0);
                    g.push(t, s);
                }
                g.next_start = f64::INFINITY;
            }
            _ => g.next_start = g.gap(),
        }
        Ok(g)
    }

    fn gap(&mut self) -> f64 {
        match &self.gaps {
            Gaps::Exp(e) => e.sample(&mut self.rng),
            Gaps::Gamma(g) => g.sample(&mut self.rng),
            Gaps::Closed => f64::INFINITY,
        }
    }

    fn push(&mut self, t: f64, session: u64) {
        self.seq += 1;
        self.pending.push(Reverse((OrdF64(t), self.seq, session)));
    }

    /// A new session: the next open-loop one, or closed-loop user `user`'s session number
    /// `serial`. Its stream is seeded from the seed and that identity alone.
    fn new_session(&mut self, user: Option<u64>, serial: u64) -> u64 {
        let id = self.next_session;
        self.next_session += 1;
        let stream = match user {
            Some(u) => mix(mix(self.seed, 0x05E2), mix(u, serial)),
            None => {
                self.opened += 1;
                mix(mix(self.seed, 0x0BE7), self.opened)
            }
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream);
        let group = self.w.prefix.as_ref().and_then(|p| {
            (rng.random::<f64>() < p.share).then(|| (rng.random_range(0..p.groups), p.tokens))
        });
        let turns = self.turns.tokens(&mut rng, 1);
        self.sessions.insert(
            id,
            Session {
                key: mix(0x5E55_1011, id),
                group: group.map(|(g, n)| (mix(0x0006_E00F, g), n)),
                history: 0,
                turns_left: turns,
                user,
                serial,
                rng,
            },
        );
        id
    }

    /// The next turn of a session as a request at `t`, or None if it ended (turns or length).
    fn turn(&mut self, t: f64, sid: u64) -> Option<Request> {
        let s = self.sessions.get_mut(&sid)?;
        let new = self.prompt.tokens(&mut s.rng, 1);
        let mut out = self.output.tokens(&mut s.rng, 1);
        let s = &*s;
        let pre = s.group.map_or(0, |g| g.1);
        let mut prompt = pre + s.history + new;
        if prompt + out > self.max_len {
            if s.history > 0 {
                return None; // the conversation outgrew the context: it ends
            }
            // A first turn longer than the context is cut to fit (warned).
            self.cut += 1;
            prompt = prompt.min(self.max_len.saturating_sub(1).max(1));
            out = out.min(self.max_len.saturating_sub(prompt).max(1));
        }
        let mut segments = Vec::with_capacity(2);
        let mut key = s.key;
        if let Some((g, n)) = s.group {
            segments.push((g, n));
            key = mix(g, s.key);
        }
        if self.w.session.is_some() {
            segments.push((key, prompt + out));
        }
        let id = self.issued;
        self.issued += 1;
        Some(Request {
            id,
            arrival: t,
            prompt,
            output: out,
            segments,
            session: Some(sid),
        })
    }

    fn prepare(&mut self) {
        while self.ready.is_none() && self.issued < self.limit {
            let from_pending = self
                .pending
                .peek()
                .is_some_and(|Reverse((t, _, _))| t.0 <= self.next_start);
            if from_pending {
                let Some(Reverse((t, _, sid))) = self.pending.pop() else {
                    return;
                };
                match self.turn(t.0, sid) {
                    Some(r) => self.ready = Some(r),
                    None => {
                        // The session ended on length: a closed-loop user starts a new one.
                        if let Some(Session {
                            user: Some(u),
                            serial,
                            ..
                        }) = self.sessions.remove(&sid)
                        {
                            let s = self.new_session(Some(u), serial + 1);
                            self.push(t.0, s);
                        }
                    }
                }
            } else if self.next_start.is_finite() {
                let t = self.next_start;
                self.next_start += self.gap();
                let s = self.new_session(None, 0);
                self.ready = self.turn(t, s);
            } else {
                return; // wait for completions
            }
        }
    }
}

impl Source for Generator {
    fn peek(&mut self) -> Result<Option<f64>> {
        self.prepare();
        Ok(self.ready.as_ref().map(|r| r.arrival))
    }

    fn pop(&mut self) -> Result<Option<Request>> {
        self.prepare();
        Ok(self.ready.take())
    }

    fn finished(&mut self, req: &Request, t: f64) {
        let Some(sid) = req.session else { return };
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.turns_left = s.turns_left.saturating_sub(1);
        let pre = s.group.map_or(0, |g| g.1);
        s.history = req.prompt + req.output - pre;
        let (left, user, serial) = (s.turns_left, s.user, s.serial);
        let think = self.think.sample(&mut s.rng);
        if left > 0 {
            self.push(t + think, sid);
        } else {
            self.sessions.remove(&sid);
            if user.is_some() {
                let s = self.new_session(user, serial + 1);
                self.push(t + think, s);
            }
        }
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if matches!(self.w.name.as_str(), "rag" | "agentic") {
            w.push(format!(
                "workload `{}` is an illustrative built-in shape, not a measured trace: give a file or --trace for your own",
                self.w.name
            ));
        }
        if self.cut > 0 {
            w.push(format!(
                "{}: {} requests longer than the context (max_model_len) were cut to fit",
                self.file, self.cut
            ));
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(g: &mut Generator) -> Vec<Request> {
        let mut v = Vec::new();
        while let Some(r) = g.pop().unwrap() {
            g.finished(&r, r.arrival + 1.0);
            v.push(r);
        }
        v
    }

    // Common random numbers: each session draws its turns, lengths and think times from its own
    // stream, so how fast the serving side completes requests changes when turns arrive, not
    // what the sessions are. Two runs with one seed, one serving each request in 1 s and one in
    // 0.5–18.5 s (completions in another order), give every session the same turns.
    #[test]
    fn sessions_do_not_depend_on_completion_times() {
        let run = |latency: &dyn Fn(u64) -> f64| {
            let w = profile("agentic").unwrap();
            let mut g = Generator::new(w, "agentic", 7, 3_000, 1 << 20).unwrap();
            let mut by_session = std::collections::BTreeMap::<u64, Vec<(u64, u64)>>::new();
            while let Some(r) = g.pop().unwrap() {
                g.finished(&r, r.arrival + latency(r.id));
                by_session
                    .entry(r.session.unwrap())
                    .or_default()
                    .push((r.prompt, r.output));
            }
            by_session
        };
        let fast = run(&|_| 1.0);
        let slow = run(&|id| 0.5 + (id % 7) as f64 * 3.0);
        let mut compared = 0;
        for (sid, a) in &fast {
            let Some(b) = slow.get(sid) else { continue };
            let n = a.len().min(b.len());
            assert_eq!(a[..n], b[..n], "session {sid}");
            compared += n;
        }
        // Most turns are compared (the 3,000-request limit cuts the two runs differently).
        assert!(compared > 2_000, "{compared}");
        assert_eq!(fast.values().map(Vec::len).sum::<usize>(), 3_000);
    }

    // Poisson at 10/s: 20,000 arrivals span about 2,000 s.
    #[test]
    fn poisson_rate() {
        let mut w = profile("chat").unwrap();
        w.arrival = Arrival::Poisson { rate: 10.0 };
        let mut g = Generator::new(w, "chat", 1, 20_000, 1 << 20).unwrap();
        let v = drain(&mut g);
        assert_eq!(v.len(), 20_000);
        let span = v.last().unwrap().arrival;
        assert!((span / 2000.0 - 1.0).abs() < 0.03, "{span}");
    }

    // An agent session's next turn starts with the whole previous turn (prefix, history,
    // output), so its pages hash alike.
    #[test]
    fn sessions_grow_and_share_pages() {
        let w = profile("agentic").unwrap();
        let mut g = Generator::new(w, "agentic", 3, 200, 1 << 20).unwrap();
        let v = drain(&mut g);
        let a = &v[0];
        let b = v
            .iter()
            .find(|r| r.session == a.session && r.id != a.id)
            .unwrap();
        assert!(b.prompt > a.prompt + a.output);
        let block = 16;
        for i in 0..(a.prompt + a.output) / block {
            assert_eq!(a.page_hash(i, block), b.page_hash(i, block), "page {i}");
        }
        // Different sessions share only the system prompt's pages.
        let c = v.iter().find(|r| r.session != a.session).unwrap();
        let shared_group = a.segments[0].0 == c.segments[0].0;
        assert_eq!(a.page_hash(0, block) == c.page_hash(0, block), shared_group);
        assert_ne!(
            a.page_hash(4000 / block, block),
            c.page_hash(4000 / block, block)
        );
    }

    #[test]
    fn same_seed_same_stream() {
        let mk = |seed| {
            drain(&mut Generator::new(profile("rag").unwrap(), "rag", seed, 500, 1 << 20).unwrap())
        };
        assert_eq!(mk(5), mk(5));
        assert_ne!(mk(5), mk(6));
    }

    #[test]
    fn malformed_file_names_line_and_field() {
        let e = parse("w.toml", "prompt = { kind = \"fixed\", value = 10 }\noutput = { kind = \"lognormal\", median = 5 }\n[arrival]\nkind = \"poisson\"\nrate = 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("w.toml") && e.contains("line 2") && e.contains("sigma"),
            "{e}"
        );
        let w = parse("w.toml", "prompt = { kind = \"fixed\", value = 10 }\noutput = { kind = \"fixed\", value = 5 }\n[arrival]\nkind = \"poisson\"\nrate = -1\n").unwrap();
        let e = Generator::new(w, "w.toml", 0, 10, 100)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("arrival.rate"), "{e}");
        let e = parse(
            "w.json",
            "{\"prompt\": {\"kind\": \"fixed\", \"value\": 1},\n \"output\": 3}",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("w.json") && e.contains("line 2"), "{e}");
    }
}
