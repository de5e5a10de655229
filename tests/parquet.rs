//! `kvsim sweep --format parquet` read back with the parquet crate: typed columns (integers as
//! integers, figures as floats, warnings as lists), one column per grid axis, and the same values
//! as the CSV of the same grid.
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::process::Command;

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("the kvsim binary runs")
}

fn sweep_parquet(name: &str, args: &[&str]) -> Vec<RecordBatch> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let mut all = vec![
        "sweep",
        "--format",
        "parquet",
        "--output",
        path.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = kvsim(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::File::open(&path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn column_type(b: &RecordBatch, name: &str) -> DataType {
    b.schema()
        .field_with_name(name)
        .unwrap_or_else(|_| panic!("no column {name}"))
        .data_type()
        .clone()
}

// The README's catalog sweep: every row, typed columns, the same numbers as the CSV.
#[test]
fn catalog_sweep_has_typed_columns() {
    let grid = ["--model", "all", "--chip", "all", "--context", "8k..1M:x2"];
    let batches = sweep_parquet("catalog.parquet", &grid);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let csv = String::from_utf8(kvsim(&[&["sweep"][..], &grid].concat()).stdout).unwrap();
    assert_eq!(rows, csv.lines().count() - 1);
    let b = &batches[0];
    for (name, t) in [
        ("context", DataType::UInt64),
        ("tp", DataType::UInt64),
        ("kv_budget_bytes_per_chip", DataType::UInt64),
        ("sessions_per_deployment", DataType::UInt64),
        ("sessions_per_chip", DataType::Float64),
        ("memory_fraction", DataType::Float64),
        ("dp_attention", DataType::Boolean),
        ("dense", DataType::Boolean),
        ("model", DataType::Utf8),
        ("engine", DataType::Utf8),
        ("engine_version", DataType::Utf8),
        ("precision.routed_experts", DataType::Utf8),
        ("attention_transform", DataType::Utf8),
        ("moe_transform", DataType::Utf8),
        ("error", DataType::Utf8),
    ] {
        assert_eq!(column_type(b, name), t, "{name}");
    }
    for name in ["warnings", "warning_codes", "compute_formats"] {
        assert!(
            matches!(column_type(b, name), DataType::List(f) if f.data_type() == &DataType::Utf8),
            "{name}"
        );
    }
    // The first CSV row's numbers are the first Parquet row's.
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(header.len(), b.num_columns());
    let first = csv.lines().nth(1).unwrap();
    let ctx = b
        .column_by_name("context")
        .unwrap()
        .as_primitive::<UInt64Type>();
    assert_eq!(ctx.value(0), 8192);
    assert!(first.contains(",8192,"), "{first}");
    let spc = b
        .column_by_name("sessions_per_chip")
        .unwrap()
        .as_primitive::<Float64Type>();
    let sessions = b
        .column_by_name("sessions_per_deployment")
        .unwrap()
        .as_primitive::<UInt64Type>();
    let chips = b
        .column_by_name("chips")
        .unwrap()
        .as_primitive::<UInt64Type>();
    for i in 0..b.num_rows() {
        if !sessions.is_null(i) {
            assert_eq!(
                spc.value(i),
                sessions.value(i) as f64 / chips.value(i) as f64
            );
        }
    }
    let engine = b.column_by_name("engine").unwrap().as_string::<i32>();
    assert_eq!(engine.value(0), "vllm");
}

// Each what-if axis is a column of its own, typed by its values; an error row keeps its context
// as an integer.
#[test]
fn every_axis_is_a_column() {
    let batches = sweep_parquet(
        "axes.parquet",
        &[
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm",
            "--set",
            "num_hidden_layers=16,32",
            "--attention",
            "gqa:8,mqa",
            "--tp",
            "1,3",
            "--context",
            "8k",
        ],
    );
    let b = &batches[0];
    assert_eq!(b.num_rows(), 8);
    assert_eq!(column_type(b, "set.num_hidden_layers"), DataType::UInt64);
    let layers = b
        .column_by_name("set.num_hidden_layers")
        .unwrap()
        .as_primitive::<UInt64Type>();
    assert_eq!(layers.value(0), 16);
    assert_eq!(layers.value(7), 32);
    let att = b
        .column_by_name("attention_transform")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(att.value(0), "gqa:8");
    assert_eq!(att.value(2), "mqa");
    let model = b.column_by_name("model").unwrap().as_string::<i32>();
    assert_eq!(model.value(0), "llama-3.1-8b");
    // tp 3 does not divide the heads: an error row, with its axis values typed.
    let err = b.column_by_name("error").unwrap().as_string::<i32>();
    let tp = b.column_by_name("tp").unwrap().as_primitive::<UInt64Type>();
    let ctx = b
        .column_by_name("context")
        .unwrap()
        .as_primitive::<UInt64Type>();
    assert!(err.is_null(0) && !err.is_null(1), "{:?}", err);
    assert_eq!((tp.value(1), ctx.value(1)), (3, 8192));
    assert!(b.column_by_name("sessions_per_chip").unwrap().is_null(1));
}
