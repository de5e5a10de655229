//! Whole-model figures of the tensors — parameter counts and matmul FLOPs per token — computed
//! once per model instead of at every evaluation (each walks every tensor of every layer kind).
//!
//! The figures are kept beside a copy of the fields they come from. A model changed after they
//! were computed (a what-if transform, `--set`, a library caller editing a field) no longer equals
//! that copy: its figures are then computed afresh at every call, never taken stale.

use super::{
    LayerGroup, LayerOrder, Model, Mtp, ParamCounts, Sharding, Stage, Tensor, WeightBytes,
};
use crate::error::Result;
use crate::precision::PrecisionPlan;
use crate::precision::{PerGroup, TensorGroup};
use std::sync::{Arc, Mutex, OnceLock};

/// The cache a [`Model`] carries. It is no part of the model's value: every two caches compare
/// equal, a clone shares the computed figures, serde skips it.
#[derive(Default, Clone)]
pub struct Figures(OnceLock<Arc<Kept>>);

impl std::fmt::Debug for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Figures(computed)"
        } else {
            "Figures(empty)"
        })
    }
}

impl PartialEq for Figures {
    fn eq(&self, _: &Figures) -> bool {
        true
    }
}

/// The figures of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walked {
    /// Parameter counts without and with the MTP layers (None: the count overflows; the caller
    /// computes it again to report the error).
    pub params: [Option<ParamCounts>; 2],
    /// Matmul FLOPs of one decoded token by tensor group, whole model, lm_head included.
    pub matmul_flops: PerGroup<f64>,
}

/// The figures and the fields of the model they were computed from.
struct Kept {
    from: Inputs,
    walked: Walked,
    /// [`Model::attention_summary`] and [`Model::ffn_summary`]: every report carries them.
    attention: Arc<str>,
    ffn: Arc<str>,
    /// Weight bytes per chip of the stages, formats and shardings asked for lately.
    weights: Mutex<Vec<(WeightsOf, WeightBytes)>>,
    /// Figures derived from a stage's allocations ([`ModelFigures::stage_allocation_figure`]),
    /// with the caller's tag.
    allocations: Mutex<Vec<KeptAllocationFigure>>,
}

/// A stage's allocation figure: what it was computed from (the stage and the caller's tag) and
/// its value.
type KeptAllocationFigure = (WeightsOf, [u64; 2], [u64; 2]);

/// What [`Model::stage_weight_bytes`] takes besides the model.
#[derive(Clone, Copy, PartialEq)]
struct WeightsOf {
    stage: Stage,
    plan: PrecisionPlan,
    sharding: Sharding,
    with_mtp: bool,
}

/// Weight figures kept per model (a sweep asks for a few deployments' at a time).
const KEPT_WEIGHTS: usize = 16;

/// What a report shows of its model: parameter counts and the two summaries.
pub struct Described {
    pub params: ParamCounts,
    pub attention: Arc<str>,
    pub ffn: Arc<str>,
}

/// What [`Model::each_stage_tensor`] and the matmul FLOPs read of a model for the whole model.
#[derive(PartialEq)]
struct Inputs {
    hidden: u64,
    vocab: u64,
    tied_embeddings: bool,
    final_norm: u64,
    lm_head_bias: bool,
    groups: Vec<LayerGroup>,
    /// Which layers each stage holds (shared: cloned and compared in O(1) while unchanged).
    order: LayerOrder,
    mtp: Option<Mtp>,
    vision: Vec<Tensor>,
}

impl Inputs {
    fn of(m: &Model) -> Inputs {
        Inputs {
            hidden: m.hidden,
            vocab: m.vocab,
            tied_embeddings: m.tied_embeddings,
            final_norm: m.final_norm,
            lm_head_bias: m.lm_head_bias,
            groups: m.groups.clone(),
            order: m.order.clone(),
            mtp: m.mtp.clone(),
            vision: m.vision.clone(),
        }
    }

    fn matches(&self, m: &Model) -> bool {
        self.hidden == m.hidden
            && self.vocab == m.vocab
            && self.tied_embeddings == m.tied_embeddings
            && self.final_norm == m.final_norm
            && self.lm_head_bias == m.lm_head_bias
            && self.groups == m.groups
            && self.order == m.order
            && self.mtp == m.mtp
            && self.vision == m.vision
    }
}

fn walk(m: &Model) -> Walked {
    Walked {
        params: [m.count_params(false).ok(), m.count_params(true).ok()],
        matmul_flops: matmul_flops(m),
    }
}

