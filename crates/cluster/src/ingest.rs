//! Ingest on the cluster.
//!
//! The plan is two stages joined by a shuffle:
//!
//! ```text
//! WriteExec            one writer per slice of the event-identity hash space: drops
//!   shuffle by hash    duplicates (against the committed store and each other), writes
//! ParseExec            sealed segments into the shared store; parses groups of files
//! ```
//!
//! Every copy of an event hashes to the same writer, so duplicates are found exactly as in
//! the embedded ingest. Each file's report (records, rejects, skips, warnings) travels
//! through the shuffle as a row of its own; the writers return the reports and what they
//! wrote, and the caller lists the segments only when every record of every file is
//! accounted for ([`backtrail_store::IngestRun::commit`]). A killed or failed round
//! lists nothing; its files are removed by the next ingest, which reads them again.

use crate::{ClusterError, scheduler_url};
use arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt64Array, new_null_array,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use backtrail_model::Event;
use backtrail_normalize::parse_stream;
use backtrail_sources::{S3Options, SourceFile, Sources};
use backtrail_store::columns::{Builder, rows, schema};
use backtrail_store::ids::id_hash;
use backtrail_store::{
    FileReport, IngestOptions, IngestSummary, Manifest, PartitionOutput, PartitionWriter, Store,
};
use ballista::prelude::SessionConfigExt;
use ballista_core::execution_plans::execute_physical_plan;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per batch sent into the shuffle.
const BATCH_ROWS: usize = 8192;

/// Where the parse tasks find S3. Credentials are never sent: each executor takes them
/// from its own environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParseSpec {
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
}

/// What the writers write into.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteSpec {
    store: PathBuf,
    row_group_rows: usize,
    segment_rows: u64,
    id_budget: usize,
}

/// Column of the shuffle rows that holds the hash partitioning key.
const PART: &str = "bt_part";
/// Column with the source file's key.
const FILE: &str = "bt_file";
/// Column holding a file report (JSON); null on event rows.
const REPORT: &str = "bt_report";
/// The writers' single output column: one JSON result per writer.
const RESULT: &str = "bt_result";
/// The file list's column: one JSON [`SourceFile`] per row.
const SOURCE: &str = "bt_source";

fn file_list_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(SOURCE, DataType::Utf8, false)]))
}

/// The files to read as an in-memory scan, one partition per group. Ballista hands each
/// task exactly its own partitions of such a scan, so every file is parsed once; a leaf
/// of our own would be run whole by every task.
fn file_list(groups: &[&[SourceFile]]) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = file_list_schema();
    let mut partitions = Vec::with_capacity(groups.len());
    for g in groups {
        let rows = g
            .iter()
            .map(|f| serde_json::to_string(f).map_err(exec_err))
            .collect::<Result<Vec<_>>>()?;
        partitions.push(vec![RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(rows))],
        )?]);
    }
    let exec: Arc<dyn ExecutionPlan> = MemorySourceConfig::try_new_exec(&partitions, schema, None)?;
    Ok(exec)
}

/// The shuffle rows: every events column (nullable, as report rows leave them empty) and
/// the three of the shuffle.
fn staged_schema() -> SchemaRef {
    let mut fields: Vec<Field> = schema::<Event>()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    fields.push(Field::new(PART, DataType::UInt64, false));
    fields.push(Field::new(FILE, DataType::Utf8, false));
    fields.push(Field::new(REPORT, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(RESULT, DataType::Utf8, false)]))
}

fn properties(schema: SchemaRef, partitions: usize) -> PlanProperties {
    PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    )
}

/// A text column of one of the batches these operators pass each other.
fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| exec_err(format!("batch without the text column {name}")))
}

fn exec_err(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// Reads and parses the files its input lists, partition by partition.
#[derive(Debug)]
pub struct ParseExec {
    input: Arc<dyn ExecutionPlan>,
    spec: ParseSpec,
    props: Arc<PlanProperties>,
}

impl ParseExec {
    /// A parse node over a file list (see `file_list`).
    pub fn new(input: Arc<dyn ExecutionPlan>, spec: ParseSpec) -> Self {
        let n = input.output_partitioning().partition_count();
        ParseExec {
            input,
            spec,
            props: Arc::new(properties(staged_schema(), n)),
        }
    }

    /// Where the node reads S3 (for the codec).
    pub fn spec(&self) -> &ParseSpec {
        &self.spec
    }
}

impl DisplayAs for ParseExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "BacktrailParseExec")
    }
}

