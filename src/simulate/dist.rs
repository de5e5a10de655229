//! Distributions of token counts and times a workload file gives: fixed, uniform, lognormal and
//! an empirical histogram. Sampling goes through the caller's seeded RNG, so a run is a function
//! of its seed.

use crate::error::{Error, Result};
use rand::RngExt;
use rand_distr::{Distribution, LogNormal};
use serde::{Deserialize, Serialize};

/// One distribution, written `{ kind = "lognormal", median = 1000, sigma = 0.8 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    /// Always `value`.
    Fixed { value: f64 },
    /// Uniform on `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// exp(N(ln median, sigma²)), optionally cut at `max`.
    Lognormal {
        median: f64,
        sigma: f64,
        #[serde(default)]
        max: Option<f64>,
    },
    /// Bins `[lo, hi, weight]`: a bin drawn by weight, then a value uniform in it.
    Histogram { bins: Vec<[f64; 3]> },
}

/// A validated distribution ready to sample.
#[derive(Debug, Clone)]
pub struct Sampler {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Fixed(f64),
    Uniform(f64, f64),
    /// The distribution, its cap and its uncapped mean.
    Lognormal(LogNormal<f64>, f64, f64),
    /// Cumulative weights (normalised to 1) and the bins.
    Histogram(Vec<f64>, Vec<(f64, f64)>),
}

impl Dist {
    /// Checks the parameters and builds a sampler; `file` and `field` name the place in errors.
    pub fn sampler(&self, file: &str, field: &str) -> Result<Sampler> {
        let nonneg = |name: &str, v: f64| -> Result<f64> {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(Error::field(
                    file,
                    format!("{field}.{name}"),
                    v,
                    "a finite number ≥ 0",
                ))
            }
        };
        let kind = match self {
            Dist::Fixed { value } => Kind::Fixed(nonneg("value", *value)?),
            Dist::Uniform { min, max } => {
                let (lo, hi) = (nonneg("min", *min)?, nonneg("max", *max)?);
                if lo > hi {
                    return Err(Error::field(
                        file,
                        format!("{field}.max"),
                        hi,
                        format!("a number ≥ min ({lo})"),
                    ));
                }
                Kind::Uniform(lo, hi)
            }
            Dist::Lognormal { median, sigma, max } => {
                let m = nonneg("median", *median)?;
                if m == 0.0 {
                    return Err(Error::field(
                        file,
                        format!("{field}.median"),
                        0,
                        "a positive median",
                    ));
                }
                let s = nonneg("sigma", *sigma)?;
                let cap = match max {
                    Some(x) => nonneg("max", *x)?,
                    None => f64::INFINITY,
                };
                let d = LogNormal::new(m.ln(), s)
                    .map_err(|e| Error::field(file, format!("{field}.sigma"), s, e.to_string()))?;
                Kind::Lognormal(d, cap, (m.ln() + s * s / 2.0).exp())
            }
            Dist::Histogram { bins } => {
                if bins.is_empty() {
                    return Err(Error::field(
                        file,
                        format!("{field}.bins"),
                        "an empty list",
                        "at least one [lo, hi, weight] bin",
                    ));
                }
                let mut cum = Vec::with_capacity(bins.len());
                let mut total = 0.0;
                for (i, [lo, hi, w]) in bins.iter().enumerate() {
                    let at = format!("{field}.bins[{i}]");
                    for v in [lo, hi, w] {
                        if !v.is_finite() || *v < 0.0 {
                            return Err(Error::field(
                                file,
                                &at,
                                format!("{lo}, {hi}, {w}"),
                                "finite numbers ≥ 0",
                            ));
                        }
                    }
                    if lo > hi {
                        return Err(Error::field(
                            file,
                            &at,
                            format!("{lo}, {hi}, {w}"),
                            "lo ≤ hi",
                        ));
                    }
                    total += w;
                    cum.push(total);
                }
                if total <= 0.0 {
                    return Err(Error::field(
                        file,
                        format!("{field}.bins"),
                        "weights summing to 0",
                        "a positive total weight",
                    ));
                }
                cum.iter_mut().for_each(|c| *c /= total);
                Kind::Histogram(cum, bins.iter().map(|b| (b[0], b[1])).collect())
            }
        };
        Ok(Sampler { kind })
    }
}