/// FLOPs of each group's matmuls for one decoded token, whole model, lm_head included — 2 per
/// active multiply-add (the roofline's, crate::compute).
fn matmul_flops(m: &Model) -> PerGroup<f64> {
    let mut by = PerGroup::<f64>::default();
    let mut add = |t: &Tensor, n: u64| {
        if !t.vector {
            by[t.group] += 2.0 * t.rows as f64 * t.cols as f64 * t.active as f64 * n as f64;
        }
    };
    let mut buf = Vec::with_capacity(16);
    for g in &m.groups {
        buf.clear();
        g.tensors_into(m.hidden, &mut buf);
        for t in &buf {
            add(t, g.count);
        }
    }
    add(
        &Tensor::matrix(TensorGroup::Embeddings, m.vocab, m.hidden),
        1,
    );
    by
}

impl Model {
    /// The kept figures when they are this model's (computed now if none were kept; None when
    /// the model changed since they were).
    fn kept(&self) -> Option<&Kept> {
        let k = self.figures.0.get_or_init(|| {
            Arc::new(Kept {
                from: Inputs::of(self),
                walked: walk(self),
                attention: self.attention_summary().into(),
                ffn: self.ffn_summary().into(),
                weights: Mutex::new(Vec::new()),
                allocations: Mutex::new(Vec::new()),
            })
        });
        k.from.matches(self).then_some(&**k)
    }

    /// The model's figures, its kept ones checked against its fields once: an evaluation asks
    /// for several (weights per stage, parameter counts, FLOPs) while the model cannot change.
    pub fn figures(&self) -> ModelFigures<'_> {
        ModelFigures {
            model: self,
            kept: self.kept(),
        }
    }

    /// The model's whole-model tensor figures: those kept for it when its fields are unchanged
    /// since, else computed now.
    pub fn walked(&self) -> Walked {
        self.figures().walked()
    }

    /// Weight bytes one chip of a pipeline stage holds under `sharding`: every tensor's bytes in
    /// its format, with scales; kept for the last few stages, formats and shardings.
    pub fn stage_weight_bytes(
        &self,
        stage: &Stage,
        plan: &PrecisionPlan,
        sharding: &Sharding,
        with_mtp: bool,
    ) -> Result<WeightBytes> {
        self.figures()
            .stage_weight_bytes(stage, plan, sharding, with_mtp)
    }

    /// Parameter counts ([`Model::params`]) and summaries, from one look at the kept figures.
    pub fn described(&self, with_mtp: bool) -> Result<Described> {
        self.figures().described(with_mtp)
    }
}

/// A model with its kept figures, checked against it once ([`Model::figures`]): borrowing the
/// model, it cannot go stale while it lives.
pub struct ModelFigures<'a> {
    model: &'a Model,
    kept: Option<&'a Kept>,
}