impl ExecutionPlan for ParseExec {
    fn name(&self) -> &str {
        "BacktrailParseExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(exec_err("BacktrailParseExec has one child"));
        }
        Ok(Arc::new(ParseExec::new(
            children.remove(0),
            self.spec.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, ctx)?;
        let s3 = S3Options {
            use_env: true,
            endpoint: self.spec.s3_endpoint.clone(),
            region: self.spec.s3_region.clone(),
            ..S3Options::default()
        };
        let rows = futures::stream::once(async move {
            let mut files = Vec::new();
            while let Some(batch) = input.next().await {
                let batch = batch?;
                let col = strings(&batch, SOURCE)?;
                for v in col.iter().flatten() {
                    files.push(serde_json::from_str::<SourceFile>(v).map_err(exec_err)?);
                }
            }
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
            // A plain thread: reading S3 blocks on a runtime of its own, which a tokio
            // blocking-pool thread may not do.
            std::thread::Builder::new()
                .name("backtrail-parse".into())
                .spawn(move || {
                    if let Err(e) = parse_group(&files, s3, &tx) {
                        let _ = tx.blocking_send(Err(e));
                    }
                })
                .map_err(exec_err)?;
            Ok::<_, DataFusionError>(futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (b, rx))
            }))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            staged_schema(),
            rows,
        )))
    }
}

