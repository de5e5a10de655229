#!/usr/bin/env python3
"""Writes configs/chips/<id>.toml from shared/reference/hardware.json.

Run by hand when the reference changes: python3 scripts/chips_from_reference.py ../shared/reference/hardware.json
Only spec-sheet values are copied; device-reported memory is added where a public runtime log gives it.
"""
import json
import re
import sys
from pathlib import Path

ref = json.loads(Path(sys.argv[1]).read_text())
out = Path(__file__).resolve().parent.parent / "configs" / "chips"
out.mkdir(parents=True, exist_ok=True)

IDS = {
    "NVIDIA A100 80GB SXM": "a100-sxm", "NVIDIA H100 SXM": "h100-sxm", "NVIDIA H100 PCIe": "h100-pcie",
    "NVIDIA H100 NVL": "h100-nvl", "NVIDIA H800 SXM": "h800", "NVIDIA H20": "h20", "NVIDIA H200 SXM": "h200",
    "NVIDIA B200 (HGX, per GPU)": "b200", "NVIDIA B300 / Blackwell Ultra (HGX, per GPU)": "b300",
    "NVIDIA GB200 (per Blackwell GPU in GB200 NVL72)": "gb200",
    "NVIDIA GB300 (per Blackwell Ultra GPU in GB300 NVL72)": "gb300", "NVIDIA L40S": "l40s",
    "NVIDIA GeForce RTX 4090": "rtx-4090", "NVIDIA GeForce RTX 5090": "rtx-5090",
    "AMD Instinct MI300X": "mi300x", "AMD Instinct MI325X": "mi325x", "AMD Instinct MI355X": "mi355x",
    "Huawei Ascend 910B (variants B1-B4)": "ascend-910b", "Huawei Ascend 910C": "ascend-910c",
    "Huawei Ascend 950PR": "ascend-950pr", "Huawei Ascend 950DT": "ascend-950dt", "Huawei Ascend 960": "ascend-960",
    "Huawei Ascend 970": "ascend-970", "Google TPU v5e": "tpu-v5e", "Google TPU v5p": "tpu-v5p",
    "Google TPU v6e (Trillium)": "tpu-v6e", "Google TPU7x (Ironwood)": "tpu7x", "Intel Gaudi 3": "gaudi3",
    "Cambricon MLU590": "mlu590", "Cambricon MLU690": "mlu690",
}
# Memory the runtime reports (torch.cuda.mem_get_info total, as vLLM logs it), where a public log gives it.
REPORTED_GIB = {"h100-sxm": (79.19, "vLLM 0.19 start-up log on one H100 80GB (kvsim issue #3)")}
# Ascend 910B: the reference leaves every field null; these are the unofficial figures its notes quote.
UNOFFICIAL = {"ascend-910b": {"memory_GB": 64, "memory_bandwidth_TBps": 1.6, "dense": {"BF16": 320, "FP16": 320},
                              "why": "unofficial: 64 GB HBM commonly reported for 910B1-B3, 1.6 TB/s and 320 TFLOPS FP16 "
                                     "from vLLM-Ascend material quoted in the reference notes; not a datasheet"}}
FORMATS = ["nvfp4", "mxfp4", "mxfp6", "mxfp8", "hif8", "hif4", "fp4", "fp6", "fp8", "bf16", "fp16", "tf32", "hf32",
           "fp32", "fp64", "int8", "int4"]


def q(s):
    return json.dumps(s, ensure_ascii=False)


def num(x):
    if x is None:
        return None
    if isinstance(x, (int, float)):
        return x
    m = re.findall(r"[\d.]+", str(x))
    return float(m[-1]) if m else None


for name, c in ref.items():
    if name.startswith("_"):
        continue
    cid = IDS[name]
    extra = UNOFFICIAL.get(cid, {})
    lines = [f"# {name}: generated from shared/reference/hardware.json by scripts/chips_from_reference.py",
             f"id = {q(cid)}", f"name = {q(name)}", f"vendor = {q(c['vendor'])}"]
    if c.get("launch_year"):
        lines.append(f"launch_year = {c['launch_year']}")
    mem = c.get("memory_GB") or extra.get("memory_GB")
    if mem is not None:
        lines.append(f"memory_gb = {mem}")
    if "GiB" in (c.get("memory_unit_note") or ""):
        lines.append(f"memory_is_gib = true")
    if cid in REPORTED_GIB:
        gib, src = REPORTED_GIB[cid]
        lines.append(f"reported_memory_gib = {gib}  # {src}")
    bw = c.get("memory_bandwidth_TBps") or extra.get("memory_bandwidth_TBps")
    if bw is not None:
        lines.append(f"memory_bandwidth_tbps = {bw}")
    tdp = num(c.get("tdp_W"))
    if tdp is not None:
        lines.append(f"tdp_w = {tdp:g}" + (f"  # spec sheet: {c['tdp_W']}" if isinstance(c['tdp_W'], str) else ""))
    if cid.startswith("ascend"):
        lines.append("default_block_size = 128  # vLLM-Ascend forces block 128 with prefix caching")
    natives = []
    for f in c.get("native_tensor_formats") or []:
        low = f.lower()
        if "no fp8" in low:
            low = low.replace("no fp8", "")
        if "no speedup" in low:
            continue
        for k in FORMATS:
            if re.search(rf"\b{k}\b", low) and k not in natives:
                natives.append(k)
    lines.append(f"native_formats = {q(natives)}")
    lines.append(f"confidence = {q(c.get('confidence') or 'unknown')}")
    notes = " ".join(x for x in [extra.get("why"), c.get("notes")] if x)
    if notes:
        lines.append(f"notes = {q(notes)}")
    lines.append(f"sources = {q(c.get('source') or [])}")
    dense = dict(c.get("dense_TFLOPS") or {})
    dense.update(extra.get("dense", {}))
    lines.append("")
    lines.append("[dense_tflops]")
    for k, v in dense.items():
        if v is None:
            continue
        key = k.lower().replace("_tops", "")
        lines.append(f"{key} = {v}")
    ic = c.get("scale_up_interconnect") or {}
    if ic.get("name"):
        lines.append("")
        lines.append("[interconnect]")
        lines.append(f"name = {q(ic['name'].strip())}")
        if ic.get("bandwidth_GBps") is not None:
            lines.append(f"bandwidth_gbps = {ic['bandwidth_GBps']}")
    (out / f"{cid}.toml").write_text("\n".join(lines) + "\n")
    print(cid)