impl ModelFigures<'_> {
    /// See [`Model::walked`].
    pub fn walked(&self) -> Walked {
        self.kept.map_or_else(|| walk(self.model), |k| k.walked)
    }

    /// See [`Model::stage_weight_bytes`].
    pub fn stage_weight_bytes(
        &self,
        stage: &Stage,
        plan: &PrecisionPlan,
        sharding: &Sharding,
        with_mtp: bool,
    ) -> Result<WeightBytes> {
        let Some(k) = self.kept else {
            return self.model.walk_weights(stage, plan, sharding, with_mtp);
        };
        let of = WeightsOf {
            stage: *stage,
            plan: *plan,
            sharding: *sharding,
            with_mtp,
        };
        // A poisoned lock (a panic elsewhere while it was held) only loses the kept figures.
        let found = k
            .weights
            .lock()
            .ok()
            .and_then(|v| v.iter().find(|(o, _)| *o == of).map(|(_, w)| *w));
        if let Some(w) = found {
            return Ok(w);
        }
        let w = self.model.walk_weights(stage, plan, sharding, with_mtp)?;
        if let Ok(mut v) = k.weights.lock() {
            if v.len() == KEPT_WEIGHTS {
                v.remove(0);
            }
            v.push((of, w));
        }
        Ok(w)
    }

    /// `f` of a stage's weight allocations ([`Model::stage_allocations`]), kept like
    /// [`ModelFigures::stage_weight_bytes`] under `tag` (what else `f` depends on): a sweep
    /// varying batch limits or contexts places the same parameters once.
    pub fn stage_allocation_figure(
        &self,
        stage: &Stage,
        plan: &PrecisionPlan,
        sharding: &Sharding,
        with_mtp: bool,
        tag: [u64; 2],
        f: impl FnOnce(Vec<(u64, u64)>) -> [u64; 2],
    ) -> [u64; 2] {
        let compute = || {
            f(self
                .model
                .stage_allocations(stage, plan, sharding, with_mtp))
        };
        let Some(k) = self.kept else {
            return compute();
        };
        let of = WeightsOf {
            stage: *stage,
            plan: *plan,
            sharding: *sharding,
            with_mtp,
        };
        let found = k.allocations.lock().ok().and_then(|v| {
            v.iter()
                .find(|(o, t, _)| *o == of && *t == tag)
                .map(|(_, _, x)| *x)
        });
        if let Some(x) = found {
            return x;
        }
        let x = compute();
        if let Ok(mut v) = k.allocations.lock() {
            if v.len() == KEPT_WEIGHTS {
                v.remove(0);
            }
            v.push((of, tag, x));
        }
        x
    }

    /// The whole model's weight bytes ([`Model::weight_bytes`]).
    pub fn weight_bytes(&self, plan: &PrecisionPlan, with_mtp: bool) -> Result<WeightBytes> {
        self.stage_weight_bytes(
            &Stage::whole(self.model.layers()),
            plan,
            &Sharding::NONE,
            with_mtp,
        )
    }

    /// See [`Model::described`].
    pub fn described(&self, with_mtp: bool) -> Result<Described> {
        let m = self.model;
        let Some(k) = self.kept else {
            return Ok(Described {
                params: m.count_params(with_mtp)?,
                attention: m.attention_summary().into(),
                ffn: m.ffn_summary().into(),
            });
        };
        Ok(Described {
            params: match k.walked.params[usize::from(with_mtp)] {
                Some(p) => p,
                None => m.count_params(with_mtp)?,
            },
            attention: k.attention.clone(),
            ffn: k.ffn.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::load_model;
    use crate::model::{Ffn, Sharding, Stage};

    // The kept figures are those of a fresh walk, before and after a change to the model (which
    // must not be answered from the figures of the model as it was).
    #[test]
    fn kept_figures_follow_changes() {
        let mut m = load_model("deepseek-v3").unwrap();
        let first = m.walked();
        assert_eq!(first.params[0], m.count_params(false).ok());
        assert_eq!(first.params[1], m.count_params(true).ok());
        // DeepSeek-V3: 671B parameters, 37B activated (arXiv 2412.19437, §1), MTP excluded.
        let p = first.params[0].unwrap();
        assert!((670e9..672e9).contains(&(p.total as f64)), "{}", p.total);
        assert!((36e9..38e9).contains(&(p.active as f64)), "{}", p.active);
        assert_eq!(m.walked(), first);
        let d = m.described(false).unwrap();
        assert_eq!(
            (d.params, d.attention, d.ffn),
            (p, m.attention_summary().into(), m.ffn_summary().into())
        );
        let (plan, whole) = (m.default_plan, Stage::whole(m.layers()));
        let tp8 = Sharding {
            attention_tp: 8,
            tp: 8,
            expert_tp: 8,
            ..Sharding::NONE
        };
        for sharding in [Sharding::NONE, tp8, Sharding::NONE] {
            assert_eq!(
                m.stage_weight_bytes(&whole, &plan, &sharding, true)
                    .unwrap(),
                m.walk_weights(&whole, &plan, &sharding, true).unwrap()
            );
        }
        let weights = m.stage_weight_bytes(&whole, &plan, &tp8, false).unwrap();
        let before = m.clone();
        for g in &mut m.groups {
            if let Ffn::Moe(x) = &mut g.ffn {
                x.top_k = 4;
            }
        }
        let edited = m.walked();
        assert_ne!(edited, first);
        assert_eq!(edited.params[0], m.count_params(false).ok());
        let d = m.described(false).unwrap();
        assert_eq!(*d.ffn, m.ffn_summary());
        assert_ne!(*d.ffn, before.ffn_summary());
        assert_eq!(
            edited.matmul_flops,
            super::matmul_flops(&m),
            "a changed model's FLOPs"
        );
        assert_eq!(
            m.stage_weight_bytes(&whole, &plan, &tp8, false).unwrap(),
            m.walk_weights(&whole, &plan, &tp8, false).unwrap()
        );
        // The dense layers' FFN is untouched, the experts' weights too (top-k changes only
        // what a token reads): bytes equal, kept or not.
        assert_eq!(m.walk_weights(&whole, &plan, &tp8, false).unwrap(), weights);
        m.groups[0].count += 1;
        let grown = Stage::whole(m.layers());
        assert_eq!(
            m.stage_weight_bytes(&grown, &plan, &tp8, false).unwrap(),
            m.walk_weights(&grown, &plan, &tp8, false).unwrap()
        );
        assert_ne!(
            m.stage_weight_bytes(&grown, &plan, &tp8, false).unwrap(),
            weights
        );
        m.groups[0].count -= 1;
        // A clone made before the change still has the figures of the model as it was.
        assert_eq!(before.walked(), first);
        // Changing it back finds the kept figures valid again.
        m = before.clone();
        assert_eq!(m.walked(), first);
    }
}