/// Parses the files of one group into shuffle rows: events in batches, then the file's
/// report. Stops early when the receiver is gone (the task was cancelled).
fn parse_group(
    files: &[SourceFile],
    s3: S3Options,
    tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let sources = Sources::with_s3_options(s3).map_err(exec_err)?;
    for f in files {
        // The file is read a batch at a time; its events go out as they are found.
        let mut report = FileReport::start(f);
        let mut failure: Option<DataFusionError> = None;
        let mut gone = false;
        let end = match sources.open(f) {
            Ok(reader) => Ok(parse_stream(reader, &mut |b| {
                report.add(&b);
                for chunk in b.events.chunks(BATCH_ROWS) {
                    match event_rows(&f.key, chunk) {
                        Ok(rows) => {
                            if tx.blocking_send(Ok(rows)).is_err() {
                                gone = true;
                                return false;
                            }
                        }
                        Err(e) => {
                            failure = Some(e);
                            return false;
                        }
                    }
                }
                true
            })),
            Err(e) => Err(e.to_string()),
        };
        if let Some(e) = failure {
            return Err(e);
        }
        if gone {
            return Ok(());
        }
        report.finish(&end);
        if tx.blocking_send(Ok(report_row(&report)?)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn event_rows(file: &str, events: &[Event]) -> Result<RecordBatch> {
    let mut b = Builder::<Event>::new();
    for ev in events {
        b.push(ev);
    }
    let mut cols = b.finish().columns().to_vec();
    cols.push(Arc::new(UInt64Array::from_iter_values(
        events.iter().map(|e| id_hash(e) as u64),
    )));
    cols.push(Arc::new(StringArray::from_iter_values(
        std::iter::repeat_n(file, events.len()),
    )));
    cols.push(new_null_array(&DataType::Utf8, events.len()));
    Ok(RecordBatch::try_new(staged_schema(), cols)?)
}

fn report_row(report: &FileReport) -> Result<RecordBatch> {
    let schema = staged_schema();
    let n = schema.fields().len();
    let mut cols: Vec<ArrayRef> = schema.fields()[..n - 3]
        .iter()
        .map(|f| new_null_array(f.data_type(), 1))
        .collect();
    cols.push(Arc::new(UInt64Array::from(vec![0u64])));
    cols.push(Arc::new(StringArray::from(vec![report.key.as_str()])));
    let json = serde_json::to_string(report).map_err(exec_err)?;
    cols.push(Arc::new(StringArray::from(vec![json])));
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Writes one slice of the hash space into the store; outputs one row: the file reports
/// it received and what it wrote, as JSON.
#[derive(Debug)]
pub struct WriteExec {
    input: Arc<dyn ExecutionPlan>,
    spec: WriteSpec,
    props: Arc<PlanProperties>,
}

impl WriteExec {
    /// A writer per partition of `input`.
    pub fn new(input: Arc<dyn ExecutionPlan>, spec: WriteSpec) -> Self {
        let n = input.output_partitioning().partition_count();
        WriteExec {
            input,
            spec,
            props: Arc::new(properties(result_schema(), n)),
        }
    }

    /// Where the node writes (for the codec).
    pub fn spec(&self) -> &WriteSpec {
        &self.spec
    }
}

impl DisplayAs for WriteExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "BacktrailWriteExec: {}", self.spec.store.display())
    }
}

/// One writer's answer.
#[derive(Debug, Serialize, Deserialize)]
struct WriterResult {
    reports: Vec<FileReport>,
    output: PartitionOutput,
}

impl ExecutionPlan for WriteExec {
    fn name(&self) -> &str {
        "BacktrailWriteExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(exec_err("BacktrailWriteExec has one child"));
        }
        Ok(Arc::new(WriteExec::new(
            children.remove(0),
            self.spec.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut input = self.input.execute(partition, ctx)?;
        let spec = self.spec.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let worker = std::thread::Builder::new()
            .name("backtrail-write".into())
            .spawn(move || -> Result<String> {
                let manifest = Manifest::load_catalog(&spec.store).map_err(exec_err)?;
                let opts = IngestOptions {
                    row_group_rows: spec.row_group_rows,
                    segment_rows: spec.segment_rows,
                    id_budget: spec.id_budget,
                    threads: 1,
                };
                let mut writer = PartitionWriter::new(&spec.store, &manifest, &opts);
                let mut reports = Vec::new();
                while let Some(batch) = rx.blocking_recv() {
                    take_batch(&batch, &mut writer, &mut reports)?;
                }
                let output = writer.finish().map_err(exec_err)?;
                serde_json::to_string(&WriterResult { reports, output }).map_err(exec_err)
            })
            .map_err(exec_err)?;
        let done = async move {
            while let Some(batch) = input.next().await {
                if tx.send(batch?).await.is_err() {
                    break;
                }
            }
            drop(tx);
            let json = tokio::task::spawn_blocking(move || worker.join())
                .await
                .map_err(exec_err)?
                .map_err(|_| exec_err("the writer thread panicked"))??;
            Ok(RecordBatch::try_new(
                result_schema(),
                vec![Arc::new(StringArray::from(vec![json]))],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            result_schema(),
            futures::stream::once(done),
        )))
    }
}

/// Splits a shuffle batch into events (stored, unless duplicates) and file reports.
fn take_batch(
    batch: &RecordBatch,
    writer: &mut PartitionWriter,
    reports: &mut Vec<FileReport>,
) -> Result<()> {
    let report = strings(batch, REPORT)?;
    let is_event: BooleanArray = (0..report.len()).map(|i| Some(report.is_null(i))).collect();
    for i in 0..report.len() {
        if report.is_valid(i) {
            let r: FileReport = serde_json::from_str(report.value(i)).map_err(exec_err)?;
            writer.add_rejects(&r).map_err(exec_err)?;
            reports.push(r);
        }
    }
    if is_event.true_count() == 0 {
        return Ok(());
    }
    let events = filter_record_batch(batch, &is_event)?;
    let files = strings(&events, FILE)?.clone();
    let event_schema = schema::<Event>();
    let cols = events.columns()[..event_schema.fields().len()].to_vec();
    let events = RecordBatch::try_new(event_schema, cols)?;
    for (i, ev) in rows::<Event>(&events).map_err(exec_err)?.iter().enumerate() {
        writer.push(files.value(i), ev).map_err(exec_err)?;
    }
    Ok(())
}

/// How an ingest is spread over the cluster.
#[derive(Debug, Clone)]
pub struct ClusterIngestOptions {
    /// Writers (shuffle partitions).
    pub writers: usize,
    /// Files per parse task.
    pub files_per_task: usize,
    /// Files per round: each round is one cluster job and one manifest commit, so a killed
    /// ingest repeats at most one round.
    pub files_per_round: usize,
    /// S3 endpoint the executors should use for `s3://` sources (e.g. a local server).
    pub s3_endpoint: Option<String>,
    /// Region the executors should sign S3 requests for.
    pub s3_region: Option<String>,
}

impl Default for ClusterIngestOptions {
    fn default() -> Self {
        ClusterIngestOptions {
            writers: 4,
            files_per_task: 64,
            files_per_round: 20_000,
            s3_endpoint: None,
            s3_region: None,
        }
    }
}

/// Ingests `discovery` into the store at `dir` (a path the executors see too) on the
/// cluster at `url`. Holds the store's writer lock throughout, like the embedded ingest.
pub fn ingest(
    url: &str,
    dir: &Path,
    discovery: backtrail_sources::Discovery,
    opts: &IngestOptions,
    cluster: &ClusterIngestOptions,
    on_round: &dyn Fn(u64, u64),
) -> Result<IngestSummary, ClusterError> {
    let scheduler = scheduler_url(url)?;
    let dir = std::path::absolute(dir).map_err(ClusterError::Runtime)?;
    let store = Store::create(&dir)?;
    let (mut run, todo) = store.begin(discovery)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ClusterError::Runtime)?;
    let mut done = 0u64;
    for round in todo.chunks(cluster.files_per_round.max(1)) {
        let groups: Vec<&[SourceFile]> = round.chunks(cluster.files_per_task.max(1)).collect();
        let parse: Arc<dyn ExecutionPlan> = Arc::new(ParseExec::new(
            file_list(&groups)?,
            ParseSpec {
                s3_endpoint: cluster.s3_endpoint.clone(),
                s3_region: cluster.s3_region.clone(),
            },
        ));
        let part = staged_schema()
            .index_of(PART)
            .map_err(|e| ClusterError::Cluster(e.to_string()))?;
        let shuffle = Arc::new(RepartitionExec::try_new(
            parse,
            Partitioning::Hash(
                vec![Arc::new(Column::new(PART, part))],
                cluster.writers.max(1),
            ),
        )?);
        let plan: Arc<dyn ExecutionPlan> = Arc::new(WriteExec::new(
            shuffle,
            WriteSpec {
                store: dir.clone(),
                row_group_rows: opts.row_group_rows,
                segment_rows: opts.segment_rows,
                id_budget: opts.id_budget,
            },
        ));
        let results = rt.block_on(run_plan(&scheduler, plan, cluster.writers.max(1)))?;
        let mut reports = Vec::new();
        let mut outputs = Vec::new();
        for json in results {
            let r: WriterResult = serde_json::from_str(&json)
                .map_err(|e| ClusterError::Cluster(format!("writer result: {e}")))?;
            reports.extend(r.reports);
            outputs.push(r.output);
        }
        if reports.len() != round.len() {
            return Err(ClusterError::Cluster(format!(
                "{} files sent but {} reported back; nothing committed for this round",
                round.len(),
                reports.len()
            )));
        }
        run.commit(reports, outputs)?;
        done += round.len() as u64;
        on_round(done, todo.len() as u64);
    }
    Ok(run.finish()?)
}

/// Runs a physical plan on the cluster and collects the writers' JSON results.
async fn run_plan(
    scheduler: &str,
    plan: Arc<dyn ExecutionPlan>,
    writers: usize,
) -> Result<Vec<String>> {
    let config = SessionConfig::new_with_ballista().with_target_partitions(writers);
    let codec = crate::codec::BacktrailCodec::default();
    let session_id = format!("backtrail-ingest-{}", std::process::id());
    let mut stream = execute_physical_plan::<PhysicalPlanNode>(
        scheduler.to_string(),
        &config.ballista_config(),
        plan,
        &codec,
        session_id,
        config,
    )
    .await?;
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let col = strings(&batch, RESULT)?;
        out.extend(col.iter().flatten().map(str::to_string));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtrail_sources::Location;

    #[test]
    fn report_rows_and_event_rows_share_the_shuffle_schema() {
        let ev = Event {
            event_id: "e-1".into(),
            event_name: "GetCallerIdentity".into(),
            event_time: 1_700_000_000_000,
            ..Event::default()
        };
        let rows = event_rows("f1", &[ev.clone(), ev]).unwrap();
        assert_eq!(rows.num_rows(), 2);
        let mut report = FileReport::start(&SourceFile {
            key: "f1".into(),
            size: 3,
            version: "v".into(),
            location: Location::Local("f1".into()),
        });
        report.finish(&Err("gone".into()));
        let r = report_row(&report).unwrap();
        assert_eq!(r.schema(), rows.schema());
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let manifest = Manifest::default();
        let mut w = PartitionWriter::new(&store.dir, &manifest, &IngestOptions::default());
        let mut reports = Vec::new();
        let both = arrow::compute::concat_batches(&rows.schema(), [&rows, &r]).unwrap();
        take_batch(&both, &mut w, &mut reports).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(reports.len(), 1);
        // The second copy of e-1 is a duplicate.
        assert_eq!(out.files["f1"], (1, 1));
        assert_eq!(out.segments.len(), 1);
        assert_eq!(out.segments[0].segment.rows, 1);
    }
}
