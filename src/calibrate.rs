//! `kvsim calibrate`: fits the overhead terms kvsim otherwise estimates (non-torch memory by TP,
//! the activation peak's scale, CUDA-graph memory) to what a set of start-up logs states, and
//! shows the KV-token error of kvsim's own estimates before and after. The fitted
//! [`OverheadProfile`] is applied with `--profile FILE`.

use crate::check::{check, CheckOptions};
use crate::engine::overhead::OverheadProfile;
use crate::error::Result;
use crate::evaluate::evaluate;

const GIB: f64 = (1u64 << 30) as f64;

/// One log to fit: its name, its text and the options `kvsim check` would take.
pub struct LogInput {
    pub file: String,
    pub text: String,
    pub options: CheckOptions,
}

/// What one log contributed.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFit {
    pub file: String,
    /// TP degree of the rebuilt scenario.
    pub tp: u64,
    /// Logged non-torch GiB, activation GiB (with kvsim's estimate), CUDA-graph GiB.
    pub non_torch: Option<f64>,
    pub activation: Option<(f64, f64)>,
    pub cuda_graph: Option<f64>,
    /// KV-token error of kvsim's own estimates: with its defaults, with the fitted profile.
    pub error_before: Option<f64>,
    pub error_after: Option<f64>,
}

/// The fit and what it rests on.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub profile: OverheadProfile,
    pub logs: Vec<LogFit>,
    /// Logs that could not be checked, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Terms no log states, left at kvsim's default.
    pub defaulted: Vec<&'static str>,
}

/// Least squares of `y = a + b·x` with both terms kept non-negative; `b_default` when every `x`
/// is the same (the slope is then not determined by the data).
fn line(points: &[(f64, f64)], b_default: f64) -> (f64, f64) {
    let n = points.len() as f64;
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let b = if sxx > 0.0 {
        (points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx).max(0.0)
    } else {
        b_default
    };
    ((my - b * mx).max(0.0), b)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Fits a profile to `logs`. A log that cannot be checked is skipped and listed, not fatal; no
/// usable log at all is an error.
pub fn calibrate(logs: &[LogInput]) -> Result<Calibration> {
    let mut fits = Vec::new();
    let mut skipped = Vec::new();
    let mut checks = Vec::new();
    for l in logs {
        match check(&l.file, &l.text, &l.options) {
            Ok(c) => {
                let f = |x: Option<crate::check::Figure<f64>>| x.map(|f| f.value);
                let est_act = c.estimated.activation_bytes_per_chip as f64 / GIB;
                // V0 states the torch peak with the weights inside it.
                let logged_act = f(c.logged.activation_gib)
                    .or_else(|| Some(f(c.logged.peak_torch_gib)? - f(c.logged.weights_gib)?));
                fits.push(LogFit {
                    file: l.file.clone(),
                    tp: c.rebuilt.estimated.deployment.tp,
                    non_torch: f(c.logged.non_torch_gib),
                    activation: logged_act
                        .filter(|&a| a > 0.0 && est_act > 0.0)
                        .map(|a| (a, est_act)),
                    cuda_graph: f(c.logged.cuda_graph_gib),
                    error_before: c.estimated_tokens_error(),
                    error_after: None,
                });
                checks.push(c);
            }
            Err(e) => skipped.push((l.file.clone(), e.to_string())),
        }
    }
    if fits.is_empty() {
        return Err(crate::error::Error::field(
            "command line",
            "LOG",
            format!("{} logs, none usable", logs.len()),
            "at least one start-up log kvsim check can read (run kvsim check on each to see why)",
        ));
    }
    let d = OverheadProfile::DEFAULT;
    let mut defaulted = Vec::new();
    let nt: Vec<(f64, f64)> = fits
        .iter()
        .filter_map(|f| f.non_torch.map(|g| ((f.tp - 1) as f64, g)))
        .collect();
    let (base, per_rank) = if nt.is_empty() {
        defaulted.push("non-torch memory");
        (d.non_torch_base_gib, d.non_torch_per_rank_gib)
    } else {
        line(&nt, d.non_torch_per_rank_gib)
    };
    let ratios: Vec<f64> = fits
        .iter()
        .filter_map(|f| f.activation.map(|(l, e)| l / e))
        .collect();
    let activation_scale = if ratios.is_empty() {
        defaulted.push("activation scale");
        d.activation_scale
    } else {
        median(ratios)
    };
    let graphs: Vec<f64> = fits.iter().filter_map(|f| f.cuda_graph).collect();
    let cuda_graph_gib = if graphs.is_empty() {
        defaulted.push("CUDA-graph memory");
        d.cuda_graph_gib
    } else {
        median(graphs)
    };
    // Four decimals: the logs state two.
    let r = |x: f64| (x * 1e4).round() / 1e4;
    let profile = OverheadProfile {
        non_torch_base_gib: r(base),
        non_torch_per_rank_gib: r(per_rank),
        activation_scale: r(activation_scale),
        cuda_graph_gib: r(cuda_graph_gib),
        logs: fits.len() as u32,
    };
    for (f, c) in fits.iter_mut().zip(&checks) {
        let mut s = c.rebuilt.estimated.clone();
        s.overrides.profile = Some(profile);
        let tokens = c.logged.capacity_tokens().filter(|&t| t > 0);
        f.error_after = match (evaluate(&s), tokens) {
            (Ok(r), Some(t)) => Some((r.kv_capacity_tokens_per_chip as f64 - t as f64) / t as f64),
            _ => None,
        };
    }
    Ok(Calibration {
        profile,
        logs: fits,
        skipped,
        defaulted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // y = 0.3 + 0.9·x exactly: the fit returns it; one x only: the default slope.
    #[test]
    fn least_squares_line() {
        let pts = [(0.0, 0.3), (1.0, 1.2), (3.0, 3.0), (7.0, 6.6)];
        let (a, b) = line(&pts, 0.125);
        assert!(
            (a - 0.3).abs() < 1e-12 && (b - 0.9).abs() < 1e-12,
            "{a} {b}"
        );
        let (a, b) = line(&[(0.0, 0.35), (0.0, 0.25)], 0.125);
        assert!((a - 0.3).abs() < 1e-12 && b == 0.125);
        // A negative slope is not physical: clamped to 0, the intercept the mean.
        let (a, b) = line(&[(0.0, 1.0), (1.0, 0.5)], 0.125);
        assert!((a - 0.75).abs() < 1e-12 && b == 0.0);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
