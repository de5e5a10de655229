"""Sweep -> pandas -> chart: concurrent sessions per chip against context length.

Four models at TP8 on eight H200 and on four Ascend 910C (eight dies, one rank each), every
context from 4k to 1M tokens, one kvsim sweep (a pyarrow.Table, 72 rows), read into pandas and
drawn with matplotlib on log-log axes.

    pip install ./python matplotlib
    python examples/sessions_vs_context.py docs/sessions-per-chip.png

The file runs as a script; its `# %%` cells also open as a notebook (VS Code, Jupytext, Spyder).
"""

# %% Sweep: every combination of the lists, one row per point.
import sys

import kvsim

models = ["deepseek-v3", "llama-3.1-70b", "gpt-oss-120b", "qwen3-next-80b-a3b"]
chips = ["h200", "ascend-910c"]
table = kvsim.sweep(model=models, chip=chips, tp=8, context="4k..1M:x2")
df = table.to_pandas()
print(f"{table.num_rows} points, {table.num_columns} columns; "
      f"context is {df.context.dtype}, sessions_per_chip {df.sessions_per_chip.dtype}")

# %% The figures at 32k, as a table: typed columns filter and pivot directly.
at_32k = df[df.context == 32 * 1024].pivot(index="model", columns="chip",
                                             values="sessions_per_chip")
print(at_32k.round(2).to_string())

# %% Chart: one colour per model, solid for H200, dashed for Ascend 910C.
import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(10, 5.6), dpi=120)
names = {"h200": "8× H200", "ascend-910c": "4× Ascend 910C (8 dies)"}
for i, model in enumerate(models):
    for chip, style in zip(chips, ["-", "--"]):
        rows = df[(df.model == model) & (df.chip == chip) & (df.sessions_per_chip > 0)]
        ax.plot(rows.context, rows.sessions_per_chip, style, marker="o", markersize=3,
                color=f"C{i}", label=f"{model}, {names[chip]}")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ticks = sorted(df.context.unique())
ax.set_xticks(ticks, [f"{c // 1024}k" if c < 1 << 20 else f"{c >> 20}M" for c in ticks])
ax.set_xlabel("context length (tokens)")
ax.set_ylabel("concurrent sessions per chip")
# What every line shares, read from the data rather than assumed.
(engine,) = df.engine.unique()
(kv,) = df["precision.kv"].unique()
ax.set_title(f"Sessions per chip vs context: TP8, {engine} accounting, checkpoint weights, "
             f"KV {kv}", fontsize=10)
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 else "sessions-per-chip.png"
fig.savefig(out)
print(f"wrote {out}")