impl Sampler {
    /// A fixed value.
    pub fn fixed(v: f64) -> Sampler {
        Sampler {
            kind: Kind::Fixed(v),
        }
    }

    /// One draw.
    pub fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.kind {
            Kind::Fixed(v) => *v,
            Kind::Uniform(lo, hi) => lo + (hi - lo) * rng.random::<f64>(),
            Kind::Lognormal(d, cap, _) => d.sample(rng).min(*cap),
            Kind::Histogram(cum, bins) => {
                let u = rng.random::<f64>();
                let i = cum.partition_point(|&c| c < u).min(bins.len() - 1);
                let (lo, hi) = bins[i];
                lo + (hi - lo) * rng.random::<f64>()
            }
        }
    }

    /// One draw as a token count: rounded, at least `min`.
    pub fn tokens<R: rand::Rng + ?Sized>(&self, rng: &mut R, min: u64) -> u64 {
        let v = self.sample(rng).round();
        if v.is_finite() && v > 0.0 {
            (v.min(u64::MAX as f64 / 4.0) as u64).max(min)
        } else {
            min
        }
    }

    /// The mean (for messages and the closed-form checks).
    pub fn mean(&self) -> f64 {
        match &self.kind {
            Kind::Fixed(v) => *v,
            Kind::Uniform(lo, hi) => (lo + hi) / 2.0,
            // Uncapped mean of the lognormal; the cap only lowers it.
            Kind::Lognormal(_, _, mean) => *mean,
            Kind::Histogram(cum, bins) => {
                let mut prev = 0.0;
                let mut m = 0.0;
                for (c, (lo, hi)) in cum.iter().zip(bins) {
                    m += (c - prev) * (lo + hi) / 2.0;
                    prev = *c;
                }
                m
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::Xoshiro256PlusPlus {
        rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7)
    }

    // A lognormal's median is its parameter: half of many draws fall below it.
    #[test]
    fn lognormal_median() {
        let s = Dist::Lognormal {
            median: 1000.0,
            sigma: 1.0,
            max: None,
        }
        .sampler("w", "prompt")
        .unwrap();
        let mut r = rng();
        let below = (0..20_000).filter(|_| s.sample(&mut r) < 1000.0).count();
        assert!((below as f64 / 20_000.0 - 0.5).abs() < 0.02, "{below}");
    }

    // Histogram bins are drawn by weight: 3:1 weights give 75% in the first bin.
    #[test]
    fn histogram_weights() {
        let s = Dist::Histogram {
            bins: vec![[0.0, 10.0, 3.0], [100.0, 200.0, 1.0]],
        }
        .sampler("w", "prompt")
        .unwrap();
        assert_eq!(s.mean(), 0.75 * 5.0 + 0.25 * 150.0);
        let mut r = rng();
        let low = (0..20_000).filter(|_| s.sample(&mut r) <= 10.0).count();
        assert!((low as f64 / 20_000.0 - 0.75).abs() < 0.02, "{low}");
    }

    #[test]
    fn bad_parameters_name_the_field() {
        let e = Dist::Uniform { min: 5.0, max: 1.0 }
            .sampler("w.toml", "output")
            .unwrap_err()
            .to_string();
        assert!(e.contains("w.toml") && e.contains("output.max"), "{e}");
        let e = Dist::Histogram {
            bins: vec![[1.0, 2.0, -1.0]],
        }
        .sampler("w.toml", "prompt")
        .unwrap_err()
        .to_string();
        assert!(e.contains("prompt.bins[0]"), "{e}");
    }
}
