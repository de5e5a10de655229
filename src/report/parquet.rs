//! Arrow record batches and Parquet files from typed rows ([`super::rows`]): one Arrow column per
//! table column, typed by its [`Kind`] — integers as `UInt64`, figures as `Float64`, switches as
//! `Boolean`, text as `Utf8`, lists (warnings, warning codes, compute formats) as `List<Utf8>` —
//! every column nullable (error rows and chips without speed figures leave cells absent).

use super::rows::{text, Cell, Col, Kind, Row};
use crate::error::{Error, Result};
use ::parquet::arrow::ArrowWriter;
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, ListBuilder, StringBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Rows per Parquet row group: small enough to bound the writer's memory on a long sweep.
const ROW_GROUP: usize = 65_536;

/// The Arrow type of a column kind.
fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::U64 => DataType::UInt64,
        Kind::F64 => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Str => DataType::Utf8,
        Kind::List => DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
    }
}

/// The Arrow schema of `columns`.
pub fn schema(columns: &[Col]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(c.name(), data_type(c.kind()), true))
            .collect::<Vec<_>>(),
    ))
}

/// One column's builder.
enum Builder {
    U64(UInt64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    List(ListBuilder<StringBuilder>),
}

/// Builds one record batch of rows, column by column.
pub struct BatchBuilder {
    schema: SchemaRef,
    builders: Vec<Builder>,
    scratch: Vec<u8>,
}

impl BatchBuilder {
    /// A builder of `columns` for about `rows` rows.
    pub fn new(columns: &[Col], schema: SchemaRef, rows: usize) -> BatchBuilder {
        let builders = columns
            .iter()
            .map(|c| match c.kind() {
                Kind::U64 => Builder::U64(UInt64Builder::with_capacity(rows)),
                Kind::F64 => Builder::F64(Float64Builder::with_capacity(rows)),
                Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
                Kind::Str => Builder::Str(StringBuilder::with_capacity(rows, rows * 16)),
                Kind::List => Builder::List(ListBuilder::new(StringBuilder::new())),
            })
            .collect();
        BatchBuilder {
            schema,
            builders,
            scratch: Vec::with_capacity(256),
        }
    }

    /// Appends one row (`columns` as given to [`BatchBuilder::new`]).
    pub fn append(&mut self, columns: &[Col], row: &Row<'_>) {
        for (c, b) in columns.iter().zip(&mut self.builders) {
            let cell = c.get(row);
            match b {
                Builder::U64(b) => b.append_option(match cell {
                    Cell::U64(v) => Some(v),
                    _ => None,
                }),
                Builder::F64(b) => b.append_option(match cell {
                    Cell::F64(v) if v.is_finite() => Some(v),
                    Cell::U64(v) => Some(v as f64),
                    _ => None,
                }),
                Builder::Bool(b) => b.append_option(match cell {
                    Cell::Bool(v) => Some(v),
                    _ => None,
                }),
                Builder::Str(b) => match cell {
                    Cell::Null => b.append_null(),
                    Cell::Str(s) => b.append_value(s),
                    Cell::Owned(s) => b.append_value(s),
                    other => {
                        self.scratch.clear();
                        text(other, &mut self.scratch);
                        b.append_value(String::from_utf8_lossy(&self.scratch));
                    }
                },
                Builder::List(b) => match cell {
                    Cell::Strs(list) => {
                        for s in list {
                            b.values().append_value(s);
                        }
                        b.append(true);
                    }
                    Cell::Codes(list) => {
                        for s in list {
                            b.values().append_value(s);
                        }
                        b.append(true);
                    }
                    _ => b.append(false),
                },
            }
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        match self.builders.first() {
            Some(Builder::U64(b)) => b.len(),
            Some(Builder::F64(b)) => b.len(),
            Some(Builder::Bool(b)) => b.len(),
            Some(Builder::Str(b)) => b.len(),
            Some(Builder::List(b)) => b.len(),
            None => 0,
        }
    }

    /// True before the first row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch of the rows appended.
    pub fn finish(self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::U64(mut b) => Arc::new(b.finish()),
                    Builder::F64(mut b) => Arc::new(b.finish()),
                    Builder::Bool(mut b) => Arc::new(b.finish()),
                    Builder::Str(mut b) => Arc::new(b.finish()),
                    Builder::List(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new(self.schema, arrays)
            .map_err(|e| Error::internal(format!("building an Arrow batch: {e}")))
    }
}

/// Bytes the Parquet writer has produced and the output has not taken yet.
#[derive(Clone, Default)]
struct Pipe(Arc<Mutex<Vec<u8>>>);

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams record batches into a Parquet file written to any output (a file or standard output:
/// Parquet needs no seeking).
pub struct ParquetSink<'a> {
    writer: ArrowWriter<Pipe>,
    pipe: Pipe,
    out: &'a mut dyn Write,
}

fn parquet_error(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("writing Parquet: {e}"))
}

impl<'a> ParquetSink<'a> {
    pub fn new(schema: SchemaRef, out: &'a mut dyn Write) -> Result<ParquetSink<'a>> {
        let pipe = Pipe::default();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .set_compression(::parquet::basic::Compression::SNAPPY)
            .set_created_by(format!("kvsim {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer =
            ArrowWriter::try_new(pipe.clone(), schema, Some(props)).map_err(parquet_error)?;
        Ok(ParquetSink { writer, pipe, out })
    }

    /// Moves what the writer has produced to the output.
    fn drain(&mut self) -> Result<()> {
        let bytes = std::mem::take(&mut *self.pipe.0.lock().map_err(parquet_error)?);
        self.out
            .write_all(&bytes)
            .map_err(|e| Error::write("sweep output", &e))
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(parquet_error)?;
        self.drain()
    }

    /// Writes the footer.
    pub fn finish(mut self) -> Result<()> {
        self.writer.finish().map_err(parquet_error)?;
        self.drain()
    }
}
