//! How backtrail's own plan nodes travel between client, scheduler and executors.
//!
//! Ballista serializes physical plans with a [`PhysicalExtensionCodec`]; nodes it does not
//! know must be encoded by a codec that every role has. [`BacktrailCodec`] handles the
//! ingest nodes and hands everything else to Ballista's own codec, so shuffles and the
//! other Ballista nodes keep working.

use crate::ingest::{ParseExec, ParseSpec, WriteExec, WriteSpec};
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use std::sync::Arc;

/// Marks a node encoded by backtrail (Ballista's encodings are protobuf messages, which
/// never start with these bytes).
const MAGIC: &[u8] = b"\xffbacktrail:";
const PARSE: &[u8] = b"parse:";
const WRITE: &[u8] = b"write:";

/// backtrail's nodes, then Ballista's.
#[derive(Debug, Default)]
pub struct BacktrailCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

fn bad(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("backtrail plan node: {e}"))
}

impl PhysicalExtensionCodec for BacktrailCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(body) = buf.strip_prefix(MAGIC) else {
            return self.ballista.try_decode(buf, inputs, ctx, proto_converter);
        };
        if let Some(json) = body.strip_prefix(PARSE) {
            let spec: ParseSpec = serde_json::from_slice(json).map_err(bad)?;
            let [input] = inputs else {
                return Err(bad("the parser has one input"));
            };
            Ok(Arc::new(ParseExec::new(input.clone(), spec)))
        } else if let Some(json) = body.strip_prefix(WRITE) {
            let spec: WriteSpec = serde_json::from_slice(json).map_err(bad)?;
            let [input] = inputs else {
                return Err(bad("the writer has one input"));
            };
            Ok(Arc::new(WriteExec::new(input.clone(), spec)))
        } else {
            Err(bad("unknown node"))
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(p) = node.downcast_ref::<ParseExec>() {
            buf.extend_from_slice(MAGIC);
            buf.extend_from_slice(PARSE);
            serde_json::to_writer(buf, p.spec()).map_err(bad)
        } else if let Some(w) = node.downcast_ref::<WriteExec>() {
            buf.extend_from_slice(MAGIC);
            buf.extend_from_slice(WRITE);
            serde_json::to_writer(buf, w.spec()).map_err(bad)
        } else {
            self.ballista.try_encode(node, buf, proto_converter)
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.ballista.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.ballista.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udwf(node, buf)
    }
}
