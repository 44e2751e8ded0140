//! docx2pdf: office documents in Cloud Storage to PDFs, driven by Pub/Sub.
//!
//! One concept per module, in the order a message meets them (the README's
//! code map has a line for each): [`config`] (settings), [`workspace`]
//! (temp space), [`gcloud`] (Google clients and object names), [`worker`]
//! (intake, the pipeline, the ack decision), `job` (message to job),
//! `storage` (Cloud Storage), [`office`] (the LibreOffice pool),
//! [`supervisor`] (child-process supervision, for any kind of child),
//! [`telemetry`] and [`http`] (logs, metrics, probes, push), and the other
//! commands ([`convert`], [`submit`], [`request`]). Modules the binary and
//! the integration tests do not need are private. `main.rs` only wires.

pub mod config;
pub mod convert;
pub mod gcloud;
pub mod http;
mod job;
pub mod office;
pub mod options;
pub mod outcome;
pub mod push;
pub mod request;
mod stdout;
pub mod storage;
pub mod submit;
pub mod supervisor;
pub mod telemetry;
pub mod worker;
pub mod workspace;
